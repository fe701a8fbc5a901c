"""Threads end to end: the real CLI, Mastodon.py and tweepy over HTTP to the loopback servers,
which record each post's parent. The chain (ids, order, parents) is asserted exactly, through
a failure at part 3 and the resume of the next run, X refusing replies, and `thread: auto`."""

from __future__ import annotations

import json
from typing import Any

import pytest

from publisher.text import mastodon_length, twitter_text
from tests.conftest import Run, RunCli, Site, credentials_env
from tests.fakes.http import FakeServer, Fault
from tests.fakes.mastodon_server import MastodonServer
from tests.fakes.x_server import XServer

NOW = "2026-12-05T08:30:00Z"  # 09:30 in Berlin
STATUSES = r"^/api/v1/statuses$"
TWEETS = r"^/2/tweets$"


def thread_post(parts: int, platforms: str = "[mastodon, x]", extra: str = "") -> str:
    body = "\n\n---\n\n".join(f"Part {k} of the launch story." for k in range(1, parts + 1))
    return f"---\ndate: 2026-12-05 09:00\nplatforms: {platforms}\n{extra}---\n{body}\n"


def texts(parts: int) -> list[str]:
    return [f"Part {k} of the launch story." for k in range(1, parts + 1)]


def chain(posts: list[dict[str, Any]], parent_key: str) -> list[tuple[str, int | None]]:
    """Each post's text and the position of its parent among the posts (None: no parent)."""
    position = {p["id"]: i for i, p in enumerate(posts)}
    return [(p["text"], position[p[parent_key]] if p[parent_key] else None) for p in posts]


def linear(items: list[str]) -> list[tuple[str, int | None]]:
    return [(text, i - 1 if i else None) for i, text in enumerate(items)]


def published_ids(site: Site, account: str) -> dict[int, str]:
    """part -> remote id, from the log the origin holds."""
    records = [json.loads(line) for line in site.origin_log().splitlines()
               if line.startswith("{")]
    return {r["part"]: r["remote_id"] for r in records
            if r["event"] == "published" and r["account"] == account}


def log_records(site: Site) -> list[dict[str, Any]]:
    return [json.loads(line) for line in site.origin_log().splitlines() if line.startswith("{")]


def publish(run_cli: RunCli, site: Site, mastodon: object = None, x: object = None) -> Run:
    return run_cli("publish", "--now", NOW, env=credentials_env(mastodon, x), cwd=site.root)


@pytest.mark.parametrize("parts", [1, 2, 5])
def test_thread_chain_is_exact_on_both_platforms(
        parts: int, site: Site, mastodon_server: MastodonServer, x_server: XServer,
        run_cli: RunCli) -> None:
    site.write("posts/story.md", thread_post(parts))
    site.commit_all()

    result = publish(run_cli, site, mastodon_server, x_server)

    assert result.code == 0, result.text
    assert chain(mastodon_server.statuses, "in_reply_to_id") == linear(texts(parts))
    assert chain(x_server.tweets, "in_reply_to_tweet_id") == linear(texts(parts))
    assert published_ids(site, "mastodon") == {
        i: s["id"] for i, s in enumerate(mastodon_server.statuses)}
    assert published_ids(site, "x") == {i: t["id"] for i, t in enumerate(x_server.tweets)}
    keys = [s["idempotency_key"] for s in mastodon_server.statuses]
    assert len(set(keys)) == parts  # one key per part
    again = publish(run_cli, site, mastodon_server, x_server)
    assert again.code == 0 and "already published 2" in again.summary
    assert len(mastodon_server.statuses) == len(x_server.tweets) == parts


def _rate_limit_third_post(server: FakeServer, path: str) -> None:
    """The 3rd post answers 429 with a reset an hour away (over max_rate_limit_wait)."""
    response = server.too_many_requests(server.now() + 3600)
    server.inject(Fault("POST", path, status=429, body=response.body,
                        headers=response.headers, skip=2))


@pytest.mark.parametrize("platform", ["mastodon", "x"])
def test_failure_at_part_3_resumes_there_next_run_without_reposting(
        platform: str, site: Site, mastodon_server: MastodonServer, x_server: XServer,
        run_cli: RunCli) -> None:
    server: MastodonServer | XServer = mastodon_server if platform == "mastodon" else x_server
    posts = mastodon_server.statuses if platform == "mastodon" else x_server.tweets
    parent = "in_reply_to_id" if platform == "mastodon" else "in_reply_to_tweet_id"
    path = STATUSES if platform == "mastodon" else TWEETS
    site.write("posts/story.md", thread_post(5, f"[{platform}]"))
    site.commit_all()
    _rate_limit_third_post(server, path)

    first = publish(run_cli, site, mastodon_server, x_server)

    assert first.code == 0  # a rate limit pauses the platform; it is not a failure (MED-06)
    assert any(line.startswith(f"skipped posts/story.md -> {platform}: rate limited until ")
               for line in first.lines), first.text
    assert chain(posts, parent) == linear(texts(2))
    failed = [r for r in log_records(site) if r["event"] == "failed"]
    assert [(r["part"], r["kind"], r["reason"].split(" until")[0]) for r in failed] == [
        (3, "rate_limited", "not attempted: part 3 failed first"),
        (4, "rate_limited", "not attempted: part 3 failed first"),
        (2, "rate_limited", "rate limited"),
    ]
    first_two = [p["id"] for p in posts]

    second = publish(run_cli, site, mastodon_server, x_server)

    assert second.code == 0, second.text
    assert chain(posts, parent) == linear(texts(5))
    assert [p["id"] for p in posts[:2]] == first_two
    assert published_ids(site, platform) == {i: p["id"] for i, p in enumerate(posts)}
    # Parts 1 and 2 were sent once; part 3 twice (refused, then posted); 4 and 5 once.
    assert server.count("POST", path.strip("^$")) == 6


def test_lost_answer_at_part_3_is_found_not_reposted(
        site: Site, mastodon_server: MastodonServer, run_cli: RunCli) -> None:
    site.write("posts/story.md", thread_post(5, "[mastodon]"))
    site.commit_all()
    # The server stores part 3, then its answer is lost (500).
    mastodon_server.inject(Fault("POST", STATUSES, when="after", status=500, skip=2))

    result = publish(run_cli, site, mastodon_server)

    assert result.code == 0, result.text
    assert chain(mastodon_server.statuses, "in_reply_to_id") == linear(texts(5))


def test_x_refusing_a_reply_posts_the_rest_as_one_post_linking_the_first(
        site: Site, x_server: XServer, run_cli: RunCli) -> None:
    site.write("posts/story.md", thread_post(3, "[x]"))
    site.commit_all()
    x_server.replies_restricted = True

    result = publish(run_cli, site, None, x_server)

    assert result.code == 0, result.text
    first = x_server.tweets[0]
    link = f"https://x.com/i/web/status/{first['id']}"
    assert chain(x_server.tweets, "in_reply_to_tweet_id") == [
        ("Part 1 of the launch story.", None),
        (f"Part 2 of the launch story.\n\nPart 3 of the launch story.\n\n{link}", None),
    ]
    fallback = x_server.tweets[1]["id"]
    assert f"published posts/story.md -> x: {link}, https://x.com/i/web/status/{fallback} " \
           "(X refused replies: parts 2-3 went out as one post linking the first)" \
        in result.lines
    records = [(r["event"], r["part"], r.get("kind"), r.get("remote_id"))
               for r in log_records(site) if r["event"] != "intent"]
    assert records == [
        ("published", 0, None, first["id"]),
        ("failed", 1, "rejected", None),
        ("published", 1, "fallback", fallback),
        ("published", 2, "fallback", fallback),
    ]
    refusal = next(r for r in log_records(site) if r["event"] == "failed")
    assert refusal["reason"].startswith("reply refused: Reply to this conversation is not "
                                        "allowed")
    assert publish(run_cli, site, None, x_server).summary.startswith(
        "published 0, already published 1")
    assert len(x_server.tweets) == 2


def test_x_refusing_a_reply_with_stop_reports_and_posts_nothing_more(
        site: Site, x_server: XServer, run_cli: RunCli) -> None:
    site.write("publisher.toml", 'timezone = "Europe/Berlin"\nx_thread_fallback = "stop"\n')
    site.write("posts/story.md", thread_post(3, "[x]"))
    site.commit_all()
    x_server.replies_restricted = True

    result = publish(run_cli, site, None, x_server)

    assert result.code == 1
    assert [t["text"] for t in x_server.tweets] == ["Part 1 of the launch story."]
    assert "failed posts/story.md -> x: X refused part 2/3 as a reply (reply refused: Reply " \
           "to this conversation is not allowed because you have not been mentioned or " \
           "otherwise engaged by the author of the post you are replying to.); part 1 " \
           'published; the rest was not posted (x_thread_fallback = "stop"): post the rest ' \
           "by hand, then run `publisher resolve posts/story.md --platform x --as published " \
           "--rest`" \
        in result.lines
    again = publish(run_cli, site, None, x_server)
    assert len(x_server.tweets) == 1  # never out of order, never again by itself
    assert "refused earlier (edit the post to retry): posts/story.md -> x: reply refused: " \
        in again.text
    # The person posts the rest by hand and says so, as the message asked.
    undecided = run_cli("resolve", "posts/story.md", "--platform", "x", "--as", "published",
                        cwd=site.root)
    assert undecided.code == 2  # nothing uncertain: the parts were refused, not lost
    resolved = run_cli("resolve", "posts/story.md", "--platform", "x", "--as", "published",
                       "--rest", cwd=site.root)
    assert resolved.code == 0, resolved.text
    assert publish(run_cli, site, None, x_server).summary.startswith(
        "published 0, already published 1")


def test_x_fallback_that_would_not_fit_is_reported_not_posted(
        site: Site, x_server: XServer, run_cli: RunCli) -> None:
    long = "This part says a lot about the launch, " * 5
    body = "\n\n---\n\n".join([f"Part one. {long}", f"Part two. {long}", f"Part three. {long}"])
    site.write("posts/story.md", f"---\ndate: 2026-12-05 09:00\nplatforms: [x]\n---\n{body}\n")
    site.commit_all()
    x_server.replies_restricted = True

    dry = run_cli("publish", "--dry-run", "--now", NOW, cwd=site.root)
    result = publish(run_cli, site, None, x_server)

    assert "  if X refuses a reply: the remaining parts go out as one post linking part 1 " \
           "(from part 2: 437/280, too long: the thread would stop there)" in dry.lines
    assert result.code == 1
    assert len(x_server.tweets) == 1
    [line] = [line for line in result.lines if line.startswith("failed ")]
    assert "the remaining parts as one post linking the first would be 437/280 characters, " \
           "too long for X, so nothing more was posted" in line


CJK_AND_EMOJI = (
    "新しいバージョンを公開しました。検索がとても速くなり、オフラインでも使えます。" * 6
    + "\n\n"
    + "🎉🚀✨👩‍💻🇯🇵" * 40
    + "\n\n"
    + "詳しくは https://example.org/release-notes/2026/12 をご覧ください。#リリース"
)


@pytest.mark.parametrize("numbering", [False, True], ids=["plain", "numbered"])
def test_thread_auto_cjk_and_emoji_every_part_fits_as_received(
        numbering: bool, site: Site, mastodon_server: MastodonServer, x_server: XServer,
        run_cli: RunCli) -> None:
    config = 'timezone = "Europe/Berlin"\n' + ("thread_numbering = true\n" if numbering else "")
    site.write("publisher.toml", config)
    site.write("posts/long.md", "---\ndate: 2026-12-05 09:00\nthread: auto\n---\n"
               + CJK_AND_EMOJI + "\n")
    site.commit_all()

    dry = run_cli("publish", "--dry-run", "--now", NOW, cwd=site.root)
    result = publish(run_cli, site, mastodon_server, x_server)

    assert result.code == 0, result.text
    tweets = [t["text"] for t in x_server.tweets]
    assert len(tweets) >= 3
    for tweet in tweets:
        parsed = twitter_text().parse_tweet(tweet)
        assert parsed.valid and parsed.weightedLength <= 280, tweet
    assert all(mastodon_length(s["text"]).count <= 500 for s in mastodon_server.statuses)
    assert chain(x_server.tweets, "in_reply_to_tweet_id") == linear(tweets)
    statuses = [s["text"] for s in mastodon_server.statuses]
    assert chain(mastodon_server.statuses, "in_reply_to_id") == linear(statuses)
    if numbering:
        assert [t.rsplit(" ", 1)[1] for t in tweets] == [
            f"{k}/{len(tweets)}" for k in range(1, len(tweets) + 1)]
    else:
        assert "".join("".join(tweets).split()) == "".join(CJK_AND_EMOJI.split())
    assert sum("https://example.org/release-notes/2026/12" in t for t in tweets) == 1
    # What arrived is exactly what the dry run showed, part by part.
    assert previewed(dry, "x") == tweets
    assert previewed(dry, "mastodon") == statuses


def previewed(run: Run, account: str) -> list[str]:
    """The texts of each part in a dry run's preview for one account."""
    parts: list[list[str]] = []
    inside = False
    for line in run.lines:
        if " -> " in line and not line.startswith(" "):
            inside = f" -> {account} " in line
            continue
        if not inside:
            continue
        if line.startswith("  ") and "text (" in line and line.endswith(":"):
            parts.append([])
        elif line.startswith("  |") and parts:
            parts[-1].append(line[4:] if line.startswith("  | ") else "")
    return ["\n".join(p) for p in parts]
