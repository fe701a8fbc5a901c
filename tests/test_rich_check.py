"""`check` names every misuse of the rich-post fields (polls, content warnings, visibility,
language, threads, overrides, accounts, mentions) with the file, the line and what to do.
One data file per misuse in tests/data/rich/; the expected output is in check_messages.yml."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from tests.conftest import DATA, ROOT, RunCli

RICH = DATA / "rich"
EXPECTED: dict[str, list[str]] = yaml.safe_load(
    (RICH / "check_messages.yml").read_text(encoding="utf-8"))
CONFIG = """timezone = "Europe/Berlin"
x_content_warning = "refuse"

[accounts.news]
platform = "mastodon"
base_url_env = "NEWS_BASE_URL"
access_token_env = "NEWS_TOKEN"
"""
NOW = "2026-12-05T08:30:00Z"


def _repo(tmp_path: Path, config: str = CONFIG) -> Path:
    (tmp_path / "posts").mkdir()
    (tmp_path / "publisher.toml").write_text(config, encoding="utf-8")
    shutil.copyfile(ROOT / "posts" / "images" / "launch.png", tmp_path / "posts" / "launch.png")
    return tmp_path


def test_every_misuse_file_has_its_expected_messages() -> None:
    files = {p.name for p in RICH.glob("*.md") if not p.name.startswith("tt03")}
    assert files == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_check_names_the_misuse(name: str, tmp_path: Path, run_cli: RunCli) -> None:
    root = _repo(tmp_path)
    shutil.copyfile(RICH / name, root / "posts" / name)

    result = run_cli("check", str(root / "posts" / name), "--now", NOW, cwd=root)

    expected = [f"posts/{line}" for line in EXPECTED[name]]
    assert result.lines[:-1] == expected
    errors = sum(": error: " in line for line in expected)
    assert result.summary == (f"checked 1 post(s): {errors} error(s), "
                              f"{len(expected) - errors} warning(s)")
    assert result.code == (1 if errors else 0)


ACCOUNT = '[accounts.news]\nplatform = "mastodon"\n'
CONFIG_MISUSES = {
    "no platform": (
        '[accounts.news]\nbase_url_env = "A"\naccess_token_env = "B"\n',
        "publisher.toml: [accounts.news]: platform must be one of ['mastodon', 'x'], e.g. "
        'platform = "mastodon"'),
    "unknown key": (
        ACCOUNT + 'base_url_env = "A"\naccess_token = "B"\n',
        "publisher.toml: [accounts.news]: unknown key 'access_token' (did you mean "
        "'access_token_env'?)"),
    "variables missing": (
        ACCOUNT + 'base_url_env = "NEWS_BASE_URL"\n',
        "publisher.toml: [accounts.news]: name the variables holding its credentials: "
        "['access_token_env']"),
    "value instead of a variable name": (
        ACCOUNT + 'base_url_env = "https://news.example"\naccess_token_env = "B"\n',
        "publisher.toml: [accounts.news]: base_url_env names the environment variable holding "
        'the value, such as base_url_env = "NEWS_BASE_URL"; not the value'),
    "name of a front-matter key": (
        '[accounts.media]\nplatform = "mastodon"\nbase_url_env = "A"\naccess_token_env = "B"\n',
        "publisher.toml: [accounts.media]: choose another name: lower-case letters, digits, - "
        "and _, and not a front-matter key or a platform alias"),
    "platform name on another platform": (
        '[accounts.x]\nplatform = "mastodon"\nbase_url_env = "A"\naccess_token_env = "B"\n',
        "publisher.toml: [accounts.x]: the account named 'x' must have platform = 'x'"),
    "mention not a handle": (
        '[mentions]\n"ann" = {x = "@ann"}\n',
        "publisher.toml: [mentions] 'ann' is not a handle such as \"@ann@social.example\""),
    "mention for an unknown platform": (
        '[mentions]\n"@ann@social.example" = {twiter = "@ann"}\n',
        "publisher.toml: [mentions] '@ann@social.example': unknown platform or account 'twiter' "
        "(did you mean 'twitter'?)"),
    "mention target not a handle": (
        '[mentions]\n"@ann@social.example" = {x = "ann"}\n',
        "publisher.toml: [mentions] '@ann@social.example': x = 'ann' is not a handle such as "
        '"@ann"'),
    "mention not a table": (
        '[mentions]\n"@ann@social.example" = "@ann"\n',
        'publisher.toml: [mentions] maps a handle to a table: "@ann@social.example" = '
        '{x = "@ann"}'),
}


@pytest.mark.parametrize("case", sorted(CONFIG_MISUSES))
def test_check_names_account_and_mention_misuses(case: str, tmp_path: Path,
                                                 run_cli: RunCli) -> None:
    config, message = CONFIG_MISUSES[case]
    root = _repo(tmp_path, 'timezone = "Europe/Berlin"\n' + config)

    result = run_cli("check", "--now", NOW, cwd=root)

    assert result.lines == [f"error: {message}"]
    assert result.code == 2
