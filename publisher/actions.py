"""Running inside GitHub Actions: refuse to publish from pull requests or any branch but the
default one, and write the job summary. Reads only the documented GITHUB_* variables."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path


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


def write_summary(environ: Mapping[str, str], markdown: str) -> bool:
    """Append to the job summary when there is one."""
    path = environ.get("GITHUB_STEP_SUMMARY")
    if not path:
        return False
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(markdown.rstrip("\n") + "\n")
    return True
