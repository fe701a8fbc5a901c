"""The publish job of .github/workflows/publish.yml, run for real: its `Publish` step's script,
read from the workflow file, in bash as the runner starts it, with the variables Actions
sets, against the loopback servers and a bare origin. Also GitHub's 60-day rule (GHA-02)
and the refusal to publish from pull requests (SEC-02)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import DATA, ROOT, RunCli, Site, credentials_env, git
from tests.fakes.http import Fault

PUBLISH_YML = ROOT / ".github" / "workflows" / "publish.yml"
EVENTS = DATA / "actions"
BIN = Path(sys.executable).parent  # not resolved: the venv's bin holds `publisher`
SECRETS = ("MASTODON_BASE_URL", "MASTODON_ACCESS_TOKEN", "X_API_KEY", "X_API_SECRET",
           "X_ACCESS_TOKEN", "X_ACCESS_TOKEN_SECRET")


def publish_step() -> dict[str, Any]:
    workflow = yaml.safe_load(PUBLISH_YML.read_text(encoding="utf-8"))
    [step] = [s for s in workflow["jobs"]["publish"]["steps"] if s.get("name") == "Publish"]
    return dict(step)


def run_publish_step(site: Site, tmp_path: Path, event: str, ref: str, *,
                     secrets: dict[str, str], dry_run: str = "", now: str = "",
                     payload: dict[str, Any] | None = None,
                     extra: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run the workflow's Publish step as the runner would: `bash --noprofile --norc -eo
    pipefail` on the script, in the checkout, with the step's `env:` rendered (inputs are
    empty strings on schedule and push events, secrets are the repository's secrets)."""
    step = publish_step()
    script = tmp_path / f"step-{event}.sh"
    script.write_text(step["run"], encoding="utf-8")
    event_file = tmp_path / f"event-{event}.json"
    if payload is None:
        payload = json.loads((EVENTS / f"{event}.json").read_text(encoding="utf-8"))
    event_file.write_text(json.dumps(payload), encoding="utf-8")
    rendered = {"DRY_RUN": dry_run, "NOW": now, **{name: secrets.get(name, "")
                                                    for name in SECRETS}}
    assert set(rendered) == set(step["env"]), "the step's env changed: update this test"
    home = tmp_path / "runner-home"
    home.mkdir(exist_ok=True)
    # A clean environment: no git identity (the publisher brings its own), no credentials
    # but the step's, no terminal.
    env = {
        "PATH": f"{BIN}{os.pathsep}/usr/bin{os.pathsep}/bin",
        "HOME": str(home),
        "GIT_CONFIG_NOSYSTEM": "1",
        "LANG": "C.UTF-8",
        "CI": "true",
        "GITHUB_ACTIONS": "true",
        "GITHUB_EVENT_NAME": event,
        "GITHUB_REF": ref,
        "GITHUB_REF_NAME": ref.rsplit("/", 1)[-1],
        "GITHUB_EVENT_PATH": str(event_file),
        "GITHUB_STEP_SUMMARY": str(summary_path(tmp_path)),
        "GITHUB_WORKSPACE": str(site.root),
        "RUNNER_TEMP": str(tmp_path),
        **rendered,
        **(extra or {}),
    }
    return subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
                          cwd=site.root, env=env, capture_output=True, text=True, timeout=120)


def summary_path(tmp_path: Path) -> Path:
    return tmp_path / "step_summary.md"


def summary(tmp_path: Path) -> str:
    path = summary_path(tmp_path)
    return path.read_text(encoding="utf-8") if path.exists() else ""


def secrets_for(mastodon: Any, x: Any) -> tuple[dict[str, str], dict[str, str]]:
    """(the six repository secrets, the test-only X base URL pointing at loopback)."""
    env = credentials_env(mastodon, x)
    return {k: v for k, v in env.items() if k in SECRETS}, {"X_API_BASE_URL": env[
        "X_API_BASE_URL"]}


def iso(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def published_records(site: Site) -> list[dict[str, Any]]:
    return [r for r in (json.loads(line) for line in site.origin_log().splitlines()
                        if line.startswith("{")) if r["event"] == "published"]


def add_posts(site: Site, due: datetime, later: datetime) -> None:
    site.write("posts/due.md", f"---\ndate: {iso(due)}\nplatforms: [mastodon, x]\n---\n"
                               "Out now: the winter release.\n")
    site.write("posts/later.md", f"---\ndate: {iso(later)}\nplatforms: [mastodon]\n---\n"
                                 "Coming soon.\n")
    site.commit_all("posts")


# --- the workflow's own command publishes, with the report in the job summary ---------------


def test_schedule_event_publishes_and_writes_the_summary_with_links(
        site: Site, mastodon_server, x_server, tmp_path: Path) -> None:
    real_now = datetime.now(UTC).replace(microsecond=0)
    add_posts(site, due=real_now - timedelta(hours=1), later=real_now + timedelta(days=3))
    secrets, extra = secrets_for(mastodon_server, x_server)

    # A scheduled run: inputs are empty, so the script passes neither --dry-run nor --now.
    result = run_publish_step(site, tmp_path, "schedule", "refs/heads/main",
                              secrets=secrets, extra=extra)

    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[-1] == (
        "published 2, already published 0, not due 1, failed 0")
    assert len(mastodon_server.statuses) == 1 and len(x_server.tweets) == 1
    records = {r["platform"]: r for r in published_records(site)}
    assert set(records) == {"mastodon", "x"}
    text = summary(tmp_path)
    assert text.startswith("## publisher\n\n**published 2, already published 0, not due 1, "
                           "failed 0**\n")
    assert "### Published\n\n" in text
    assert f"- `posts/due.md` → **mastodon**: [post]({records['mastodon']['url']})\n" in text
    assert f"- `posts/due.md` → **x**: [post]({records['x']['url']})\n" in text
    assert "### Failed" not in text
    later = (real_now + timedelta(days=3)).astimezone(site_zone())
    assert (f"- Coming up:\n  - {later:%Y-%m-%d %H:%M} Europe/Berlin = "
            f"{iso(real_now + timedelta(days=3))}: `posts/later.md` → **mastodon**\n") in text
    # The log commit has the publisher's identity: the runner configured none.
    author = git(site.origin, "log", "-1", "--format=%an <%ae>", "main").strip()
    assert author == "publisher <publisher@users.noreply.github.com>"
    # Plain output for the job log: no terminal, so no progress redraws.
    assert "\x1b" not in result.stdout + result.stderr and "\r" not in result.stderr


def site_zone() -> Any:
    from zoneinfo import ZoneInfo

    return ZoneInfo("Europe/Berlin")


def test_workflow_dispatch_with_now_then_a_push_on_main_publish(
        site: Site, mastodon_server, x_server, tmp_path: Path) -> None:
    real_now = datetime.now(UTC).replace(microsecond=0)
    add_posts(site, due=real_now - timedelta(hours=2), later=real_now + timedelta(days=2))
    secrets, extra = secrets_for(mastodon_server, x_server)

    manual = run_publish_step(site, tmp_path, "workflow_dispatch", "refs/heads/main",
                              secrets=secrets, now=iso(real_now - timedelta(hours=1)),
                              dry_run="false", extra=extra)

    assert manual.returncode == 0, manual.stdout + manual.stderr
    assert [s["text"] for s in mastodon_server.statuses] == ["Out now: the winter release."]
    assert [t["text"] for t in x_server.tweets] == ["Out now: the winter release."]

    # A pull request adding a post that is already due is merged: the push event publishes
    # it at once (push events have no inputs: the real clock), and nothing twice.
    site.write("posts/merged.md", f"---\ndate: {iso(real_now - timedelta(minutes=10))}\n"
                                  "platforms: [mastodon]\n---\nJust merged.\n")
    site.commit_all("Merge pull request #7 from ann/merged-post")
    pushed = run_publish_step(site, tmp_path, "push", "refs/heads/main", secrets=secrets,
                              extra=extra)

    assert pushed.returncode == 0, pushed.stdout + pushed.stderr
    assert [s["text"] for s in mastodon_server.statuses][1:] == ["Just merged."]
    assert len(x_server.tweets) == 1
    assert pushed.stdout.splitlines()[-1] == (
        "published 1, already published 2, not due 1, failed 0")


def test_workflow_dispatch_dry_run_sends_nothing_and_says_so_in_the_summary(
        site: Site, mastodon_server, x_server, tmp_path: Path) -> None:
    add_posts(site, due=datetime(2026, 12, 5, 8, tzinfo=UTC),
              later=datetime(2026, 12, 6, 8, tzinfo=UTC))
    secrets, extra = secrets_for(mastodon_server, x_server)
    head = git(site.origin, "rev-parse", "main")

    result = run_publish_step(site, tmp_path, "workflow_dispatch", "refs/heads/main",
                              secrets=secrets, now="2026-12-05T08:30:00Z", dry_run="true",
                              extra=extra)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "  | Out now: the winter release." in result.stdout.splitlines()
    assert mastodon_server.count() == 0 and x_server.count() == 0
    assert git(site.origin, "rev-parse", "main") == head
    text = summary(tmp_path)
    assert text.startswith("## publisher: dry run, nothing was sent\n\n**dry run: would "
                           "publish 2, ")
    assert "### Would publish\n\n- `posts/due.md` → **mastodon** (due 2026-12-05 09:00 " \
           "Europe/Berlin = 2026-12-05T08:00:00Z)\n" in text


def test_failures_are_in_the_summary_with_the_reason_and_what_to_do(
        site: Site, mastodon_server, x_server, tmp_path: Path) -> None:
    add_posts(site, due=datetime(2026, 12, 5, 8, tzinfo=UTC),
              later=datetime(2026, 12, 6, 8, tzinfo=UTC))
    secrets, extra = secrets_for(mastodon_server, x_server)
    secrets["X_ACCESS_TOKEN_SECRET"] = "not-the-right-secret"  # X answers 401

    result = run_publish_step(site, tmp_path, "workflow_dispatch", "refs/heads/main",
                              secrets=secrets, now="2026-12-05T08:30:00Z", extra=extra)

    assert result.returncode == 1
    assert len(mastodon_server.statuses) == 1 and x_server.tweets == []
    failed = [line for line in result.stdout.splitlines() if line.startswith("failed ")]
    assert failed == ["failed posts/due.md -> x: Unauthorized"]
    text = summary(tmp_path)
    assert "**published 1, already published 0, not due 1, failed 1**" in text
    assert "### Failed\n\n- `posts/due.md` → **x**: failed: Unauthorized (check this " \
           "account's credentials: the secrets, or the credentials file)\n" in text
    assert "- Failed posts stay pending (except posts a platform refused for their " \
           "content: edit them): fix the cause above and the next run retries.\n" in text


# --- refusals: pull requests and other branches -----------------------------------------------


@pytest.mark.parametrize(("event", "ref"), [
    ("pull_request", "refs/pull/7/merge"),
    # pull_request_target runs on the base branch: GITHUB_REF is main, the event refuses.
    ("pull_request_target", "refs/heads/main"),
])
def test_pull_request_events_refuse_to_publish_but_dry_run_works(
        site: Site, mastodon_server, x_server, tmp_path: Path, event: str, ref: str) -> None:
    add_posts(site, due=datetime(2026, 12, 5, 8, tzinfo=UTC),
              later=datetime(2026, 12, 6, 8, tzinfo=UTC))
    secrets, extra = secrets_for(mastodon_server, x_server)
    head = git(site.origin, "rev-parse", "main")

    refused = run_publish_step(site, tmp_path, event, ref, secrets=secrets,
                               now="2026-12-05T08:30:00Z", extra=extra)

    assert refused.returncode == 1
    assert refused.stdout.splitlines() == [
        f"error: refusing to publish on a {event} event: pull requests only check and preview "
        "posts (run `publisher check` / `publisher plan` there)"]
    assert mastodon_server.count() == 0 and x_server.count() == 0
    assert git(site.origin, "rev-parse", "main") == head
    assert not (site.root / "published.jsonl").exists()
    assert summary(tmp_path).startswith("## publisher: refused to publish\n\nrefusing to "
                                        f"publish on a {event} event")

    preview = run_publish_step(site, tmp_path, event, ref, secrets={}, dry_run="true",
                               now="2026-12-05T08:30:00Z")

    assert preview.returncode == 0, preview.stdout + preview.stderr
    assert preview.stdout.splitlines()[-1].startswith("dry run: would publish 2")
    assert mastodon_server.count() == 0 and x_server.count() == 0


@pytest.mark.parametrize("event", ["workflow_dispatch", "push"])
def test_a_branch_other_than_the_default_refuses(
        site: Site, mastodon_server, x_server, tmp_path: Path, event: str) -> None:
    add_posts(site, due=datetime(2026, 12, 5, 8, tzinfo=UTC),
              later=datetime(2026, 12, 6, 8, tzinfo=UTC))
    secrets, extra = secrets_for(mastodon_server, x_server)

    result = run_publish_step(site, tmp_path, event, "refs/heads/try-a-thing",
                              secrets=secrets, now="2026-12-05T08:30:00Z", extra=extra)

    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        "error: refusing to publish from refs/heads/try-a-thing: only the default branch "
        "(main) publishes"]
    assert mastodon_server.count() == 0 and x_server.count() == 0


def test_default_branch_comes_from_the_event_not_from_a_guess(
        site: Site, mastodon_server, x_server, tmp_path: Path) -> None:
    # A repository whose default branch is `trunk`: main is just another branch there.
    add_posts(site, due=datetime(2026, 12, 5, 8, tzinfo=UTC),
              later=datetime(2026, 12, 6, 8, tzinfo=UTC))
    secrets, extra = secrets_for(mastodon_server, x_server)
    payload = json.loads((EVENTS / "push.json").read_text(encoding="utf-8"))
    payload["repository"]["default_branch"] = "trunk"

    result = run_publish_step(site, tmp_path, "push", "refs/heads/main", secrets=secrets,
                              now="2026-12-05T08:30:00Z", payload=payload, extra=extra)

    assert result.returncode == 1
    assert "only the default branch (trunk) publishes" in result.stdout
    assert mastodon_server.count() == 0


def test_outside_actions_the_github_variables_are_ignored(
        site: Site, mastodon_server, x_server, run_cli: RunCli) -> None:
    # GITHUB_EVENT_NAME alone (no GITHUB_ACTIONS=true) is not Actions: cron publishes.
    add_posts(site, due=datetime(2026, 12, 5, 8, tzinfo=UTC),
              later=datetime(2026, 12, 6, 8, tzinfo=UTC))
    env = {**credentials_env(mastodon_server, x_server), "GITHUB_EVENT_NAME": "pull_request"}
    result = run_cli("publish", "--now", "2026-12-05T08:30:00Z", env=env, cwd=site.root)
    assert result.code == 0, result.text
    assert len(mastodon_server.statuses) == 1


def test_server_errors_are_reported_as_uncertain_with_the_resolve_command(
        site: Site, mastodon_server, x_server, tmp_path: Path) -> None:
    add_posts(site, due=datetime(2026, 12, 5, 8, tzinfo=UTC),
              later=datetime(2026, 12, 6, 8, tzinfo=UTC))
    site.write("publisher.toml", site.config + "retries = 0\n")  # no real sleeping
    site.commit_all("config")
    secrets, extra = secrets_for(mastodon_server, x_server)
    # Every attempt to post on Mastodon is answered 503: did it go out?
    mastodon_server.inject(Fault("POST", r"^/api/v1/statuses$", when="before", status=503,
                                 times=20))

    result = run_publish_step(site, tmp_path, "workflow_dispatch", "refs/heads/main",
                              secrets=secrets, now="2026-12-05T08:30:00Z", extra=extra)

    assert result.returncode == 1
    text = summary(tmp_path)
    assert "- `posts/due.md` → **mastodon**: UNCERTAIN: server error 503 after sending\n" \
        in text
    assert "- Decide `posts/due.md` → **mastodon**: did it go out? Run `publisher resolve " \
           "posts/due.md --platform mastodon --as published|retry`.\n" in text


# --- GitHub's 60-day rule (GHA-02) ------------------------------------------------------------


def _gha02_site(site: Site, commit_date: str) -> list[datetime]:
    """The second scenario of GHA-02: 9 posts dated 2027-02-01 .. 2027-03-28, committed on
    `commit_date`, and nothing pushed after that."""
    scenario = (DATA / "gha02_reenabled.txt").read_text(encoding="utf-8")
    first, last = re.search(r"(\d{4}-\d\d-\d\d) \.\. (\d{4}-\d\d-\d\d)", scenario).groups()  # type: ignore[union-attr]
    assert "9 posts" in scenario
    start = datetime.fromisoformat(first)
    step = (datetime.fromisoformat(last) - start) / 8
    dates = [start + step * n for n in range(9)]
    for number, date in enumerate(dates, 1):
        site.write(f"posts/ahead-{number}.md",
                   f"---\ndate: {date:%Y-%m-%d} 09:00\nplatforms: [mastodon]\n---\n"
                   f"Scheduled post {number}.\n")
    git(site.root, "add", "-A")
    env = {**os.environ, "GIT_COMMITTER_DATE": commit_date, "GIT_AUTHOR_DATE": commit_date}
    subprocess.run(["git", "commit", "-q", "-m", "posts until March"], cwd=site.root,
                   env=env, check=True)
    git(site.root, "push", "-q")
    return dates


WARNING_GHA02 = (
    "the next scheduled post (posts/ahead-1.md, 2027-02-01) is 83 days after the last commit "
    "(2026-11-10); GitHub disables scheduled workflows in public repositories after 60 days "
    "without activity, so push a commit before 2027-01-09 or the post will not go out on "
    "time (README: \"Deploy with GitHub Actions\")")


def test_plan_warns_when_the_next_post_lies_beyond_60_days_of_inactivity(
        site: Site, run_cli: RunCli) -> None:
    _gha02_site(site, "2026-11-10T12:00:00Z")

    result = run_cli("plan", "--now", "2026-11-10T12:00:00Z", cwd=site.root)

    assert result.code == 0, result.text
    assert result.lines[-1] == f"warning: {WARNING_GHA02}"
    assert len([line for line in result.lines if "  scheduled  " in line]) == 9
    markdown = run_cli("plan", "--format", "markdown", "--now", "2026-11-10T12:00:00Z",
                       cwd=site.root)
    assert markdown.lines[-1] == f"> **Warning:** {WARNING_GHA02}"
    # JSON keeps its shape.
    as_json = run_cli("plan", "--format", "json", "--now", "2026-11-10T12:00:00Z",
                      cwd=site.root)
    assert len(json.loads(as_json.text)["posts"]) == 9


@pytest.mark.parametrize(("commit_date", "warns"), [
    # 2027-02-01 09:00 Berlin is 08:00Z: exactly 60 days after the first, one second more
    # after the second.
    ("2026-12-03T08:00:00Z", False),
    ("2026-12-03T07:59:59Z", True),
    ("2027-01-15T10:00:00Z", False),
])
def test_the_60_day_boundary(site: Site, run_cli: RunCli, commit_date: str,
                             warns: bool) -> None:
    _gha02_site(site, commit_date)
    result = run_cli("plan", "--now", commit_date, cwd=site.root)
    assert result.lines[-1].startswith("warning: the next scheduled post") is warns


def test_job_summary_warns_and_the_reenabled_run_reports_missed_posts(
        site: Site, mastodon_server, x_server, tmp_path: Path) -> None:
    _gha02_site(site, "2026-11-10T12:00:00Z")
    secrets, extra = secrets_for(mastodon_server, x_server)

    quiet = run_publish_step(site, tmp_path, "workflow_dispatch", "refs/heads/main",
                             secrets=secrets, now="2026-11-10T12:15:00Z", extra=extra)

    assert quiet.returncode == 0, quiet.stdout + quiet.stderr
    assert f"> **Warning:** {WARNING_GHA02}\n" in summary(tmp_path)

    # 2027-04-10: the owner re-enables the workflow. The first run posts nothing and says
    # which posts were missed (and how to send them anyway).
    summary_path(tmp_path).unlink()
    first = run_publish_step(site, tmp_path, "schedule", "refs/heads/main", secrets=secrets,
                             now="2027-04-10T09:07:00Z", extra=extra)

    assert first.returncode == 0, first.stdout + first.stderr
    assert mastodon_server.count("POST") == 0
    text = summary(tmp_path)
    assert "**published 0, already published 0, not due 0, failed 0, missed 9**" in text
    assert "- 9 post(s) were due more than `stale_after` ago and were not sent; send them " \
           "with `publisher publish --catch-up` or leave them:\n" in text
    assert "  - and 4 more (`publisher plan` lists them)\n" in text
    assert "- Nothing else is scheduled.\n" in text
    assert "Warning" not in text


def test_a_post_within_60_days_gives_no_warning_in_the_summary(
        site: Site, mastodon_server, x_server, tmp_path: Path) -> None:
    _gha02_site(site, "2026-12-20T12:00:00Z")
    secrets, extra = secrets_for(mastodon_server, x_server)
    result = run_publish_step(site, tmp_path, "workflow_dispatch", "refs/heads/main",
                              secrets=secrets, now="2026-12-20T12:15:00Z", extra=extra)
    assert result.returncode == 0, result.stdout + result.stderr
    text = summary(tmp_path)
    assert "Warning" not in text
    assert "  - and 4 more (`publisher plan` lists them)\n" in text
