"""Rich posts end to end: polls, content warnings, visibility, language, per-platform text and
overrides, mentions, and named accounts. The dry run's preview is asserted line by line, then
the same post is published to the loopback servers, which must receive exactly that."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import DATA, ROOT, RunCli, Site, credentials_env
from tests.fakes.fixtures import MASTODON_TOKEN, serving
from tests.fakes.mastodon_server import MastodonServer
from tests.fakes.x_server import XServer
from tests.test_threads import NOW, chain, linear, previewed

IMAGE = ROOT / "posts" / "images" / "launch.png"
HEAD = "(due 2026-12-05 09:00 Europe/Berlin = 2026-12-05T08:00:00Z)"


def block(lines: list[str], start: str) -> list[str]:
    """The preview lines of one post and account: from its head line to the next blank."""
    i = lines.index(start)
    end = i
    while end < len(lines) and lines[end] and not lines[end].startswith("dry run:"):
        end += 1
    return lines[i:end]


POLL_POST = """---
date: 2026-12-05 09:00
content_warning: Election talk
visibility: unlisted
language: de
poll:
  options: ["Ja", "Nein", "Weiß nicht"]
  duration: 2d
mastodon:
  poll: {options: ["Ja", "Nein", "Weiß nicht"], duration: 2d, multiple: true, hide_totals: true}
---
Sollen wir das *Treffen* verschieben? #Verein
"""


def test_poll_cw_visibility_language_arrive_exactly_as_previewed(
        site: Site, mastodon_server: MastodonServer, x_server: XServer, run_cli: RunCli) -> None:
    site.write("posts/poll.md", POLL_POST)
    site.commit_all()

    dry = run_cli("publish", "--dry-run", "--now", NOW, cwd=site.root)
    result = run_cli("publish", "--now", NOW, env=credentials_env(mastodon_server, x_server),
                     cwd=site.root)

    assert block(dry.lines, f"posts/poll.md -> mastodon {HEAD}") == [
        f"posts/poll.md -> mastodon {HEAD}",
        "  content warning: Election talk",
        "  visibility: unlisted",
        "  language: de",
        "  text (56/500):",
        "  | Sollen wir das Treffen verschieben? #Verein",
        "  poll (2d, several choices, totals hidden until it ends): Ja / Nein / Weiß nicht",
    ]
    assert block(dry.lines, f"posts/poll.md -> x {HEAD}") == [
        f"posts/poll.md -> x {HEAD}",
        "  text (62/280):",
        "  | CW: Election talk",
        "  |",
        "  | Sollen wir das Treffen verschieben? #Verein",
        "  poll (2d): Ja / Nein / Weiß nicht",
    ]
    assert "posts/poll.md:4: warning: x: visibility unlisted does not exist on X: the post " \
           "is public there" in dry.lines
    assert result.code == 0, result.text
    [status] = mastodon_server.statuses
    assert status["text"] == "Sollen wir das Treffen verschieben? #Verein"
    assert (status["spoiler_text"], status["visibility"], status["language"]) == (
        "Election talk", "unlisted", "de")
    assert {k: v for k, v in status["poll"].items() if k != "id"} == {
        "options": ["Ja", "Nein", "Weiß nicht"], "expires_in": 172800, "multiple": True,
        "hide_totals": True}
    [tweet] = x_server.tweets
    assert tweet["text"] == "CW: Election talk\n\nSollen wir das Treffen verschieben? #Verein"
    assert tweet["poll"] == {"options": ["Ja", "Nein", "Weiß nicht"], "duration_minutes": 2880}
    assert previewed(dry, "mastodon") == [status["text"]]
    assert previewed(dry, "x") == [tweet["text"]]


def test_content_warning_goes_on_every_part_of_a_mastodon_thread(
        site: Site, mastodon_server: MastodonServer, run_cli: RunCli) -> None:
    site.write("posts/t.md", "---\ndate: 2026-12-05 09:00\nplatforms: [mastodon]\n"
               "content_warning: Spoilers for episode 3\nsensitive: true\n---\n"
               "The twist is coming.\n\n---\n\n![The villain](v.png)\n\nIt was the gardener.\n")
    site.copy(IMAGE, "posts/v.png")
    site.commit_all()

    dry = run_cli("publish", "--dry-run", "--now", NOW, cwd=site.root)
    result = run_cli("publish", "--now", NOW, env=credentials_env(mastodon_server),
                     cwd=site.root)

    assert block(dry.lines, f"posts/t.md -> mastodon {HEAD}") == [
        f"posts/t.md -> mastodon {HEAD}",
        "  content warning (on every part): Spoilers for episode 3",
        "  media marked sensitive",
        "  thread of 2 parts, each replying to the one before",
        "  part 1/2, text (42/500):",
        "  | The twist is coming.",
        "  part 2/2, text (42/500):",
        "  | It was the gardener.",
        "  image 1: posts/v.png (image/png, 7.7 KB)",
        "    alt: The villain",
    ]
    assert result.code == 0, result.text
    statuses = mastodon_server.statuses
    assert chain(statuses, "in_reply_to_id") == linear(["The twist is coming.",
                                                        "It was the gardener."])
    assert [s["spoiler_text"] for s in statuses] == ["Spoilers for episode 3"] * 2
    assert [len(s["media_ids"]) for s in statuses] == [0, 1]
    assert statuses[1]["sensitive"] is True
    [media_id] = statuses[1]["media_ids"]
    assert mastodon_server.media[media_id].description == "The villain"


OVERRIDES = """---
date: 2026-12-05 09:00
content_warning: Flashing images
media:
  - path: launch.png
    alt: A paper rocket on a desk
x:
  text: "Launch day! Thanks @ann@social.example, details: https://example.org/launch"
  media: []
  content_warning: null
---
Launch day! Thanks @ann@social.example and @bob@other.example. **#Launch** #OpenSource
"""


def test_per_platform_text_media_and_cw_with_mentions_kept_or_mapped(
        site: Site, mastodon_server: MastodonServer, x_server: XServer, run_cli: RunCli) -> None:
    site.write("publisher.toml", 'timezone = "Europe/Berlin"\n\n[mentions]\n'
               '"@ann@social.example" = {x = "@ann_x"}\n')
    site.write("posts/o.md", OVERRIDES)
    site.copy(IMAGE, "posts/launch.png")
    site.commit_all()

    dry = run_cli("publish", "--dry-run", "--now", NOW, cwd=site.root)
    result = run_cli("publish", "--now", NOW, env=credentials_env(mastodon_server, x_server),
                     cwd=site.root)

    assert result.code == 0, result.text
    [status] = mastodon_server.statuses
    assert status["text"] == ("Launch day! Thanks @ann@social.example and @bob@other.example. "
                              "#Launch #OpenSource")
    assert status["spoiler_text"] == "Flashing images"
    assert len(status["media_ids"]) == 1
    [tweet] = x_server.tweets
    assert tweet["text"] == "Launch day! Thanks @ann_x, details: https://example.org/launch"
    assert tweet["media_ids"] == []
    assert previewed(dry, "mastodon") == [status["text"]]
    assert previewed(dry, "x") == [tweet["text"]]
    assert block(dry.lines, f"posts/o.md -> x {HEAD}") == [
        f"posts/o.md -> x {HEAD}",
        "  text (59/280):",
        "  | Launch day! Thanks @ann_x, details: https://example.org/launch",
    ]


def test_named_accounts_on_one_server_and_on_two(
        site: Site, mastodon_server: MastodonServer, run_cli: RunCli) -> None:
    news_id = mastodon_server.add_account("news-token-1234", "news")
    site.write("publisher.toml", 'timezone = "Europe/Berlin"\n\n'
               '[accounts.news]\nplatform = "mastodon"\nbase_url_env = "NEWS_BASE_URL"\n'
               'access_token_env = "NEWS_TOKEN"\n\n'
               '[accounts.eu]\nplatform = "mastodon"\nbase_url_env = "EU_BASE_URL"\n'
               'access_token_env = "EU_TOKEN"\n')
    site.write("posts/a.md", "---\ndate: 2026-12-05 09:00\nplatforms: [mastodon, news, eu]\n"
               "news:\n  text: From the newsroom.\n  visibility: unlisted\n---\nHello.\n")
    site.commit_all()

    dry = run_cli("publish", "--dry-run", "--now", NOW, cwd=site.root)
    assert block(dry.lines, f"posts/a.md -> news (mastodon) {HEAD}") == [
        f"posts/a.md -> news (mastodon) {HEAD}",
        "  visibility: unlisted",
        "  text (18/500):",
        "  | From the newsroom.",
    ]
    with serving(MastodonServer(token="eu-token-5678", domain="eu.example")) as eu:
        env = {**credentials_env(mastodon_server), "NEWS_BASE_URL": mastodon_server.base_url,
               "NEWS_TOKEN": "news-token-1234", "EU_BASE_URL": eu.base_url,
               "EU_TOKEN": "eu-token-5678"}
        result = run_cli("publish", "--now", NOW, env=env, cwd=site.root)

        assert result.code == 0, result.text
        assert [(s["account_id"], s["text"], s["visibility"])
                for s in mastodon_server.statuses] == [
            (mastodon_server.account_id, "Hello.", "public"),
            (news_id, "From the newsroom.", "unlisted"),
        ]
        assert [s["text"] for s in eu.statuses] == ["Hello."]
    assert "news-token-1234" not in result.text
    lines = [line for line in result.lines if line.startswith("published posts/a.md")]
    assert [line.split(":")[0] for line in lines] == [
        "published posts/a.md -> eu", "published posts/a.md -> mastodon",
        "published posts/a.md -> news"]


def test_named_account_without_its_variables_stays_pending(
        site: Site, mastodon_server: MastodonServer, run_cli: RunCli) -> None:
    site.write("publisher.toml", 'timezone = "Europe/Berlin"\n\n[accounts.news]\n'
               'platform = "mastodon"\nbase_url_env = "NEWS_BASE_URL"\n'
               'access_token_env = "NEWS_TOKEN"\n')
    site.write("posts/a.md", "---\ndate: 2026-12-05 09:00\nplatforms: [news]\n---\nHello.\n")
    site.commit_all()

    result = run_cli("publish", "--now", NOW, env=credentials_env(mastodon_server),
                     cwd=site.root)

    assert result.code == 1
    assert "error: news: missing credentials: set NEWS_BASE_URL, NEWS_TOKEN in the " \
           "environment or the credentials file; its posts stay pending" in result.lines
    assert mastodon_server.statuses == []


def test_tt03_content_warning_counts_and_the_instance_accepts_498(
        site: Site, mastodon_server: MastodonServer, x_server: XServer, run_cli: RunCli) -> None:
    """TT-03: CW (34) + text counts 498 on Mastodon (raw 623): previewed, checked and accepted."""
    site.write("posts/tt03.md", (DATA / "rich" / "tt03_cw_counted_post.md").read_text())
    site.commit_all()

    now = "2026-12-05T09:30:00Z"
    check = run_cli("check", "--now", now, cwd=site.root)
    dry = run_cli("publish", "--dry-run", "--now", now, cwd=site.root)
    result = run_cli("publish", "--now", now, env=credentials_env(mastodon_server, x_server),
                     cwd=site.root)

    assert check.code == 0, check.text
    assert "  text (498/500):" in dry.lines
    assert result.code == 0, result.text
    [status] = mastodon_server.statuses
    assert status["spoiler_text"] == "Long post about moderation tooling"
    assert len(status["text"]) + len(status["spoiler_text"]) == 623
    [tweet] = x_server.tweets
    assert tweet["text"] == ("CW: Long post about moderation tooling\n\nA longer write-up of "
                             "what we learned running the moderation queue.")


def test_instance_limits_refuse_before_anything_is_sent(
        site: Site, run_cli: RunCli) -> None:
    """`check` used the configured 500; the instance says 100: nothing half-posted."""
    with serving(MastodonServer(token=MASTODON_TOKEN, max_characters=100)) as small:
        site.write("posts/t.md", "---\ndate: 2026-12-05 09:00\nplatforms: [mastodon]\n---\n"
                   "Short first part.\n\n---\n\n" + "A long second part. " * 10 + "\n")
        site.commit_all()

        result = run_cli("publish", "--now", NOW, env=credentials_env(small), cwd=site.root)

        assert result.code == 1
        assert small.statuses == []
        assert "failed posts/t.md -> mastodon: the server's limits refuse it: part 2: text is " \
               "199 characters, over the 100 mastodon allows; shorten it, add a `mastodon: " \
               "{text: ...}` override, or split it into a thread with a line `---`; nothing " \
               "was sent" in result.lines


README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_readme_front_matter_table_has_every_rich_field_with_an_example() -> None:
    table = README[README.index("| field | meaning | example |"):]
    table = table[:table.index("\n\n")]
    rows = {row.split("|")[1].strip(): row.split("|")[3].strip()
            for row in table.splitlines()[2:]}
    for field in ("platforms", "media", "thread", "poll", "content_warning", "sensitive",
                  "visibility", "language", "social"):
        [example] = [ex for name, ex in rows.items() if f"`{field}`" in name]
        assert example.startswith(f"`{field}: "), field
    assert rows["`mastodon`, `x`, or an account name"].startswith("`x: {text:")


def test_readme_thread_example_arrives_as_the_readme_says(
        site: Site, mastodon_server: MastodonServer, x_server: XServer, run_cli: RunCli) -> None:
    start = README.index("```markdown\n", README.index("A thread with a poll")) + 12
    site.write("posts/finale.md", README[start:README.index("```\n", start)])
    site.copy(IMAGE, "posts/finale.png")
    site.commit_all()
    now = "2026-12-10T17:30:00Z"

    dry = run_cli("publish", "--dry-run", "--now", now, cwd=site.root)
    result = run_cli("publish", "--now", now, env=credentials_env(mastodon_server, x_server),
                     cwd=site.root)

    assert result.code == 0, result.text
    statuses = mastodon_server.statuses
    assert chain(statuses, "in_reply_to_id") == linear([
        "The finale is out. What did you think?", "My take: the last scene was earned."])
    assert [s["spoiler_text"] for s in statuses] == ["Season finale spoilers"] * 2
    assert statuses[0]["poll"]["options"] == ["Loved it", "Hated it"]
    assert (statuses[0]["media_ids"], len(statuses[1]["media_ids"])) == ([], 1)
    [tweet] = x_server.tweets
    assert (tweet["text"], tweet["poll"]) == (
        "Did you watch the finale?", {"options": ["Loved it", "Hated it"],
                                      "duration_minutes": 1440})
    assert previewed(dry, "mastodon") == [s["text"] for s in statuses]
    assert previewed(dry, "x") == [tweet["text"]]


def test_thread_false_keeps_one_post_and_thread_auto_can_be_per_platform(
        tmp_path: Path, run_cli: RunCli) -> None:
    (tmp_path / "posts").mkdir()
    (tmp_path / "publisher.toml").write_text('timezone = "Europe/Berlin"\n')
    long = "A sentence that goes on for a while. " * 10
    (tmp_path / "posts" / "p.md").write_text(
        "---\ndate: 2026-12-05 09:00\nthread: false\nx: {thread: auto}\n---\n"
        f"Intro.\n\n---\n\n{long.strip()}\n")

    dry = run_cli("publish", "--dry-run", "--now", NOW, cwd=tmp_path)

    assert previewed(dry, "mastodon") == [f"Intro.\n\n{long.strip()}"]
    assert previewed(dry, "x") == [
        "Intro.", ("A sentence that goes on for a while. " * 7).strip(),
        ("A sentence that goes on for a while. " * 3).strip()]
