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
                     catch_up: str = "", payload: dict[str, Any] | None = None,
                     extra: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run the workflow's Publish step as the runner would: `bash --noprofile --norc -eo
    pipefail` on the script, in the checkout, with the step's `env:` rendered (inputs are
    empty strings on schedule and push events, secrets are the repository's secrets)."""
    step = publish_step()
    rendered = {"DRY_RUN": dry_run, "NOW": now, "CATCH_UP": catch_up,
                **{name: secrets.get(name, "") for name in SECRETS}}
    assert set(rendered) == set(step["env"]), "the step's env changed: update this test"
    return run_script(step["run"], site.root, tmp_path, event, ref,
                      {**rendered, **(extra or {})}, payload=payload)


def run_script(script_text: str, cwd: Path, tmp_path: Path, event: str, ref: str,
               step_env: dict[str, str], *, payload: dict[str, Any] | None = None,
               ) -> subprocess.CompletedProcess[str]:
    """Run a `run:` script in bash as the runner starts it (`bash --noprofile --norc -eo
    pipefail`), in `cwd`, with the variables Actions sets for `event` on `ref`, plus the
    step's rendered `env:`."""
    script = tmp_path / f"step-{event}.sh"
    script.write_text(script_text, encoding="utf-8")
    event_file = tmp_path / f"event-{event}.json"
    if payload is None:
        payload = json.loads((EVENTS / f"{event}.json").read_text(encoding="utf-8"))
    event_file.write_text(json.dumps(payload), encoding="utf-8")
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
        "GITHUB_WORKSPACE": str(cwd),
        "RUNNER_TEMP": str(tmp_path),
        **step_env,
    }
    return subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


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
           "with a manual run (Actions tab → publish → **Run workflow** with `catch_up` " \
           "ticked, or `publisher publish --catch-up` elsewhere) or leave them:\n" in text
    assert "  - and 4 more (`publisher plan` lists them)\n" in text
    assert "- Nothing else is scheduled.\n" in text
    assert "Warning" not in text
    # The job log says it too, just before the summary line.
    assert first.stdout.splitlines()[-2:] == [
        "note: 9 missed post(s) were not sent; to send them, run this workflow by hand with "
        "catch_up ticked (Actions tab -> publish -> Run workflow)",
        "published 0, already published 0, not due 0, failed 0, missed 9"]

    # The owner does so: a manual run with catch_up ticked sends them, oldest first.
    summary_path(tmp_path).unlink()
    caught_up = run_publish_step(site, tmp_path, "workflow_dispatch", "refs/heads/main",
                                 secrets=secrets, now="2027-04-10T09:30:00Z", catch_up="true",
                                 extra=extra)

    assert caught_up.returncode == 0, caught_up.stdout + caught_up.stderr
    assert [s["text"] for s in mastodon_server.statuses] == [
        f"Scheduled post {n}." for n in range(1, 10)]
    assert caught_up.stdout.splitlines()[-1] == (
        "published 9, already published 0, not due 0, failed 0")
    assert "note:" not in caught_up.stdout
    assert "**published 9, already published 0, not due 0, failed 0**" in summary(tmp_path)
    assert len(published_records(site)) == 9


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


# --- the composite action (action.yml), its scripts run for real -------------------------------

ACTION_YML = ROOT / "action.yml"
CHECK_YML = ROOT / ".github" / "workflows" / "check.yml"
INPUT = re.compile(r"^\$\{\{ inputs\.([\w-]+) \}\}$")


def run_action(cwd: Path, tmp_path: Path, event: str = "workflow_dispatch",
               ref: str = "refs/heads/main", *, extra: dict[str, str] | None = None,
               **given: str) -> subprocess.CompletedProcess[str]:
    """Run the action's own scripts in order, as a composite action runs them: the inputs
    (`given`, with `_` for `-`) over the defaults action.yml declares, rendered into each
    step's `env:`. Setting up Python is the runner's; the install step is replaced by a
    link to the publisher of this test run at the path the action runs it from."""
    action = yaml.safe_load(ACTION_YML.read_text(encoding="utf-8"))
    inputs = {name: str(spec.get("default", "")) for name, spec in action["inputs"].items()}
    for name, value in given.items():
        assert name.replace("_", "-") in inputs, f"action.yml has no input {name}"
        inputs[name.replace("_", "-")] = value
    venv_bin = tmp_path / "publisher-venv" / "bin"
    venv_bin.mkdir(parents=True, exist_ok=True)
    if not (venv_bin / "publisher").exists():
        (venv_bin / "publisher").symlink_to(BIN / "publisher")
    steps = [s for s in action["runs"]["steps"] if "run" in s]
    assert [s["name"] for s in steps] == [
        "Check the inputs", "Install the publisher", "Run publisher ${{ inputs.command }}"]
    result = None
    for step in (steps[0], steps[2]):
        env = {}
        for name, value in step["env"].items():
            match = INPUT.match(value)
            assert match, f"{name}: {value} is not an input"
            env[name] = inputs[match.group(1)]
        result = run_script(step["run"], cwd, tmp_path, event, ref, {**env, **(extra or {})})
        if result.returncode != 0:
            break
    assert result is not None
    return result


def content_site(site: Site, due: datetime, later: datetime) -> None:
    """Posts in `content/`, not in the default `posts/`, which does not exist."""
    site.write("content/due.md", f"---\ndate: {iso(due)}\nplatforms: [mastodon]\n---\n"
                                 "Out now: the winter release.\n")
    site.write("content/later.md", f"---\ndate: {iso(later)}\nplatforms: [mastodon]\n---\n"
                                   "Coming soon.\n")
    site.commit_all("posts in content/")


def test_the_common_options_work_before_and_after_the_command(
        site: Site, run_cli: RunCli) -> None:
    content_site(site, due=datetime(2026, 12, 5, 8, tzinfo=UTC),
                 later=datetime(2026, 12, 6, 8, tzinfo=UTC))
    now = ("--now", "2026-12-05T08:30:00Z")
    default = run_cli("plan", *now, cwd=site.root)
    assert default.code == 2 and "the posts folder 'posts' does not exist" in default.text

    before = run_cli("--posts-dir", "content", "plan", *now, cwd=site.root)
    after = run_cli("plan", "--posts-dir", "content", *now, cwd=site.root)
    # After the command wins over before it; -C after the command works too (run_cli puts
    # its own -C first, which the second one here overrides).
    both = run_cli("--posts-dir", "posts", "plan", "--posts-dir", "content",
                   "-C", str(site.root), *now, cwd=site.root / "content")

    assert before.code == 0, before.text
    assert before.lines == after.lines == both.lines
    assert any("content/due.md" in line for line in before.lines)


def test_action_with_posts_dir_runs_publish_dry_run_check_and_plan(
        site: Site, mastodon_server, tmp_path: Path) -> None:
    # The action has no `now` input: the real clock decides.
    due = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=1)
    content_site(site, due=due, later=datetime(2099, 12, 6, 8, tzinfo=UTC))

    dry = run_action(site.root, tmp_path, command="publish", posts_dir="content",
                     dry_run="true")

    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert f"content/due.md -> mastodon (due {due.astimezone(site_zone()):%Y-%m-%d %H:%M} " \
           f"Europe/Berlin = {iso(due)}) [late by 1h" in dry.stdout
    assert "  | Out now: the winter release." in dry.stdout.splitlines()
    assert mastodon_server.count() == 0

    check = run_action(site.root, tmp_path, command="check", posts_dir="content")

    assert check.returncode == 0, check.stdout + check.stderr
    assert check.stdout.splitlines()[-1] == "checked 2 post(s): 0 error(s), 0 warning(s)"

    summary_path(tmp_path).unlink()
    plan = run_action(site.root, tmp_path, command="plan", posts_dir="content")

    assert plan.returncode == 0, plan.stdout + plan.stderr
    text = summary(tmp_path)
    assert text == plan.stdout  # tee'd to the log and the job summary
    assert text.startswith("## Posting plan\n")
    assert "### Upcoming" in text and "content/later.md" in text
    assert "### Posts changed in this pull request" not in text  # not a pull request


def test_action_with_a_bad_posts_dir_fails_with_the_publishers_error(
        site: Site, tmp_path: Path) -> None:
    content_site(site, due=datetime(2026, 12, 5, 8, tzinfo=UTC),
                 later=datetime(2026, 12, 6, 8, tzinfo=UTC))
    result = run_action(site.root, tmp_path, command="check", posts_dir="contents")
    assert result.returncode == 2
    assert result.stdout.splitlines() == [
        f"error: the posts folder 'contents' does not exist in {site.root}: create it or set "
        "posts_dir in publisher.toml"]


def test_action_catch_up_sends_missed_posts(
        site: Site, mastodon_server, tmp_path: Path) -> None:
    # Due three days ago by the real clock (the action has no `now` input): over the
    # default stale_after of a day.
    content_site(site, due=datetime.now(UTC) - timedelta(days=3),
                 later=datetime(2099, 12, 6, 8, tzinfo=UTC))
    env = credentials_env(mastodon_server)

    missed = run_action(site.root, tmp_path, command="publish", posts_dir="content",
                        extra=env)

    assert missed.returncode == 0, missed.stdout + missed.stderr
    assert mastodon_server.count("POST") == 0
    assert missed.stdout.splitlines()[-2].startswith("note: 1 missed post(s) were not sent")

    caught_up = run_action(site.root, tmp_path, command="publish", posts_dir="content",
                           catch_up="true", extra=env)

    assert caught_up.returncode == 0, caught_up.stdout + caught_up.stderr
    assert [s["text"] for s in mastodon_server.statuses] == ["Out now: the winter release."]
    assert len(published_records(site)) == 1


@pytest.mark.parametrize(("name", "value"), [("command", "deploy"), ("dry_run", "yes"),
                                              ("catch_up", "1")])
def test_action_refuses_a_bad_input(site: Site, tmp_path: Path, name: str,
                                    value: str) -> None:
    result = run_action(site.root, tmp_path, **{name: value})
    assert result.returncode == 1
    [line] = result.stdout.splitlines()
    assert line.startswith(f"::error title=publisher::input '{name.replace('_', '-')}' must be ")


# --- the posts a pull request changes come first, in check.yml and in the action ---------------


def pull_request_merge(site: Site, posts_dir: str) -> None:
    """HEAD becomes what actions/checkout gives a pull request: GitHub's merge of the pull
    request's branch into main, whose first parent is the base tip. The pull request adds a
    post, edits one, deletes one, and touches Markdown that is not a post, among it a file
    whose name looks like an option."""
    for name, day in (("old", 6), ("edited", 7), ("gone", 8)):
        site.write(f"{posts_dir}/{name}.md", f"---\ndate: 2099-12-0{day} 09:00\n"
                                             f"platforms: [mastodon]\n---\nPost {name}.\n")
    site.commit_all("posts")
    git(site.root, "checkout", "-q", "-b", "launch-post")
    site.write(f"{posts_dir}/new post.md", "---\ndate: 2099-12-09 09:00\n"
                                           "platforms: [mastodon]\n---\nPost new.\n")
    site.write(f"{posts_dir}/edited.md", "---\ndate: 2099-12-07 09:00\n"
                                         "platforms: [mastodon]\n---\nPost edited, again.\n")
    (site.root / posts_dir / "gone.md").unlink()
    site.write("README.md", "posts, and how to write them\n")
    site.write("--output=notes.md", "not a post\n")
    git(site.root, "add", "-A")
    git(site.root, "commit", "-q", "-m", "launch post")
    git(site.root, "checkout", "-q", "main")
    site.write("other.txt", "main moved on\n")  # so the merge is a real merge commit
    git(site.root, "add", "-A")
    git(site.root, "commit", "-q", "-m", "meanwhile on main")
    git(site.root, "merge", "-q", "--no-ff", "-m", "Merge launch-post into main", "launch-post")


def changed_section(text: str) -> list[str]:
    """The post headings under 'Posts changed in this pull request', in order."""
    start = text.index("### Posts changed in this pull request")
    end = text.index("### The rest of the upcoming schedule")
    return re.findall(r"^#### .*$", text[start:end], re.MULTILINE)


def check_preview_step() -> dict[str, Any]:
    workflow = yaml.safe_load(CHECK_YML.read_text(encoding="utf-8"))
    [step] = [s for s in workflow["jobs"]["check"]["steps"]
              if s.get("name") == "Preview the schedule in the job summary"]
    return dict(step)


def test_check_yml_lists_changed_posts_first_wherever_posts_dir_points(
        site: Site, tmp_path: Path) -> None:
    site.write("publisher.toml", site.config + 'posts_dir = "news"\n')
    pull_request_merge(site, "news")
    step = check_preview_step()
    assert "env" not in step

    result = run_script(step["run"], site.root, tmp_path, "pull_request", "refs/pull/7/merge",
                        {})

    assert result.returncode == 0, result.stdout + result.stderr
    text = summary(tmp_path)
    headings = changed_section(text)
    assert len(headings) == 2, text
    assert "news/edited.md" in headings[0] and "news/new post.md" in headings[1]
    rest = text[text.index("### The rest of the upcoming schedule"):]
    assert "news/old.md" in rest and "gone.md" not in text
    # The file named like an option was passed as a path, not read as `--output`.
    assert (site.root / "--output=notes.md").read_text(encoding="utf-8") == "not a post\n"


def test_action_plan_on_a_pull_request_lists_changed_posts_first(
        site: Site, tmp_path: Path) -> None:
    pull_request_merge(site, "content")

    result = run_action(site.root, tmp_path, "pull_request", "refs/pull/7/merge",
                        command="plan", posts_dir="content")

    assert result.returncode == 0, result.stdout + result.stderr
    text = summary(tmp_path)
    headings = changed_section(text)
    assert len(headings) == 2, text
    assert "content/edited.md" in headings[0] and "content/new post.md" in headings[1]
    assert (site.root / "--output=notes.md").read_text(encoding="utf-8") == "not a post\n"


def test_action_plan_in_a_shallow_checkout_says_what_to_add(
        site: Site, tmp_path: Path) -> None:
    pull_request_merge(site, "content")
    git(site.root, "push", "-q", "origin", "main")
    shallow = tmp_path / "shallow"
    subprocess.run(["git", "clone", "-q", "--depth", "1", f"file://{site.origin}",
                    str(shallow)], check=True, capture_output=True)

    result = run_action(shallow, tmp_path, "pull_request", "refs/pull/7/merge",
                        command="plan", posts_dir="content")

    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[0] == (
        "::notice title=publisher::check out with fetch-depth: 2 so the plan can show the "
        "posts this pull request changes first")
    text = summary(tmp_path)
    assert "### Upcoming" in text and "content/new post.md" in text
    assert "### Posts changed in this pull request" not in text
