"""The GitHub Actions files: schema-valid, zizmor-clean, and shaped the way the design asks.

The linters run as subprocesses from the interpreter's own bin directory, so the tests
work without an activated virtual environment; a missing tool fails, it never skips.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = ROOT / ".github" / "workflows"
PUBLISH = WORKFLOWS / "publish.yml"
CHECK = WORKFLOWS / "check.yml"
TESTS = WORKFLOWS / "tests.yml"
ACTION = ROOT / "action.yml"
DOC = ROOT / "docs" / "using-the-action.md"

# Not resolved: in a virtual environment `python` is a symlink to the base interpreter,
# and the tools live next to the link, not next to its target.
BIN = Path(sys.executable).parent

SECRET_NAMES = {
    "MASTODON_BASE_URL",
    "MASTODON_ACCESS_TOKEN",
    "X_API_KEY",
    "X_API_SECRET",
    "X_ACCESS_TOKEN",
    "X_ACCESS_TOKEN_SECRET",
}
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")
# Every inline zizmor ignore, with the reason it is acceptable. Adding one means adding it
# here too, with a reason a reviewer can check.
ACCEPTED_ZIZMOR_IGNORES = {
    # The publish job pushes the log commit with the checkout's token (contents: write),
    # so the credentials must persist; no step uploads .git.
    ("publish.yml", "artipacked"),
}


def tool(name: str) -> str:
    path = BIN / name
    assert path.is_file(), f"{name} is not installed next to {sys.executable}: pip install {name}"
    return str(path)


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=300)


def load(path: Path) -> dict[Any, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def triggers(workflow: dict[Any, Any]) -> dict[str, Any]:
    # YAML 1.1 (PyYAML) reads the bare key `on` as the boolean True.
    on = workflow.get("on", workflow.get(True))
    assert isinstance(on, dict), "triggers must be a mapping"
    return on


def walk(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], Any]]:
    """Yield (path, value) for every scalar in a loaded YAML document."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from walk(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from walk(value, (*path, index))
    else:
        yield path, node


def steps_of(document: dict[Any, Any]) -> Iterator[dict[str, Any]]:
    if "runs" in document:
        yield from document["runs"]["steps"]
    for job in document.get("jobs", {}).values():
        yield from job.get("steps", [])


ALL_FILES = [PUBLISH, CHECK, TESTS, ACTION]


# --- the linters ------------------------------------------------------------------------


def test_workflows_match_github_schema() -> None:
    workflows = sorted(str(p.relative_to(ROOT)) for p in WORKFLOWS.glob("*.yml"))
    assert workflows == [
        ".github/workflows/check.yml",
        ".github/workflows/publish.yml",
        ".github/workflows/tests.yml",
    ]
    result = run(
        tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", *workflows
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_action_matches_github_schema() -> None:
    result = run(
        tool("check-jsonschema"), "--builtin-schema", "vendor.github-actions", "action.yml"
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_zizmor_finds_nothing() -> None:
    # --offline: no network, so the online audits (e.g. whether a pinned SHA matches its
    # version comment) do not run here. --no-config: a config file cannot silence findings;
    # only the inline ignores below, each with its reason, can.
    result = run(
        tool("zizmor"),
        "--offline",
        "--no-config",
        "--no-progress",
        "--color=never",
        "--format=plain",
        ".github/workflows",
        "action.yml",
    )
    # zizmor exits 0 when nothing is left after ignores, 10 + the highest severity otherwise.
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No findings to report" in result.stdout, result.stdout


# Findings of zizmor's `auditor` persona (which accepts false positives), each explained.
# secrets-outside-env: the six platform secrets are repository secrets, not secrets of a
# deployment environment. The workflow has to work after "add six secrets" with nothing else
# configured, and only the Publish step sees them; docs/using-the-action.md shows how to
# move them into a protected `publish` environment limited to main.
EXPLAINED_AUDITOR_FINDINGS = {("publish.yml", "secrets-outside-env", name)
                              for name in SECRET_NAMES}


def test_zizmor_auditor_findings_are_the_explained_ones() -> None:
    result = run(tool("zizmor"), "--offline", "--no-config", "--no-progress", "--color=never",
                 "--persona=auditor", "--format=json", ".github/workflows", "action.yml")
    findings = json.loads(result.stdout)
    found = set()
    for finding in findings:
        [location] = [loc for loc in finding["locations"]
                      if loc["symbolic"]["kind"] == "Primary"]
        where = Path(location["symbolic"]["key"]["Local"]["verbatim_path"]).name
        secret = re.search(r"secrets\.(\w+)", location["concrete"]["feature"])
        found.add((where, finding["ident"], secret.group(1) if secret else ""))
    assert found == EXPLAINED_AUDITOR_FINDINGS, result.stdout


def test_zizmor_would_catch_the_pull_request_target_pitfall() -> None:
    # SEC-02's bad workflow: pull_request_target checking out the fork's code with secrets.
    result = run(tool("zizmor"), "--offline", "--no-config", "--no-progress", "--color=never",
                 "--format=plain", "tests/data/sec02_bad_workflow.yml")
    assert result.returncode != 0
    assert "error[dangerous-triggers]" in result.stdout


def test_no_shipped_or_documented_workflow_runs_on_pull_request_target() -> None:
    # SEC-02: nothing we ship or tell people to copy runs with secrets on pull request code.
    documents = [load(p) for p in WORKFLOWS.glob("*.yml")]
    for doc in (DOC, ROOT / "README.md"):
        documents += [yaml.safe_load(block) for block in
                      re.findall(r"```yaml\n(.*?)```", doc.read_text(encoding="utf-8"),
                                 re.DOTALL)]
    assert len(documents) >= 5
    for workflow in documents:
        assert "pull_request_target" not in triggers(workflow)
        if "pull_request" in triggers(workflow):
            assert "secrets." not in yaml.safe_dump(workflow)


def test_zizmor_ignores_are_the_accepted_ones_and_give_a_reason() -> None:
    found = set()
    for path in ALL_FILES:
        for line in path.read_text(encoding="utf-8").splitlines():
            match = re.search(r"#\s*zizmor:\s*ignore\[([\w,-]+)\](.*)$", line)
            if match:
                assert match.group(2).strip(), f"{path.name}: zizmor ignore without a reason"
                for audit in match.group(1).split(","):
                    found.add((path.name, audit))
    assert found == ACCEPTED_ZIZMOR_IGNORES


# --- properties of every file -----------------------------------------------------------


@pytest.mark.parametrize("path", ALL_FILES, ids=lambda p: p.name)
def test_every_action_is_pinned_to_a_commit_with_its_version(path: Path) -> None:
    document = load(path)
    uses = [step["uses"] for step in steps_of(document) if "uses" in step]
    assert uses, f"{path.name} uses no action"
    for ref in uses:
        assert PINNED.match(ref), f"{path.name}: {ref} is not pinned to a full commit SHA"
    text = path.read_text(encoding="utf-8")
    for ref in uses:
        assert re.search(re.escape(ref) + r" # v\d+\.\d+\.\d+\s*$", text, re.MULTILINE), (
            f"{path.name}: {ref} lacks its '# vX.Y.Z' comment"
        )


@pytest.mark.parametrize("path", ALL_FILES, ids=lambda p: p.name)
def test_no_expression_is_interpolated_into_a_script(path: Path) -> None:
    # Inputs, event fields and secrets reach scripts through `env:` only (template injection).
    for step in steps_of(load(path)):
        if "run" in step:
            assert "${{" not in step["run"], f"{path.name}: expression in run: {step['run']}"


# --- publish.yml ------------------------------------------------------------------------


def test_publish_triggers() -> None:
    on = triggers(load(PUBLISH))
    assert set(on) == {"schedule", "workflow_dispatch", "push"}
    assert on["schedule"] == [{"cron": "7,22,37,52 * * * *"}]
    inputs = on["workflow_dispatch"]["inputs"]
    assert inputs["dry_run"]["type"] == "boolean"
    assert inputs["dry_run"]["default"] is False
    assert inputs["now"]["type"] == "string"
    assert inputs["now"]["required"] is False
    # Missed posts (GHA-02) can be sent from Actions, where nobody can type --catch-up.
    assert inputs["catch_up"]["type"] == "boolean"
    assert inputs["catch_up"]["default"] is False
    assert on["push"] == {"branches": ["main"], "paths": ["posts/**"]}


def test_publish_runs_one_at_a_time_without_cancelling() -> None:
    assert load(PUBLISH)["concurrency"] == {
        "group": "publisher-publish",
        "cancel-in-progress": False,
    }


def test_publish_grants_contents_write_to_the_job_only() -> None:
    workflow = load(PUBLISH)
    assert workflow["permissions"] == {}
    assert list(workflow["jobs"]) == ["publish"]
    job = workflow["jobs"]["publish"]
    assert job["permissions"] == {"contents": "write"}
    assert job["timeout-minutes"] == 15
    assert job["if"] == "github.ref == 'refs/heads/main'"


def test_publish_checkout_keeps_credentials_for_the_push() -> None:
    steps = load(PUBLISH)["jobs"]["publish"]["steps"]
    checkout = next(s for s in steps if s.get("uses", "").startswith("actions/checkout@"))
    assert checkout["with"]["persist-credentials"] is True
    assert checkout["with"].get("fetch-depth", 1) == 1


def test_publish_caches_pip_on_the_lock_file() -> None:
    steps = load(PUBLISH)["jobs"]["publish"]["steps"]
    setup = next(s for s in steps if s.get("uses", "").startswith("actions/setup-python@"))
    assert setup["with"]["cache"] == "pip"
    assert setup["with"]["cache-dependency-path"] == "requirements.lock"
    assert any(s.get("run") == "python -m pip install -c requirements.lock ." for s in steps)


def test_publish_secrets_reach_only_the_publish_step_env() -> None:
    workflow = load(PUBLISH)
    steps = workflow["jobs"]["publish"]["steps"]
    publishing = [i for i, s in enumerate(steps) if "publisher publish" in s.get("run", "")]
    assert len(publishing) == 1
    index = publishing[0]
    places = [path for path, value in walk(workflow) if "secrets." in str(value)]
    assert places, "the publish workflow passes no secrets"
    for path in places:
        assert path[:5] == ("jobs", "publish", "steps", index, "env"), path
    env = steps[index]["env"]
    assert {name for name, value in env.items() if "secrets." in value} == SECRET_NAMES
    for name in SECRET_NAMES:
        assert env[name] == "${{ secrets." + name + " }}"
    assert env["DRY_RUN"] == "${{ inputs.dry_run }}"
    assert env["NOW"] == "${{ inputs.now }}"
    assert env["CATCH_UP"] == "${{ inputs.catch_up }}"


# --- check.yml --------------------------------------------------------------------------


def test_check_runs_on_pull_request_read_only_without_secrets() -> None:
    workflow = load(CHECK)
    # Everything but the comments, which may name what this workflow avoids.
    content = yaml.safe_dump(workflow)
    assert "pull_request_target" not in content
    assert "secrets." not in content
    assert set(triggers(workflow)) == {"pull_request"}
    assert workflow["permissions"] == {"contents": "read"}
    for job in workflow["jobs"].values():
        assert job.get("permissions", workflow["permissions"]) == {"contents": "read"}
    steps = list(steps_of(workflow))
    checkout = next(s for s in steps if s.get("uses", "").startswith("actions/checkout@"))
    assert checkout["with"]["persist-credentials"] is False
    # The merge commit and its first parent, the base it was merged onto.
    assert checkout["with"]["fetch-depth"] >= 2
    runs = "\n".join(s.get("run", "") for s in steps)
    assert "publisher check --format github" in runs
    assert "git diff" in runs and "HEAD^1 HEAD" in runs
    # Every changed Markdown file, not a hard-coded posts folder: publisher keeps the posts
    # among them, wherever posts_dir points (tests/test_deploy_actions.py runs the script).
    assert "-- '*.md' '*.markdown'" in runs and "posts/" not in runs
    assert "publisher plan --format markdown" in runs and "--changed" in runs
    assert '>> "$GITHUB_STEP_SUMMARY"' in runs


# --- tests.yml --------------------------------------------------------------------------


def test_tests_workflow() -> None:
    workflow = load(TESTS)
    assert set(triggers(workflow)) == {"push", "pull_request"}
    assert workflow["permissions"] == {"contents": "read"}
    (job,) = workflow["jobs"].values()
    assert job["runs-on"] == "ubuntu-latest"
    assert job["strategy"]["matrix"]["python-version"] == ["3.11", "3.13"]
    assert job["steps"][-1]["run"] == "bash .ci/run"
    assert "secrets." not in yaml.safe_dump(workflow)


# --- action.yml -------------------------------------------------------------------------


def test_action_inputs_and_shape() -> None:
    action = load(ACTION)
    assert action["runs"]["using"] == "composite"
    defaults = {name: spec.get("default") for name, spec in action["inputs"].items()}
    assert defaults == {
        "command": "publish",
        "posts-dir": "posts",
        "dry-run": "false",
        "catch-up": "false",
        "python-version": "3.12",
    }
    steps = action["runs"]["steps"]
    for step in steps:
        if "run" in step:
            assert step.get("shell") == "bash", step
            # Runs in the caller's checkout (the default), not in the action's directory.
            assert "working-directory" not in step
    runs = "\n".join(s.get("run", "") for s in steps)
    assert '-c "$GITHUB_ACTION_PATH/requirements.lock" "$GITHUB_ACTION_PATH"' in runs
    assert "secrets." not in yaml.safe_dump(action)


# --- docs/using-the-action.md -----------------------------------------------------------


def test_documented_workflows_are_valid_and_use_the_action(tmp_path: Path) -> None:
    text = DOC.read_text(encoding="utf-8")
    blocks = re.findall(r"```yaml\n(.*?)```", text, re.DOTALL)
    assert len(blocks) == 2
    files = []
    for number, block in enumerate(blocks):
        assert "uses: OWNER/REPO@v1" in block
        path = tmp_path / f"example-{number}.yml"
        path.write_text(block, encoding="utf-8")
        files.append(str(path))
    result = run(tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", *files)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "60 days" in text


def test_documented_workflows_pass_every_input_and_preview_changed_posts() -> None:
    publish, check = (yaml.safe_load(block) for block in
                      re.findall(r"```yaml\n(.*?)```", DOC.read_text(encoding="utf-8"),
                                 re.DOTALL))
    action_inputs = set(load(ACTION)["inputs"])
    # publish: a manual run can ask for a dry run or for the missed posts (catch_up).
    dispatch = triggers(publish)["workflow_dispatch"]["inputs"]
    assert {name: spec["type"] for name, spec in dispatch.items()} == {
        "dry_run": "boolean", "catch_up": "boolean"}
    [step] = [s for s in steps_of(publish) if s.get("uses") == "OWNER/REPO@v1"]
    assert set(step["with"]) <= action_inputs
    assert step["with"]["catch-up"] == "${{ inputs.catch_up && 'true' || 'false' }}"
    assert step["with"]["dry-run"] == "${{ inputs.dry_run && 'true' || 'false' }}"
    # check: the plan compares the merge commit with its first parent, like check.yml, so
    # the checkout must fetch both.
    steps = list(steps_of(check))
    checkout = steps[0]
    assert checkout["uses"].startswith("actions/checkout@")
    assert checkout["with"] == {"persist-credentials": False, "fetch-depth": 2}
    assert [s["with"]["command"] for s in steps[1:]] == ["check", "plan"]
    assert load(CHECK)["jobs"]["check"]["steps"][0]["with"]["fetch-depth"] == 2


def test_every_action_input_is_documented() -> None:
    text = DOC.read_text(encoding="utf-8")
    for name, spec in load(ACTION)["inputs"].items():
        assert f"| `{name}` | `{spec['default']}`" in text or \
            f"| `{name}` | `'{spec['default']}'`" in text, name
