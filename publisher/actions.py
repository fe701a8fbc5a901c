"""Running inside GitHub Actions: refuse to publish from pull requests or any branch but the
default one, write the job summary, and warn before GitHub's 60-day inactivity rule would
stop the schedule. Reads only the documented GITHUB_* variables."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path

from publisher.schedule import Item

#: GitHub disables scheduled workflows of a public repository after this long without
#: repository activity ("Disabling and enabling a workflow" in GitHub's docs; GHA-02).
INACTIVITY_LIMIT = timedelta(days=60)


def in_actions(environ: Mapping[str, str]) -> bool:
    return environ.get("GITHUB_ACTIONS") == "true"


def publish_refusal(environ: Mapping[str, str]) -> str | None:
    """Why publishing must not happen in this Actions run, or None when it may."""
    if not in_actions(environ):
        return None
    event = environ.get("GITHUB_EVENT_NAME", "")
    if event.startswith("pull_request"):
        return (f"refusing to publish on a {event} event: pull requests only check and "
                "preview posts (run `publisher check` / `publisher plan` there)")
    ref = environ.get("GITHUB_REF", "")
    default = _default_branch(environ)
    if default is None:
        # Scheduled runs only ever run on the default branch; other events carry it.
        if event == "schedule" and ref.startswith("refs/heads/"):
            return None
        return ("refusing to publish: cannot tell the repository's default branch from the "
                "event; run from a schedule, workflow_dispatch or push on the default branch")
    if ref != f"refs/heads/{default}":
        return (f"refusing to publish from {ref or 'an unknown ref'}: only the default branch "
                f"({default}) publishes")
    return None


def _default_branch(environ: Mapping[str, str]) -> str | None:
    path = environ.get("GITHUB_EVENT_PATH")
    if not path:
        return None
    try:
        event = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    repo = event.get("repository") if isinstance(event, dict) else None
    branch = repo.get("default_branch") if isinstance(repo, dict) else None
    return str(branch) if branch else None


def catch_up_hint(items: Iterable[Item]) -> str | None:
    """How to send the posts a run reported as missed, from Actions, where nobody can type
    `--catch-up` (publish.yml's `catch_up` input; the action's `catch-up`)."""
    missed = sum(1 for item in items if item.state == "missed")
    if not missed:
        return None
    return (f"{missed} missed post(s) were not sent; to send them, run this workflow by hand "
            "with catch_up ticked (Actions tab -> publish -> Run workflow)")


def write_summary(environ: Mapping[str, str], markdown: str) -> bool:
    """Append to the job summary when there is one."""
    path = environ.get("GITHUB_STEP_SUMMARY")
    if not path:
        return False
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(markdown.rstrip("\n") + "\n")
    return True


def last_commit_time(root: Path) -> datetime | None:
    """When HEAD was committed, or None outside git. A `git log` subprocess rather than
    GitPython, so `plan` stays cheap; HEAD exists in a shallow clone too (GHA-06)."""
    import subprocess  # only when something is scheduled

    try:
        result = subprocess.run(["git", "log", "-1", "--format=%ct"], cwd=root,
                                capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    stamp = result.stdout.strip()
    if result.returncode != 0 or not stamp.isdigit():
        return None
    return datetime.fromtimestamp(int(stamp), UTC)


def inactivity_warning(items: Iterable[Item], root: Path) -> str | None:
    """A warning when the next scheduled post lies more than 60 days after the last commit:
    a scheduled workflow would be disabled before it is due. Asks git only when something
    is scheduled."""
    upcoming = [(i.post.date, i.post.path) for i in items
                if i.state == "scheduled" and i.post.date is not None]
    if not upcoming:
        return None
    when, path = min(upcoming)
    last = last_commit_time(root)
    if last is None or when - last <= INACTIVITY_LIMIT:
        return None
    gap = (when.date() - last.date()).days  # calendar days, as the dates printed
    deadline = last + INACTIVITY_LIMIT
    return (f"the next scheduled post ({path}, {when:%Y-%m-%d}) is "
            f"{gap} days after the last commit ({last:%Y-%m-%d}); GitHub disables scheduled "
            "workflows in public repositories after 60 days without activity, so push a "
            f"commit before {deadline:%Y-%m-%d} or the post will not go out on time "
            "(README: \"Deploy with GitHub Actions\")")
