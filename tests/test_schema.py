"""The front-matter JSON Schema shipped for editors agrees with `check`: the same field names,
the same date pattern and choices, and the same verdict on typed examples."""

from __future__ import annotations

import json
import re
import shutil
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from publisher import compose, posts
from tests.conftest import ROOT, RunCli

SCHEMA = json.loads(resources.files("publisher").joinpath("schema/post.schema.json")
                    .read_text(encoding="utf-8"))


def test_schema_is_a_valid_draft_7_schema() -> None:
    jsonschema.Draft7Validator.check_schema(SCHEMA)


def test_schema_fields_are_exactly_the_keys_check_knows() -> None:
    assert list(SCHEMA["properties"]) == list(posts.POST_KEYS)
    assert list(SCHEMA["definitions"]["override"]["properties"]) == list(posts.OVERRIDABLE)


def test_schema_choices_and_patterns_come_from_the_same_definitions() -> None:
    definitions = SCHEMA["definitions"]
    assert SCHEMA["properties"]["date"]["pattern"] == re.sub(
        r"\(\?P<\w+>", "(", posts._DATE_RE.pattern)
    assert definitions["visibility"]["enum"] == list(compose.VISIBILITIES)
    assert set(definitions["language"]["enum"]) == compose.ISO_639_1
    assert definitions["poll"]["properties"]["duration"]["pattern"] == compose._DURATION.pattern
    assert set(definitions["poll"]["properties"]) == {"options", "duration", "multiple",
                                                      "hide_totals"}


def test_bundled_examples_are_valid() -> None:
    for post in sorted((ROOT / "posts").glob("*.md")):
        meta = yaml.safe_load(post.read_text(encoding="utf-8").split("---\n")[1])
        meta["date"] = str(meta["date"])  # editors read YAML 1.2: a date stays text
        jsonschema.validate(meta, SCHEMA)


BASE = "date: 2026-12-05 09:00\n"
# Front matter that check and the schema must both accept (True) or both refuse (False).
EXAMPLES: list[tuple[str, bool]] = [
    ("platforms: [mastodon, x]\n", True),
    ("platforms: mastodon\n", True),
    ("platforms: 3\n", False),
    ("draft: maybe\n", False),
    ("sensitive: true\n", True),
    ("sensitive: 'yes please'\n", False),
    ("visibility: unlisted\n", True),
    ("visibility: everyone\n", False),
    ('language: "no"\n', True),
    ("language: klingon\n", False),
    ("content_warning: Spoilers\n", True),
    ("content_warning: [a, b]\n", False),
    ("thread: auto\n", True),
    ("thread: sometimes\n", False),
    ('poll: {options: ["Yes", "No"], duration: 1d}\n', True),
    ('poll: {options: ["Yes", "No"], duration: forever}\n', False),
    ('poll: {options: ["Yes", "No"], colour: red}\n', False),
    ("poll: {duration: 1d}\n", False),
    ("x: Shorter for X\n", True),
    ("x: {text: Shorter for X, language: en}\n", True),
    ("x: {txet: typo}\n", False),
    ("mastodon: [not, text]\n", False),
    ("social: {mastodon: Hello}\n", True),
    ("media: [{path: a.png, alt: A cat}]\n", True),
    ("media: [{path: a.png, caption: A cat}]\n", False),
    ("media: [{alt: no path}]\n", False),
    ("media: {path: a.png}\n", False),
]


@pytest.mark.parametrize(("extra", "valid"), EXAMPLES, ids=[e for e, _ in EXAMPLES])
def test_schema_and_check_agree(extra: str, valid: bool, tmp_path: Path,
                                run_cli: RunCli) -> None:
    text = f"---\n{BASE}{extra}---\nHello.\n"
    meta: dict[str, Any] = yaml.safe_load(text.split("---\n")[1])
    meta["date"] = str(meta["date"])
    schema_ok = jsonschema.Draft7Validator(SCHEMA).is_valid(meta)
    (tmp_path / "posts").mkdir()
    (tmp_path / "publisher.toml").write_text('timezone = "Europe/Berlin"\n')
    (tmp_path / "posts" / "a.png").write_bytes((ROOT / "posts/images/launch.png").read_bytes())
    (tmp_path / "posts" / "post.md").write_text(text)

    result = run_cli("check", "--now", "2026-12-01T00:00:00Z", cwd=tmp_path)

    assert (schema_ok, result.code == 0) == (valid, valid), result.text


def test_the_schema_ships_with_the_package(tmp_path: Path) -> None:
    """`pip install .` puts the schema next to the code (package data)."""
    target = tmp_path / "copy.json"
    with resources.as_file(resources.files("publisher") / "schema" / "post.schema.json") as f:
        shutil.copyfile(f, target)
    assert json.loads(target.read_text()) == SCHEMA
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert '"schema/*.json"' in pyproject
