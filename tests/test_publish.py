"""End to end: the real CLI, the real Mastodon.py and tweepy clients over HTTP to the loopback
servers, and a real git repository with a bare origin."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

from tests.conftest import ROOT, RunCli, Site, credentials_env, git, run_process

IMAGE = ROOT / "posts" / "images" / "launch.png"
LAUNCH = """---
date: 2026-12-05 09:00
platforms: [mastodon, x]
media:
  - path: images/launch.png
    alt: A paper rocket on a desk, ready for launch
---
We are **live**! Read the announcement at [our blog](https://example.org/launch).
"""
LAUNCH_TEXT = "We are live! Read the announcement at our blog (https://example.org/launch)."
NOW = "2026-12-05T08:30:00Z"  # 09:30 in Berlin


def _site_with_launch(site: Site) -> None:
    site.write("posts/2026-12-05-launch.md", LAUNCH)
    site.copy(IMAGE, "posts/images/launch.png")
    site.write("posts/later.md", "---\ndate: 2026-12-06 09:00\n---\nTomorrow's post.\n")
    site.write("posts/idea.md", "---\ndate: 2026-12-01 09:00\ndraft: true\n---\nA draft.\n")
    site.commit_all()


def test_publish_posts_due_with_images_and_alt_text_then_nothing(
        site: Site, mastodon_server, x_server, run_cli: RunCli) -> None:
    _site_with_launch(site)
    env = credentials_env(mastodon_server, x_server)

    first = run_cli("publish", "--now", NOW, env=env, cwd=site.root)

    assert first.code == 0, first.text
    assert first.summary == "published 2, already published 0, not due 2, failed 0, draft 2"
    # Mastodon: the text, the image bytes and the description arrived.
    [status] = mastodon_server.statuses
    assert status["text"] == LAUNCH_TEXT
    [media_id] = status["media_ids"]
    assert mastodon_server.media[media_id].data == IMAGE.read_bytes()
    alt = "A paper rocket on a desk, ready for launch"
    assert mastodon_server.media[media_id].description == alt
    assert status["idempotency_key"].startswith("publisher-")
    # X: the same, through the v2 media upload and metadata endpoints.
    [tweet] = x_server.tweets
    assert tweet["text"] == LAUNCH_TEXT
    [x_media] = tweet["media_ids"]
    assert x_server.media[x_media].data == IMAGE.read_bytes()
    assert x_server.media[x_media].alt_text == alt
    # The log is on the origin, with one published record per platform.
    records = [json.loads(line) for line in site.origin_log().splitlines()
               if line.startswith("{")]
    published = {r["platform"]: r for r in records if r["event"] == "published"}
    assert set(published) == {"mastodon", "x"}
    assert published["mastodon"]["remote_id"] == status["id"]
    assert published["x"]["remote_id"] == tweet["id"]
    assert published["x"]["url"].endswith(tweet["id"])
    assert published["mastodon"]["post"] == "posts/2026-12-05-launch.md"
    assert site.origin_commits()[0].startswith("publisher: published 2 post(s)")

    second = run_cli("publish", "--now", NOW, env=env, cwd=site.root)

    assert second.code == 0, second.text
    assert second.summary.startswith("published 0, already published 2, not due 2, failed 0")
    assert len(mastodon_server.statuses) == 1
    assert len(x_server.tweets) == 1


def test_future_post_is_published_once_its_time_comes(
        site: Site, mastodon_server, x_server, run_cli: RunCli) -> None:
    _site_with_launch(site)
    env = credentials_env(mastodon_server, x_server)
    run_cli("publish", "--now", NOW, env=env, cwd=site.root)

    later = run_cli("publish", "--now", "2026-12-06T08:00:00Z", env=env, cwd=site.root)

    assert later.code == 0, later.text
    assert [s["text"] for s in mastodon_server.statuses][-1] == "Tomorrow's post."
    assert [t["text"] for t in x_server.tweets][-1] == "Tomorrow's post."
    assert later.summary.startswith("published 2, already published 2, not due 0")


def test_renamed_published_post_is_not_published_again(
        site: Site, mastodon_server, x_server, run_cli: RunCli) -> None:
    _site_with_launch(site)
    env = credentials_env(mastodon_server, x_server)
    assert run_cli("publish", "--now", NOW, env=env, cwd=site.root).code == 0
    git(site.root, "mv", "posts/2026-12-05-launch.md", "posts/launch-renamed.md")
    git(site.root, "commit", "-q", "-m", "rename")

    again = run_cli("publish", "--now", NOW, env=env, cwd=site.root)

    assert again.code == 0, again.text
    assert len(mastodon_server.statuses) == 1
    assert len(x_server.tweets) == 1
    assert "already published 2" in again.summary


def test_missing_credentials_keep_that_platform_pending(
        site: Site, mastodon_server, x_server, run_cli: RunCli) -> None:
    _site_with_launch(site)
    env = credentials_env(mastodon_server, None)

    result = run_cli("publish", "--now", NOW, env=env, cwd=site.root)

    assert result.code == 1
    assert any(line.startswith("error: x: missing credentials: set X_API_KEY, X_API_SECRET, "
                               "X_ACCESS_TOKEN, X_ACCESS_TOKEN_SECRET") for line in result.lines)
    assert result.summary == "published 1, already published 0, not due 2, failed 1, draft 2"
    assert len(mastodon_server.statuses) == 1
    assert x_server.tweets == []
    # Next run with the credentials posts only to X.
    retry = run_cli("publish", "--now", NOW, env=credentials_env(mastodon_server, x_server),
                    cwd=site.root)
    assert retry.code == 0, retry.text
    assert len(mastodon_server.statuses) == 1
    assert len(x_server.tweets) == 1


def test_dry_run_sends_nothing_writes_nothing_and_needs_no_credentials(
        site: Site, mastodon_server, x_server, run_cli: RunCli) -> None:
    _site_with_launch(site)
    before = git(site.root, "status", "--porcelain") + git(site.root, "rev-parse", "HEAD")

    result = run_cli("publish", "--dry-run", "--now", NOW, cwd=site.root)

    assert result.code == 0, result.text
    assert "posts/2026-12-05-launch.md -> mastodon (due 2026-12-05 09:00 Europe/Berlin = " \
           "2026-12-05T08:00:00Z)" in result.lines
    assert f"  | {LAUNCH_TEXT}" in result.lines
    assert "    alt: A paper rocket on a desk, ready for launch" in result.lines
    assert result.summary.startswith("dry run: would publish 2, already published 0")
    assert mastodon_server.count() == 0 and x_server.count() == 0
    assert git(site.root, "status", "--porcelain") + git(site.root, "rev-parse", "HEAD") == before
    assert not (site.root / "published.jsonl").exists()


def test_push_rejected_because_the_remote_moved_is_rebased_and_retried(
        site: Site, mastodon_server, x_server, run_cli: RunCli, tmp_path: Path) -> None:
    _site_with_launch(site)
    # Someone else pushes a new post after our clone was made.
    other = tmp_path / "other"
    subprocess.run(["git", "clone", "-q", str(site.origin), str(other)], check=True)
    (other / "posts").mkdir(exist_ok=True)
    (other / "posts" / "theirs.md").write_text("---\ndate: 2027-03-01 10:00\n---\nTheirs.\n")
    git(other, "add", "-A")
    git(other, "commit", "-q", "-m", "their post")
    git(other, "push", "-q")

    result = run_cli("publish", "--now", NOW, env=credentials_env(mastodon_server, x_server),
                     cwd=site.root)

    assert result.code == 0, result.text
    subjects = site.origin_commits()
    assert "their post" in subjects
    assert subjects[0].startswith("publisher: published 2")
    assert '"event": "published"' in site.origin_log()


def test_outside_git_publishing_works_and_says_nothing_was_pushed(
        tmp_path: Path, mastodon_server, x_server, run_cli: RunCli) -> None:
    root = tmp_path / "plain"
    (root / "posts").mkdir(parents=True)
    (root / "publisher.toml").write_text('timezone = "UTC"\nplatforms = ["mastodon"]\n')
    (root / "posts" / "a.md").write_text("---\ndate: 2026-12-05 06:00\n---\nHello.\n")

    result = run_cli("publish", "--now", NOW, env=credentials_env(mastodon_server), cwd=root)

    assert result.code == 0, result.text
    assert "not a git repository: the log was written but nothing was committed or pushed" \
        in result.lines
    assert [s["text"] for s in mastodon_server.statuses] == ["Hello."]
    assert (root / "published.jsonl").read_text().count('"event": "published"') == 1


def test_no_push_commits_but_does_not_push(
        site: Site, mastodon_server, x_server, run_cli: RunCli) -> None:
    _site_with_launch(site)
    result = run_cli("publish", "--no-push", "--now", NOW,
                     env=credentials_env(mastodon_server, x_server), cwd=site.root)
    assert result.code == 0, result.text
    assert git(site.root, "log", "-1", "--format=%s").startswith("publisher: published 2")
    assert site.origin_log() == ""


def test_published_post_moved_to_a_later_date_is_not_published_again(
        site: Site, mastodon_server, x_server, run_cli: RunCli) -> None:
    _site_with_launch(site)
    env = credentials_env(mastodon_server, x_server)
    assert run_cli("publish", "--now", NOW, env=env, cwd=site.root).code == 0
    post = site.root / "posts/2026-12-05-launch.md"
    post.write_text(post.read_text().replace("2026-12-05 09:00", "2026-12-20 09:00"))

    check = run_cli("check", "--now", NOW, cwd=site.root)
    later = run_cli("publish", "--now", "2026-12-20T09:00:00Z", "--catch-up", env=env,
                    cwd=site.root)

    assert "posts/2026-12-05-launch.md:2: warning: mastodon: already published; this edit " \
           "will not go out (to post it again, make it a new post with a new date)" in check.lines
    assert later.code == 0, later.text
    assert len(mastodon_server.statuses) == 2  # the launch once, tomorrow's post once
    assert [t["text"] for t in x_server.tweets].count(LAUNCH_TEXT) == 1


def test_each_result_is_printed_as_it_happens_so_a_killed_run_leaves_it_in_the_log(
        site: Site, mastodon_server, x_server) -> None:
    _site_with_launch(site)
    env = {**credentials_env(mastodon_server, x_server), "PUBLISHER_TEST_KILL_AT": "after_log"}

    killed = run_process("publish", "--now", NOW, env=env, cwd=site.root)

    assert killed.returncode == -9
    [status] = mastodon_server.statuses
    assert [line for line in killed.stdout.splitlines() if line.startswith("published ")] == [
        f"published posts/2026-12-05-launch.md -> mastodon: "
        f"https://social.example/@publisher/{status['id']}",
        f"published posts/2026-12-05-launch.md -> x: "
        f"https://x.com/i/web/status/{x_server.tweets[0]['id']}"]


def test_a_rate_limited_platform_is_counted_as_skipped_in_the_summary(
        site: Site, mastodon_server, x_server, run_cli: RunCli) -> None:
    _site_with_launch(site)
    mastodon_server.inject_rate_limit("POST", "/api/v1/statuses", reset_in=3600)

    result = run_cli("publish", "--now", NOW, env=credentials_env(mastodon_server, x_server),
                     cwd=site.root)

    assert result.code == 0, result.text
    assert result.summary == ("published 1, already published 0, not due 2, failed 0, "
                              "skipped 1, draft 2")


def test_a_credentials_file_others_can_read_is_refused_even_when_nothing_is_due(
        site: Site, run_cli: RunCli, tmp_path: Path) -> None:
    creds = tmp_path / "credentials"
    creds.write_text("MASTODON_ACCESS_TOKEN=abc123\n")
    creds.chmod(0o644)

    result = run_cli("publish", "--credentials", str(creds), "--now", NOW, cwd=site.root)

    assert result.code == 2
    assert result.lines == [f"error: {creds}: readable or writable by others; run "
                            f"`chmod 600 {creds}` and try again"]


def test_a_git_lock_left_by_a_killed_run_is_removed_when_old_and_named_when_fresh(
        site: Site, mastodon_server, x_server, run_cli: RunCli) -> None:
    _site_with_launch(site)
    env = credentials_env(mastodon_server, x_server)
    lock = site.root / ".git" / "index.lock"
    lock.write_text("")

    fresh = run_cli("publish", "--now", NOW, env=env, cwd=site.root)

    assert fresh.code == 1
    assert fresh.lines == [f"error: {lock} exists: another git command is running in this "
                           "checkout, or a killed run left it; if no git command runs, remove it"]
    assert mastodon_server.statuses == []
    old = time.time() - 3600
    os.utime(lock, (old, old))

    later = run_cli("publish", "--now", NOW, env=env, cwd=site.root)

    assert later.code == 0, later.text
    assert f"removed {lock}, left by a git command that was killed 60 min ago" in later.lines
    assert len(mastodon_server.statuses) == 1 and len(x_server.tweets) == 1
