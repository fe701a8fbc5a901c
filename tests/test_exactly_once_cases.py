"""Real-world cases of late, missed, overlapping and failing runs (../shared/cases; inputs
copied to tests/data/ named for the case): GHA-01, GHA-02, GHA-03, GHA-04, MED-01, MED-06,
COMPAT-01. The fault matrix (test_fault_matrix.py) covers each fault one by one; these
follow the cases' own stories."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from tests.conftest import CREDENTIAL_VARS, DATA, ROOT, RunCli, Site, credentials_env, git
from tests.conftest import run_process as run_proc
from tests.fakes.fixtures import MASTODON_TOKEN, serving
from tests.fakes.http import Fault
from tests.fakes.mastodon_server import NOT_PROCESSED, MastodonServer

IMAGE = ROOT / "posts" / "images" / "launch.png"
GIF = (b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04\x00\x00\x00\x00"
       b"\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;")


def _records(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def _published(site: Site) -> Counter[tuple[object, object]]:
    return Counter((r["post"], r["platform"]) for r in _records(site.origin_log())
                   if r["event"] == "published")


# --- GHA-01: late and dropped scheduled runs -----------------------------------------------------


def test_gha01_late_and_dropped_runs_catch_up_by_state_and_report_lateness(
        site: Site, mastodon_server, x_server, run_cli: RunCli) -> None:
    timeline = (DATA / "gha01_timeline.txt").read_text()
    post_times = re.findall(r"\d\d:\d\d", timeline.split("Selection rule")[0])  # 09:00 10:30 11:20
    runs = re.findall(r"^\d\d:\d\d\s+(\d\d:\d\d)\s", timeline, re.M)  # the runs that happened
    assert post_times == ["09:00", "10:30", "11:20"] and runs == ["09:58", "11:04", "13:41"]
    template = (DATA / "gha01_post.md").read_text()
    for hhmm in post_times:
        site.write(f"posts/{hhmm.replace(':', '')}.md",
                   template.replace("09:00:00Z", f"{hhmm}:00Z")
                   .replace("2026-12-05\n", f"2026-12-05 ({hhmm})\n")
                   .replace("Body.", f"Body of the {hhmm} post."))
    site.commit_all()
    env = credentials_env(mastodon_server, x_server)

    outputs = [run_cli("publish", "--now", f"2026-12-05T{hhmm}:00Z", env=env, cwd=site.root)
               for hhmm in runs]

    assert [o.code for o in outputs] == [0, 0, 0], [o.text for o in outputs]
    # Each run sends what became due since the last one, whatever the window: nothing lost.
    sent = [[line.split(" -> ")[0].removeprefix("published ") for line in o.lines
             if line.startswith("published posts/") and "-> mastodon" in line] for o in outputs]
    assert sent == [["posts/0900.md"], ["posts/1030.md"], ["posts/1120.md"]]
    assert any("posts/0900.md -> x" in line and "[late by 58m]" in line
               for line in outputs[0].lines)
    assert any("posts/1120.md -> mastodon" in line and "[late by 2h 21m]" in line
               for line in outputs[2].lines)
    assert len(mastodon_server.statuses) == 3 and len(x_server.tweets) == 3
    scheduled = {r["post"]: r["scheduled"] for r in _records(site.origin_log())
                 if r["event"] == "published"}
    assert scheduled["posts/1120.md"] == "2026-12-05T11:20:00Z"


# --- GHA-02: first install on an old blog; re-enabled after months --------------------------------


def test_gha02_first_install_with_40_old_posts_publishes_nothing_and_reports_them_missed(
        site: Site, mastodon_server, x_server, run_cli: RunCli) -> None:
    rows = [line.split(", ") for line in (DATA / "gha02_existing_posts.txt").read_text()
            .splitlines() if line and not line.startswith("#")]
    assert len(rows) == 40
    site.write("publisher.toml", 'timezone = "Europe/Berlin"\nposts_dir = "_posts"\n')
    for path, date in rows:
        site.write(path, f"---\ndate: {date}\n---\nOld post {path}.\n")
    site.copy(DATA / "gha02_published_log.txt", "published.jsonl")  # empty on first install
    site.commit_all()

    result = run_cli("publish", "--now", "2026-12-03T12:00:00Z",
                     env=credentials_env(mastodon_server, x_server), cwd=site.root)

    assert result.code == 0, result.text
    assert result.summary == "published 0, already published 0, not due 0, failed 0, missed 80"
    missed = [line for line in result.lines if line.startswith("missed (not posted): ")]
    assert len(missed) == 80
    assert "missed (not posted): _posts/2026-10-22-post-40.md -> mastodon: due 42d 4h ago, " \
           "over stale_after; use --catch-up to post it" in missed
    assert mastodon_server.count("POST") == 0 and x_server.count("POST") == 0


def test_gha02_reenabled_after_months_reports_missed_and_catch_up_is_capped_oldest_first(
        site: Site, mastodon_server, run_cli: RunCli) -> None:
    story = (DATA / "gha02_reenabled.txt").read_text()
    assert "9 posts scheduled ahead, dated 2027-02-01 .. 2027-03-28" in story
    days = ["02-01", "02-08", "02-15", "02-22", "03-01", "03-08", "03-15", "03-22", "03-28"]
    site.write("publisher.toml", 'timezone = "Europe/Berlin"\nplatforms = ["mastodon"]\n'
                                 "max_per_run = 5\n")
    for day in days:
        site.write(f"posts/2027-{day}.md", f"---\ndate: 2027-{day} 10:00\n---\nPost of {day}.\n")
    site.commit_all()
    env = credentials_env(mastodon_server)
    now = "2027-04-10T08:17:00Z"  # the re-enabled workflow's first run

    first = run_cli("publish", "--now", now, env=env, cwd=site.root)
    assert first.code == 0, first.text
    assert first.summary.endswith("missed 9") and mastodon_server.statuses == []
    # A person decides to send them after all: capped per run, oldest first.
    catch_up = run_cli("publish", "--catch-up", "--now", now, env=env, cwd=site.root)
    assert catch_up.code == 0, catch_up.text
    assert "deferred 4" in catch_up.summary
    assert [s["text"] for s in mastodon_server.statuses] == [f"Post of {d}." for d in days[:5]]
    rest = run_cli("publish", "--catch-up", "--now", now, env=env, cwd=site.root)
    assert [s["text"] for s in mastodon_server.statuses] == [f"Post of {d}." for d in days]
    assert rest.summary.startswith("published 4, already published 5")
    assert sum(_published(site).values()) == 9


# --- GHA-03: overlapping runs on two runners ---------------------------------------------------


def test_gha03_two_runners_at_once_post_once_each(
        site: Site, mastodon_server, x_server, tmp_path: Path) -> None:
    """Run A's intent push is held in the origin's pre-receive hook while run B starts from
    the same commit (as in the timeline: both read the log before either pushed). B's intent
    lands first; A's push is then refused, A rebases, sees B's claim and posts nothing."""
    assert "run B posts P to Mastodon again" in (DATA / "gha03_timeline.txt").read_text()
    site.write("posts/p.md", "---\ndate: 2026-12-05 09:00\nmedia:\n  - path: images/launch.png\n"
                             "    alt: A rocket\n---\nPost P.\n")
    site.copy(IMAGE, "posts/images/launch.png")
    site.commit_all()
    runner_b = tmp_path / "runner-b"
    subprocess.run(["git", "clone", "-q", str(site.origin), str(runner_b)], check=True)
    hook = site.origin / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\nif [ ! -e held-once ]; then touch held-once; sleep 2; fi\n")
    hook.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k not in CREDENTIAL_VARS}
    env.update(credentials_env(mastodon_server, x_server))
    argv = [sys.executable, "-m", "publisher", "publish", "--now", "2026-12-05T08:31:00Z"]

    run_a = subprocess.Popen(argv, cwd=site.root, env=env, stdout=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 20
    while not (site.origin / "held-once").exists():  # A's intent push is in the hook
        assert time.monotonic() < deadline and run_a.poll() is None
        time.sleep(0.05)
    run_b = subprocess.run(argv, cwd=runner_b, env=env, capture_output=True, text=True,
                           timeout=60)
    out_a, _ = run_a.communicate(timeout=60)

    assert run_b.returncode == 0, run_b.stdout + run_b.stderr
    assert run_a.returncode == 0, out_a
    assert "skipped posts/p.md -> mastodon: another run started publishing it" in out_a
    assert [s["text"] for s in mastodon_server.statuses] == ["Post P."]
    assert [t["text"] for t in x_server.tweets] == ["Post P."]
    assert _published(site) == {("posts/p.md", "mastodon"): 1, ("posts/p.md", "x"): 1}
    # Either runner's next run agrees that everything is done.
    again = run_proc("publish", "--now", "2026-12-05T08:40:00Z", env=env, cwd=site.root)
    assert again.returncode == 0 and again.stdout.splitlines()[-1].startswith("published 0,")
    assert len(mastodon_server.statuses) == 1 and len(x_server.tweets) == 1


# --- GHA-04: the push is refused ---------------------------------------------------------------


LAUNCH = ("---\ndate: 2026-12-05 09:00\nmedia:\n  - path: images/launch.png\n    alt: A rocket\n"
          "---\nWinter release notes are out.\n")


def _denied_hook(origin: Path, allow_first: bool) -> None:
    excerpt = (DATA / "gha04_log_excerpt.txt").read_text()
    denial = next(line.strip().removeprefix("remote: ") for line in excerpt.splitlines()
                  if "Permission to" in line)
    first = "if [ ! -e allowed-once ]; then touch allowed-once; exit 0; fi\n" if allow_first else ""
    hook = origin / "hooks" / "pre-receive"
    hook.write_text(f"#!/bin/sh\n{first}echo '{denial}' >&2\nexit 1\n")
    hook.chmod(0o755)


def test_gha04_push_denied_before_posting_posts_nothing(
        site: Site, mastodon_server, x_server, run_cli: RunCli, tmp_path: Path) -> None:
    site.write("posts/notes.md", LAUNCH)
    site.copy(IMAGE, "posts/images/launch.png")
    site.commit_all()
    env = credentials_env(mastodon_server, x_server)
    # A read-only token: fetching works, pushing does not (the preflight push --dry-run).
    git(site.root, "remote", "set-url", "--push", "origin", str(tmp_path / "no-access.git"))

    denied = run_cli("publish", "--now", "2026-12-05T08:30:00Z", env=env, cwd=site.root)

    assert denied.code == 1
    assert any(line.startswith("error: git push failed") and line.endswith(
        "nothing was posted") for line in denied.lines), denied.text
    assert mastodon_server.count("POST") == 0 and x_server.count("POST") == 0
    # An intent that cannot be pushed stops the run too (the preflight cannot see hooks).
    git(site.root, "remote", "set-url", "--push", "origin", str(site.origin))
    _denied_hook(site.origin, allow_first=False)
    refused = run_cli("publish", "--now", "2026-12-05T08:30:00Z", env=env, cwd=site.root)
    assert refused.code == 1
    assert any("recording the intent failed" in line and "nothing was posted" in line
               for line in refused.lines), refused.text
    assert mastodon_server.count("POST", "/api/v1/statuses") == 0
    assert x_server.count("POST", "/2/tweets") == 0


def test_gha04_push_failing_after_posting_keeps_results_and_next_run_does_not_repost(
        site: Site, mastodon_server, x_server, run_cli: RunCli, tmp_path: Path) -> None:
    site.write("posts/notes.md", LAUNCH)
    site.copy(IMAGE, "posts/images/launch.png")
    site.commit_all()
    env = credentials_env(mastodon_server, x_server)
    _denied_hook(site.origin, allow_first=True)  # the intent goes through, the result not

    failed = run_cli("publish", "--now", "2026-12-05T08:30:00Z", env=env, cwd=site.root)

    assert failed.code == 1
    assert any(line.startswith("published posts/notes.md -> mastodon: https://")
               for line in failed.lines), failed.text
    assert any("The results are in published.jsonl locally" in line for line in failed.lines)
    local = _records((site.root / "published.jsonl").read_text())
    assert sum(r["event"] == "published" for r in local) == 2
    # The runner is gone (Actions): the next run starts from a fresh clone of the origin,
    # which holds only the intents. It looks the posts up instead of sending them again.
    (site.origin / "hooks" / "pre-receive").unlink()
    fresh = tmp_path / "next-runner"
    subprocess.run(["git", "clone", "-q", str(site.origin), str(fresh)], check=True)
    again = run_cli("publish", "--now", "2026-12-05T09:30:00Z", env=env, cwd=fresh)
    assert again.code == 0, again.text
    assert sum("an interrupted run had already posted it" in line for line in again.lines) == 2
    assert len(mastodon_server.statuses) == 1 and len(x_server.tweets) == 1
    assert _published(site) == {("posts/notes.md", "mastodon"): 1, ("posts/notes.md", "x"): 1}


# --- MED-01: asynchronous media processing on Mastodon -----------------------------------------


def _med01_site(site: Site, media_timeout: str) -> None:
    site.write("publisher.toml", f'timezone = "Europe/Berlin"\nmedia_timeout = "{media_timeout}"\n')
    site.copy(DATA / "med01_post.md", "posts/sync-indicator.md")
    (site.root / "posts" / "media").mkdir(parents=True)
    (site.root / "posts" / "media" / "sync-indicator.gif").write_bytes(GIF)
    site.commit_all()


def test_med01_media_processing_then_not_finished_422_is_retried_with_the_same_key(
        site: Site, mastodon_server, run_cli: RunCli) -> None:
    trace = (DATA / "med01_api_trace.txt").read_text()
    assert NOT_PROCESSED in trace
    _med01_site(site, "60s")
    mastodon_server.processing_polls = 2  # 202, then 206 twice, then 200
    keys: list[str | None] = []
    serve = mastodon_server.serve

    def watch(request):  # type: ignore[no-untyped-def]
        if request.path == "/api/v1/statuses":
            keys.append(request.headers.get("Idempotency-Key"))
        return serve(request)

    mastodon_server.serve = watch  # type: ignore[method-assign]
    mastodon_server.inject(Fault("POST", "/api/v1/statuses", status=422,
                                 body={"error": NOT_PROCESSED}))

    result = run_cli("publish", "--now", "2026-12-05T12:00:00Z",
                     env=credentials_env(mastodon_server), cwd=site.root)

    assert result.code == 0, result.text
    [status] = mastodon_server.statuses
    [media_id] = status["media_ids"]
    assert mastodon_server.media[media_id].data == GIF
    assert mastodon_server.media[media_id].description.startswith("Animated screen capture")
    assert mastodon_server.count("GET", "/api/v1/media/") == 3
    assert len(keys) == 2 and keys[0] == keys[1] == status["idempotency_key"]


def test_med01_processing_beyond_the_budget_is_never_posted_text_only(
        site: Site, mastodon_server, run_cli: RunCli) -> None:
    _med01_site(site, "10s")
    mastodon_server.processing_polls = 1000
    env = credentials_env(mastodon_server)

    stuck = run_cli("publish", "--now", "2026-12-05T12:00:00Z", env=env, cwd=site.root)

    assert stuck.code == 1
    assert any(line.startswith("failed posts/sync-indicator.md -> mastodon: media ")
               and "still processing after 10s; will retry" in line for line in stuck.lines)
    assert mastodon_server.count("POST", "/api/v1/statuses") == 0  # never text-only
    # Also when the server says so only at the status: transient, not a permanent refusal.
    mastodon_server.processing_polls = 0
    mastodon_server.inject(Fault("POST", "/api/v1/statuses", status=422,
                                 body={"error": NOT_PROCESSED}, times=100))
    still = run_cli("publish", "--now", "2026-12-05T12:05:00Z", env=env, cwd=site.root)
    assert still.code == 1 and mastodon_server.statuses == []
    assert any("will retry" in line for line in still.lines), still.text
    mastodon_server.faults.clear()
    ready = run_cli("publish", "--now", "2026-12-05T12:10:00Z", env=env, cwd=site.root)
    assert ready.code == 0, ready.text
    [status] = mastodon_server.statuses
    assert len(status["media_ids"]) == 1


# --- MED-06: rate limits during a catch-up -------------------------------------------------------


def test_med06_rate_limit_stops_the_platform_keeps_the_queue_and_reports_the_reset(
        site: Site, mastodon_server, x_server, run_cli: RunCli) -> None:
    example = (DATA / "med06_publisher.example.yml").read_text()
    cap = int(re.search(r"max_posts_per_run: (\d+)", example).group(1))  # type: ignore[union-attr]
    wait = re.search(r"max_rate_limit_wait_seconds: (\d+)", example).group(1)  # type: ignore[union-attr]
    assert "429 carries x-rate-limit-reset" in (DATA / "med06_scenario.txt").read_text()
    site.write("publisher.toml", f'timezone = "UTC"\nmax_per_run = {cap}\n'
                                 f'max_rate_limit_wait = "{wait}s"\n')
    for n in range(1, cap + 2):  # one more than the cap: it waits for the next run
        site.write(f"posts/p{n}.md", f"---\ndate: 2026-12-05 0{n}:00\n---\nCatch-up post {n}.\n")
    site.commit_all()
    env = credentials_env(mastodon_server, x_server)
    # The second status hits Mastodon's limit; the reset is an hour away, beyond the budget.
    first_ok = Fault("POST", "/api/v1/statuses", status=None)
    mastodon_server.inject(first_ok)
    reset_at = mastodon_server.now() + 3600
    mastodon_server.inject_rate_limit("POST", "/api/v1/statuses", reset_in=3600)

    result = run_cli("publish", "--now", "2026-12-05T12:00:00Z", env=env, cwd=site.root)

    assert result.code == 0, result.text  # a clean exit: nothing failed, the rest waits
    limited = [line for line in result.lines if line.startswith("skipped posts/p2.md -> mastodon")]
    assert limited and "rate limited until" in limited[0], result.text
    stamp = re.search(r"until (\S+Z)", limited[0]).group(1)  # type: ignore[union-attr]
    printed = datetime.fromisoformat(stamp)
    assert abs((printed - datetime.fromtimestamp(reset_at, UTC)).total_seconds()) < 2
    assert sum(line.startswith("skipped posts/") and "-> mastodon" in line
               for line in result.lines) == cap - 1
    assert mastodon_server.count("POST", "/api/v1/statuses") == 2  # no hot retry loop
    assert len(x_server.tweets) == cap  # the other platform carried on
    assert "deferred" in result.summary
    # The next run, after the reset, posts the Mastodon queue; nothing twice anywhere.
    later = run_cli("publish", "--now", "2026-12-05T13:00:00Z", env=env, cwd=site.root)
    assert later.code == 0, later.text
    assert Counter(s["text"] for s in mastodon_server.statuses).most_common(1)[0][1] == 1
    assert len(mastodon_server.statuses) == cap + 1  # the deferred one went out too


# --- COMPAT-01: a Mastodon-compatible server that ignores Idempotency-Key ------------------------


def test_compat01_takahe_publishes_exactly_once_without_idempotency(
        site: Site, run_cli: RunCli) -> None:
    case = json.loads((DATA / "compat01_instance_v1.json").read_text())
    site.write("publisher.toml", 'timezone = "Europe/Berlin"\nplatforms = ["mastodon"]\n'
                                 "retries = 1\n")
    site.write("posts/a.md", "---\ndate: 2026-12-05 09:00\nmedia:\n  - path: images/launch.png\n"
                             "    alt: A rocket\n---\nOn Takahe.\n")
    site.write("posts/b.md", "---\ndate: 2026-12-05 09:05\n---\nSecond on Takahe.\n")
    site.copy(IMAGE, "posts/images/launch.png")
    site.commit_all()
    with serving(MastodonServer(token=MASTODON_TOKEN, takahe=True)) as takahe:
        import requests

        assert requests.get(takahe.base_url + "/api/v1/instance", timeout=5).json()[
            "version"] == case["version"]
        env = credentials_env(takahe)
        # The first status is stored but its answer is lost; the same key would not help here.
        takahe.inject(Fault("POST", "/api/v1/statuses", when="after", status=500))
        first = run_cli("publish", "--now", "2026-12-05T08:10:00Z", env=env, cwd=site.root)
        assert first.code == 0, first.text
        # A run killed after the server accepted a post, before the log.
        site.write("posts/c.md", "---\ndate: 2026-12-05 09:10\n---\nThird on Takahe.\n")
        site.commit_all()
        killed = run_proc("publish", "--now", "2026-12-05T08:20:00Z",
                          env={**env, "PUBLISHER_TEST_KILL_AT": "after_post"}, cwd=site.root)
        assert killed.returncode == -9
        after = run_proc("publish", "--now", "2026-12-05T08:20:00Z", env=env, cwd=site.root)
        assert after.returncode == 0, after.stdout + after.stderr
        texts = [s["text"] for s in takahe.statuses]
        assert sorted(texts) == ["On Takahe.", "Second on Takahe.", "Third on Takahe."]
        [with_image] = [s for s in takahe.statuses if s["text"] == "On Takahe."]
        assert len(with_image["media_ids"]) == 1
        assert takahe.count("GET", "/api/v2/instance") <= 3  # once per run; its 500 is no error
    assert sum(_published(site).values()) == 3


