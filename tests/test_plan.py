"""`publisher plan`: the schedule in date order with each post's state, as text, as the
Markdown a pull request shows, as stable JSON, and as an iCalendar feed parsed back."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from icalendar import Calendar

from tests.conftest import DATA, ROOT, RunCli, Site, credentials_env
from tests.fakes.http import Fault

BEFORE_ALL = "2027-01-04T12:00:00Z"  # every bundled example is still ahead


def examples(root: Path) -> Path:
    """The bundled example posts and configuration, as a user's repository has them."""
    shutil.copytree(ROOT / "posts", root / "posts")
    shutil.copyfile(ROOT / "publisher.toml", root / "publisher.toml")
    return root


def test_plan_text_lists_posts_in_date_order_with_state_and_time_until(
        tmp_path: Path, run_cli: RunCli) -> None:
    root = examples(tmp_path)

    result = run_cli("plan", "--now", BEFORE_ALL, cwd=root)

    assert result.code == 0
    assert result.lines == [
        "Plan at 2027-01-04T12:00:00Z: 4 post(s)",
        "2027-01-05 09:00 Europe/Berlin = 2027-01-05T08:00:00Z  scheduled  "
        "posts/2027-01-05-launch.md",
        "  mastodon: scheduled, in 20h 0m",
        "  x: scheduled, in 20h 0m",
        "2027-01-12 17:30 Europe/Berlin = 2027-01-12T16:30:00Z  scheduled  "
        "posts/2027-01-12-office-hours.md",
        "  mastodon: scheduled, in 8d 4h",
        "2027-01-20 12:00 Europe/Berlin = 2027-01-20T11:00:00Z  scheduled  "
        "posts/2027-01-20-release-thread.md",
        "  mastodon: scheduled, in 15d 23h",
        "  x: scheduled, in 15d 23h",
        "2027-02-01 10:00 Europe/Berlin = 2027-02-01T09:00:00Z  draft  "
        "posts/2027-02-01-draft-idea.md",
        "  mastodon: draft",
        "  x: draft",
    ]


def test_plan_text_shows_due_missed_and_invalid(tmp_path: Path, run_cli: RunCli) -> None:
    root = examples(tmp_path)
    (root / "posts" / "bad.md").write_text("---\ndate: 2027-01-06 09:00\nlanguage: no\n---\nX\n")

    result = run_cli("plan", "--now", "2027-01-12T16:45:00Z", cwd=root)

    assert result.lines[1:8] == [
        "2027-01-05 09:00 Europe/Berlin = 2027-01-05T08:00:00Z  missed  "
        "posts/2027-01-05-launch.md",
        "  mastodon: missed: due 7d 8h ago, over stale_after; use --catch-up to post it",
        "  x: missed: due 7d 8h ago, over stale_after; use --catch-up to post it",
        "2027-01-06 09:00 Europe/Berlin = 2027-01-06T08:00:00Z  invalid  posts/bad.md",
        "  mastodon: invalid",
        "  x: invalid",
        '  error line 3: language: no was read as false (YAML 1.1), not text; quote it: "no"',
    ]
    assert result.lines[8:10] == [
        "2027-01-12 17:30 Europe/Berlin = 2027-01-12T16:30:00Z  due now  "
        "posts/2027-01-12-office-hours.md",
        "  mastodon: due now",
    ]


MARKDOWN_LAUNCH = [
    "#### `posts/2027-01-05-launch.md`: scheduled",
    "",
    "**When:** 2027-01-05 09:00 Europe/Berlin = 2027-01-05T08:00:00Z (in 20h 0m)",
    "",
    "**mastodon**: scheduled",
    "",
    "```text",
    "text (73/500):",
    "| We are live! Read the announcement at our blog (https://example.org/launch).",
    "image 1: posts/images/launch.png (image/png, 7.7 KB)",
    "  alt: A paper rocket on a desk, ready for launch",
    "```",
    "",
    "**x**: scheduled",
    "",
    "```text",
    "text (73/280):",
    "| We are live! Read the announcement at our blog (https://example.org/launch).",
    "image 1: posts/images/launch.png (image/png, 7.7 KB)",
    "  alt: A paper rocket on a desk, ready for launch",
    "```",
]


def test_plan_markdown_shows_changed_posts_first_then_the_schedule(
        tmp_path: Path, run_cli: RunCli) -> None:
    root = examples(tmp_path)

    result = run_cli("plan", "--format", "markdown", "--now", BEFORE_ALL, "--changed",
                     "posts/2027-01-05-launch.md", "README.md", cwd=root)

    assert result.code == 0
    lines = result.lines
    assert lines[:5] == [
        "## Posting plan",
        "",
        "Planned at 2027-01-04T12:00:00Z. In each block, the lines after `| ` are exactly the "
        "text the platform receives; the count is the platform's own, against its limit.",
        "",
        "### Posts changed in this pull request",
    ]
    assert lines[5:7] == ["", MARKDOWN_LAUNCH[0]]
    assert lines[6:6 + len(MARKDOWN_LAUNCH)] == MARKDOWN_LAUNCH
    rest = lines.index("### The rest of the upcoming schedule")
    headings = [line for line in lines[rest:] if line.startswith("#### ")]
    assert headings == ["#### `posts/2027-01-12-office-hours.md`: scheduled",
                        "#### `posts/2027-01-20-release-thread.md`: scheduled"]
    assert "content warning: Schedule change" in lines[rest:]
    assert "part 3/3, text (99/500):" in lines[rest:]
    assert not any("draft-idea" in line for line in lines)


def test_plan_markdown_without_changed_lists_upcoming_and_what_needs_attention(
        tmp_path: Path, run_cli: RunCli) -> None:
    root = examples(tmp_path)

    result = run_cli("plan", "--format", "markdown", "--now", "2027-01-10T00:00:00Z", cwd=root)

    lines = result.lines
    assert "### Upcoming" in lines
    assert "### Posts changed in this pull request" not in lines
    assert lines[-3:] == [
        "### Needs attention",
        "",
        "- `posts/2027-01-05-launch.md` (2027-01-05 09:00 Europe/Berlin = 2027-01-05T08:00:00Z):"
        " missed; mastodon: missed: due 4d 16h ago, over stale_after; use --catch-up to post it;"
        " x: missed: due 4d 16h ago, over stale_after; use --catch-up to post it",
    ]


def test_plan_markdown_fences_text_that_contains_backticks(tmp_path: Path,
                                                           run_cli: RunCli) -> None:
    root = tmp_path
    (root / "posts").mkdir()
    (root / "publisher.toml").write_text('timezone = "UTC"\nplatforms = ["mastodon"]\n')
    (root / "posts" / "code.md").write_text(
        "---\ndate: 2027-01-05 09:00\n---\nType \\`\\`\\`\\` to open a fence.\n")

    lines = run_cli("plan", "--format", "markdown", "--now", BEFORE_ALL, cwd=root).lines

    start = lines.index("`````text")
    assert lines[start:start + 4] == ["`````text", "text (26/500):",
                                      "| Type ```` to open a fence.", "`````"]


def test_plan_changed_paths_that_are_not_posts(tmp_path: Path, run_cli: RunCli) -> None:
    root = examples(tmp_path)

    lines = run_cli("plan", "--format", "markdown", "--now", BEFORE_ALL, "--changed",
                    "README.md", cwd=root).lines

    changed = lines.index("### Posts changed in this pull request")
    assert lines[changed:changed + 3] == ["### Posts changed in this pull request", "",
                                          "None of the changed files is a post."]


# --- JSON ------------------------------------------------------------------------------------


def test_plan_json_is_stable_and_complete(tmp_path: Path, run_cli: RunCli) -> None:
    root = examples(tmp_path)

    first = run_cli("plan", "--format", "json", "--now", BEFORE_ALL, cwd=root)
    second = run_cli("plan", "--format", "json", "--now", BEFORE_ALL, cwd=root)

    assert first.lines == second.lines
    data = json.loads(first.text)
    assert list(data) == ["version", "now", "timezone", "posts"]
    assert (data["version"], data["now"], data["timezone"]) == (
        1, "2027-01-04T12:00:00Z", "Europe/Berlin")
    launch = data["posts"][0]
    assert launch == {
        "path": "posts/2027-01-05-launch.md",
        "date": "2027-01-05T08:00:00Z",
        "local_date": "2027-01-05T09:00:00+01:00",
        "seconds_until": 72000,
        "state": "scheduled",
        "changed": False,
        "problems": [],
        "platforms": [
            {"account": account, "platform": account, "state": "scheduled", "note": "",
             "links": [],
             "message": {
                 "content_warning": None, "sensitive": False, "visibility": None,
                 "language": None, "poll": None,
                 "parts": [{
                     "text": "We are live! Read the announcement at our blog "
                             "(https://example.org/launch).",
                     "length": 73, "limit": limit,
                     "media": [{"path": "posts/images/launch.png",
                                "alt": "A paper rocket on a desk, ready for launch",
                                "mime": "image/png",
                                "size": (ROOT / "posts/images/launch.png").stat().st_size}],
                 }],
             }}
            for account, limit in (("mastodon", 500), ("x", 280))
        ],
    }
    assert [p["state"] for p in data["posts"]] == ["scheduled", "scheduled", "scheduled", "draft"]


def test_readme_documents_every_json_field(tmp_path: Path, run_cli: RunCli) -> None:
    root = examples(tmp_path)
    data = json.loads(run_cli("plan", "--format", "json", "--now", BEFORE_ALL, cwd=root).text)
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("### `plan --format json`", 1)[1].split("\n## ", 1)[0]

    keys: set[str] = set()

    def walk(value: object) -> None:
        if isinstance(value, dict):
            keys.update(value)
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)

    walk(data)
    walk({"poll": {"options": 0, "duration_seconds": 0, "multiple": 0, "hide_totals": 0}})
    missing = sorted(k for k in keys
                     if not re.search(rf"`(?:[\w\[\]]+\.)?{re.escape(k)}`", section))
    assert missing == []


# --- iCalendar -------------------------------------------------------------------------------


def test_plan_ics_parses_back_with_one_event_per_upcoming_post(
        tmp_path: Path, run_cli: RunCli) -> None:
    root = examples(tmp_path)
    out = tmp_path / "plan.ics"

    result = run_cli("plan", "--format", "ics", "--now", BEFORE_ALL, "-o", str(out), cwd=root)
    again = run_cli("plan", "--format", "ics", "--now", BEFORE_ALL, cwd=root)

    assert (result.code, result.lines) == (0, [])
    raw = out.read_bytes()
    assert raw.startswith(b"BEGIN:VCALENDAR\r\n") and raw.endswith(b"END:VCALENDAR\r\n")
    # stdout carries the same feed, line by line with CRLF
    assert "\n".join(again.lines).encode() + b"\n" == raw
    calendar = Calendar.from_ical(raw)
    events = calendar.walk("VEVENT")
    starts = [(str(e["SUMMARY"]), e.decoded("DTSTART").isoformat()) for e in events]
    assert starts == [
        ("We are live! Read the announcement at our …", "2027-01-05T08:00:00+00:00"),
        ("Office hours move to Tuesday evenings from next …", "2027-01-12T16:30:00+00:00"),
        ("Version 2.0 is out! Here is what changed. …", "2027-01-20T11:00:00+00:00"),
    ]
    assert all(e.decoded("DTSTART").utcoffset().total_seconds() == 0 for e in events)
    uids = [str(e["UID"]) for e in events]
    assert len(set(uids)) == 3 and all(u.endswith("@publisher") for u in uids)
    description = str(events[2]["DESCRIPTION"])
    assert description == (
        "mastodon:\nVersion 2.0 is out! Here is what changed.\n\n---\n\n"
        "Offline mode: everything you opened in the last week works without a network.\n\n---\n\n"
        "Faster search: the new index answers in a tenth of the time. Full notes at "
        "https://example.org/2.0.\n\n"
        "x:\nVersion 2.0 is out, with offline mode and a faster search. Notes at "
        "https://example.org/2.0\n\nFile: posts/2027-01-20-release-thread.md")


def test_ics_uid_is_stable_per_post_and_date(tmp_path: Path, run_cli: RunCli) -> None:
    root = examples(tmp_path)

    def uids(now: str) -> dict[str, str]:
        raw = "\n".join(run_cli("plan", "--format", "ics", "--now", now, cwd=root).lines)
        return {str(e["DTSTART"].dt): str(e["UID"])
                for e in Calendar.from_ical(raw).walk("VEVENT")}

    before = uids(BEFORE_ALL)
    later = uids("2027-01-07T00:00:00Z")  # the first post is missed; the others keep their UIDs
    post = root / "posts" / "2027-01-12-office-hours.md"
    post.write_text(post.read_text().replace("17:30:00+01:00", "18:30:00+01:00"))
    moved = uids(BEFORE_ALL)

    assert {k: v for k, v in before.items() if k in later} == later
    assert len(later) == 2
    assert set(moved.values()) & set(before.values()) == {
        before["2027-01-05 08:00:00+00:00"], before["2027-01-20 11:00:00+00:00"]}


# --- published, partly published, edits after publishing --------------------------------------

LAUNCH = (ROOT / "posts" / "2027-01-05-launch.md").read_text(encoding="utf-8")


def _site(site: Site) -> None:
    site.write("posts/launch.md", LAUNCH)
    site.copy(ROOT / "posts" / "images" / "launch.png", "posts/images/launch.png")
    site.commit_all()


def test_plan_shows_links_and_partly_published_with_the_reason(
        site: Site, mastodon_server, x_server, run_cli: RunCli) -> None:
    _site(site)
    x_server.inject(Fault("POST", "^/2/tweets$", status=403, times=5, body={
        "title": "Forbidden", "type": "about:blank", "status": 403,
        "detail": "You are not permitted to perform this action."}))
    env = credentials_env(mastodon_server, x_server)
    run = run_cli("publish", "--now", "2027-01-05T08:05:00Z", env=env, cwd=site.root)
    assert run.code == 1, run.text
    [status] = mastodon_server.statuses
    url = f"https://{mastodon_server.domain}/@publisher/{status['id']}"

    result = run_cli("plan", "--now", "2027-01-05T08:10:00Z", cwd=site.root)

    assert result.lines[1] == ("2027-01-05 09:00 Europe/Berlin = 2027-01-05T08:00:00Z  "
                               "partly published  posts/launch.md")
    assert result.lines[2] == f"  mastodon: published {url}"
    assert result.lines[3] == ("  x: due now: resuming; last attempt failed: You are not "
                               "permitted to perform this action.")
    data = json.loads(run_cli("plan", "--format", "json", "--now", "2027-01-05T08:10:00Z",
                              cwd=site.root).text)
    [post] = data["posts"]
    assert post["state"] == "partly published"
    assert [p["links"] for p in post["platforms"]] == [[url], []]


def test_check_warns_about_edits_to_published_posts_and_x_duplicates(
        site: Site, mastodon_server, x_server, run_cli: RunCli) -> None:
    _site(site)
    env = credentials_env(mastodon_server, x_server)
    assert run_cli("publish", "--now", "2027-01-05T08:05:00Z", env=env, cwd=site.root).code == 0
    site.write("posts/launch.md", LAUNCH.replace("We are **live**!", "We are live!!"))
    again = LAUNCH.replace("2027-01-05 09:00", "2027-01-09 09:00").replace(
        "We are **live**!", "We are live!!")
    site.write("posts/again.md", again)

    result = run_cli("check", "--now", "2027-01-05T09:00:00Z", cwd=site.root)

    assert result.code == 0
    assert result.lines == [
        "posts/launch.md:2: warning: mastodon: already published; this edit will not go out (to "
        "post it again, make it a new post with a new date)",
        "posts/launch.md:2: warning: x: already published; this edit will not go out (to post it "
        "again, make it a new post with a new date)",
        "posts/again.md:8: warning: x: text identical to posts/launch.md; X refuses duplicate "
        "content, so change the text for X",
        "checked 2 post(s): 0 error(s), 3 warning(s)",
    ]


def test_plan_uncertain_says_how_to_decide(site: Site, mastodon_server, run_cli: RunCli) -> None:
    site.write("publisher.toml", 'timezone = "Europe/Berlin"\nplatforms = ["mastodon"]\n')
    site.write("posts/a.md", "---\ndate: 2027-01-05 09:00\n---\nHello.\n")
    site.commit_all()
    mastodon_server.inject(Fault("POST", "statuses", when="after", drop=True, times=10))
    mastodon_server.inject(Fault("GET", "statuses", status=500, times=50))
    run_cli("publish", "--now", "2027-01-05T08:05:00Z", env=credentials_env(mastodon_server),
            cwd=site.root)

    lines = run_cli("plan", "--now", "2027-01-05T08:10:00Z", cwd=site.root).lines

    assert lines[1].endswith("  uncertain  posts/a.md")
    assert lines[2].startswith("  mastodon: uncertain: ")
    assert lines[2].endswith("; decide with `publisher resolve posts/a.md --platform mastodon "
                             "--as published|retry`")


def test_plan_json_of_a_data_post_with_a_content_warning(tmp_path: Path,
                                                         run_cli: RunCli) -> None:
    (tmp_path / "posts").mkdir()
    (tmp_path / "publisher.toml").write_text('timezone = "Europe/Berlin"\n'
                                             'platforms = ["mastodon"]\n')
    shutil.copyfile(DATA / "check" / "tt03_mastodon_498.md", tmp_path / "posts" / "tt03.md")

    data = json.loads(run_cli("plan", "--format", "json", "--now", "2026-12-01T00:00:00Z",
                              cwd=tmp_path).text)

    message = data["posts"][0]["platforms"][0]["message"]
    assert message["content_warning"] == "Long post about moderation tooling"
    assert (message["parts"][0]["length"], message["parts"][0]["limit"]) == (498, 500)


def test_plan_markdown_shows_the_text_of_a_post_held_back_by_errors(
        tmp_path: Path, run_cli: RunCli) -> None:
    root = tmp_path / "r"
    (root / "posts").mkdir(parents=True)
    (root / "publisher.toml").write_text('timezone = "UTC"\n')
    body = "too long for X " * 25
    (root / "posts" / "long.md").write_text(f"---\ndate: 2027-01-01 09:00\n---\n{body}\n")

    result = run_cli("plan", "--format", "markdown", "--now", "2026-12-01T00:00:00Z",
                     "--changed", "posts/long.md", cwd=root)

    shown = [line for line in result.lines if line.startswith("| too long for X")]
    assert shown == [f"| {body.strip()}", f"| {body.strip()}"]  # mastodon and x
    assert any("held back: nothing is posted from a file with errors" in line
               for line in result.lines)
