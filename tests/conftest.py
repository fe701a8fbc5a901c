"""Shared test setup: hermetic environment, loopback-only sockets, fake servers, and real git
repositories with a bare origin."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.fakes.fixtures import MASTODON_TOKEN, X_KEYS, mastodon_server, x_server

__all__ = ["mastodon_server", "x_server"]

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
CREDENTIAL_VARS = ("MASTODON_BASE_URL", "MASTODON_ACCESS_TOKEN", "X_API_KEY", "X_API_SECRET",
                   "X_ACCESS_TOKEN", "X_ACCESS_TOKEN_SECRET", "X_API_BASE_URL",
                   "PUBLISHER_CREDENTIALS")
GITHUB_VARS = ("GITHUB_ACTIONS", "GITHUB_EVENT_NAME", "GITHUB_REF", "GITHUB_EVENT_PATH",
               "GITHUB_STEP_SUMMARY")


# --- hermetic: no credentials, a private HOME, sockets only to loopback ----------------------

_real_connect = socket.socket.connect


def _loopback_only(self: socket.socket, address: object) -> None:
    host = address[0] if isinstance(address, tuple) else address
    if self.family in (socket.AF_INET, socket.AF_INET6) and host not in (
            "127.0.0.1", "::1", "localhost"):
        raise OSError(f"tests may only connect to loopback, not {host!r}")
    _real_connect(self, address)  # type: ignore[arg-type]


@pytest.fixture(autouse=True)
def hermetic(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    for name in (*CREDENTIAL_VARS, *GITHUB_VARS, "TZ", "PUBLISHER_TEST_KILL_AT"):
        monkeypatch.delenv(name, raising=False)
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_AUTHOR_NAME", "Test Author")
    monkeypatch.setenv("GIT_AUTHOR_EMAIL", "author@example.org")
    monkeypatch.setenv("GIT_COMMITTER_NAME", "Test Author")
    monkeypatch.setenv("GIT_COMMITTER_EMAIL", "author@example.org")
    monkeypatch.setattr(socket.socket, "connect", _loopback_only)


# --- git ---------------------------------------------------------------------------------------


def git(cwd: Path, *args: str) -> str:
    result = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True)
    return result.stdout


@dataclass
class Site:
    """A posts repository cloned from a bare origin, as a deployment has it."""

    root: Path
    origin: Path
    config: str = 'timezone = "Europe/Berlin"\n'
    servers: dict[str, object] = field(default_factory=dict)

    def write(self, rel: str, text: str) -> Path:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path

    def copy(self, src: Path, rel: str) -> Path:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, path)
        return path

    def commit_all(self, message: str = "posts") -> None:
        git(self.root, "add", "-A")
        git(self.root, "commit", "-q", "-m", message)
        git(self.root, "push", "-q")

    def origin_log(self) -> str:
        """The published log as the origin holds it on main."""
        try:
            return git(self.origin, "show", "main:published.jsonl")
        except subprocess.CalledProcessError:
            return ""

    def origin_commits(self) -> list[str]:
        return git(self.origin, "log", "--format=%s", "main").splitlines()


@pytest.fixture
def site(tmp_path: Path) -> Site:
    origin = tmp_path / "origin.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(origin)], check=True)
    root = tmp_path / "site"
    subprocess.run(["git", "clone", "-q", str(origin), str(root)], check=True,
                   capture_output=True)
    git(root, "checkout", "-q", "-b", "main")
    s = Site(root, origin)
    s.write("publisher.toml", s.config)
    s.write("README.md", "posts\n")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "start")
    git(root, "push", "-q", "-u", "origin", "main")
    return s


# --- environments and running the CLI ----------------------------------------------------------


def credentials_env(mastodon: object | None = None, x: object | None = None) -> dict[str, str]:
    env: dict[str, str] = {}
    if mastodon is not None:
        env["MASTODON_BASE_URL"] = mastodon.base_url  # type: ignore[attr-defined]
        env["MASTODON_ACCESS_TOKEN"] = MASTODON_TOKEN
    if x is not None:
        env["X_API_BASE_URL"] = x.base_url  # type: ignore[attr-defined]
        env["X_API_KEY"] = X_KEYS["consumer_key"]
        env["X_API_SECRET"] = X_KEYS["consumer_secret"]
        env["X_ACCESS_TOKEN"] = X_KEYS["access_token"]
        env["X_ACCESS_TOKEN_SECRET"] = X_KEYS["access_token_secret"]
    return env


@dataclass
class Run:
    code: int
    lines: list[str]

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    @property
    def summary(self) -> str:
        return self.lines[-1] if self.lines else ""


RunCli = Callable[..., Run]


@pytest.fixture
def run_cli() -> RunCli:
    """Run the CLI in this process with an explicit environment and no real sleeping."""
    from publisher.cli import main

    def run(*argv: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> Run:
        lines: list[str] = []
        full_env = {**{k: v for k, v in os.environ.items()
                       if k not in CREDENTIAL_VARS}, **(env or {})}
        args = list(argv)
        if cwd is not None:
            args = ["-C", str(cwd), *args]
        code = main(args, environ=full_env, out=lines.append, sleep=lambda s: None)
        return Run(code, lines)

    return run


def run_process(*argv: str, env: dict[str, str], cwd: Path,
                timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run `python -m publisher` as a separate process, as cron or Actions would."""
    full_env = {k: v for k, v in os.environ.items() if k not in CREDENTIAL_VARS}
    full_env.update(env)
    return subprocess.run([sys.executable, "-m", "publisher", *argv], cwd=cwd, env=full_env,
                          capture_output=True, text=True, timeout=timeout)

