"""Commit and push the published log; the only module that runs git.

Reads, the sync before a run and commits call the `git` command directly (a run with nothing
due must stay cheap); pushes go through GitPython, imported only then, whose per-ref results
are checked because a rejected push does not raise. Pushes go to the branch's upstream with
the credentials git already has; publisher never puts a token into a URL or `.git/config`.
A push rejected because the remote moved is fetched, rebased (the log merges as a union: both
sides only append lines) and retried a bounded number of times. Never force. Every git error
message is scrubbed of URL credentials before it is shown.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from publisher.errors import GitError

if TYPE_CHECKING:
    import git

_URL_CREDENTIALS = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)[^/@\s]+@", re.I)
# An extraHeader's whole value ("AUTHORIZATION: basic <token>", as actions/checkout sets it)
# is masked, and an Authorization header's credentials wherever else they show.
_HEADER = re.compile(r"(?i)(extraheader\s*=\s*)(?:[\w-]+:\s*\w+\s+)?\S+"
                     r"|(authorization:\s*\w+\s+)\S+")


def scrub(text: str) -> str:
    """Remove credentials git may quote: `https://user:token@host`, auth headers."""
    text = _URL_CREDENTIALS.sub(r"\g<scheme>***@", text)
    return _HEADER.sub(lambda m: (m.group(1) or m.group(2)) + "***", text)


def _headline(detail: str) -> str:
    """The line that says what went wrong (git ends with hints, which do not)."""
    lines = [line.strip() for line in detail.splitlines() if line.strip()]
    for line in lines:
        if line.startswith(("fatal:", "error:", "! [")):
            return line
    return next((line for line in lines if not line.startswith("hint:")), "")


@dataclass(frozen=True)
class Identity:
    name: str
    email: str


class Repo:
    """The git checkout holding the posts and the log."""

    def __init__(self, root: Path, git_dir: Path, identity: Identity, attempts: int = 3) -> None:
        self.root = root
        self._git_dir = git_dir
        self._identity = identity
        self._attempts = attempts
        self._gitpython: git.Repo | None = None
        self._upstream: tuple[tuple[str, str] | None] | None = None

    @classmethod
    def open(cls, root: Path, identity: Identity) -> Repo | None:
        """The repository at `root` (or a folder above it), or None when there is none."""
        try:
            proc = subprocess.run(["git", "rev-parse", "--show-toplevel", "--absolute-git-dir"],
                                  cwd=root, capture_output=True, text=True)
        except (FileNotFoundError, NotADirectoryError):
            return None
        lines = proc.stdout.splitlines()
        if proc.returncode != 0 or len(lines) < 2:
            return None
        return cls(Path(lines[0]), Path(lines[1]), identity)

    def _env(self) -> dict[str, str]:
        n, e = self._identity.name, self._identity.email
        return {"GIT_AUTHOR_NAME": n, "GIT_AUTHOR_EMAIL": e,
                "GIT_COMMITTER_NAME": n, "GIT_COMMITTER_EMAIL": e,
                "GIT_TERMINAL_PROMPT": "0"}

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["git", *args], cwd=self.root, env={**os.environ, **self._env()},
                              capture_output=True, text=True)

    def _git(self, *args: str) -> str:
        proc = self._run(*args)
        if proc.returncode != 0:
            detail = scrub((proc.stderr or proc.stdout or "").strip())
            error = GitError(f"git {args[0]} failed: "
                             f"{_headline(detail) or f'exit {proc.returncode}'}")
            error.detail = detail
            raise error
        return proc.stdout

    def _repo(self) -> git.Repo:
        """GitPython's view of the repository, for pushing (imported only when needed)."""
        if self._gitpython is None:
            import logging

            import git

            # GitPython logs failed pushes ("Error lines received while pushing: ... <remote
            # URL>") through `logging`; with no handler configured Python would print that
            # unscrubbed to stderr. Our own messages carry the scrubbed detail instead.
            logging.getLogger("git").addHandler(logging.NullHandler())

            self._gitpython = git.Repo(self.root)
        return self._gitpython

    @property
    def branch(self) -> str | None:
        proc = self._run("symbolic-ref", "--quiet", "--short", "HEAD")
        if proc.returncode != 0:
            return None  # detached HEAD
        return proc.stdout.strip() or None

    def head(self) -> str | None:
        proc = self._run("rev-parse", "--verify", "--quiet", "HEAD")
        if proc.returncode != 0:
            return None  # no commit yet
        return proc.stdout.strip() or None

    def upstream(self) -> tuple[str, str] | None:
        """(remote, branch) the current branch pushes to, or None when there is none."""
        if self._upstream is None:
            self._upstream = (self._find_upstream(),)
        return self._upstream[0]

    def _find_upstream(self) -> tuple[str, str] | None:
        branch = self.branch
        if branch is None:
            return None
        proc = self._run("config", "--null", "--get-regexp",
                         r"^(branch\..*\.(remote|merge)|remote\..*\.url)$")
        values: dict[str, str] = {}
        remotes: list[str] = []
        for entry in proc.stdout.split("\0"):
            key, _, value = entry.partition("\n")
            values[key] = value
            if key.startswith("remote.") and key.endswith(".url"):
                remotes.append(key[len("remote."):-len(".url")])
        remote = values.get(f"branch.{branch}.remote")
        merge = values.get(f"branch.{branch}.merge")
        if remote and merge:
            return remote, merge.removeprefix("refs/heads/")
        if len(set(remotes)) == 1:
            return remotes[0], branch
        return None

    def is_shallow(self) -> bool:
        return self._git("rev-parse", "--is-shallow-repository").strip() == "true"

    def sync(self) -> bool:
        """Bring the branch up to date with its upstream before reading posts and the log
        (a cron checkout lags behind; another run may have logged posts). True if moved."""
        up = self.upstream()
        if up is None:
            return False
        remote, branch = up
        self._git("fetch", "--quiet", remote, branch)
        if self._run("merge-base", "--is-ancestor", "FETCH_HEAD", "HEAD").returncode == 0:
            return False  # nothing new upstream: no rebase, nothing to move
        before = self.head()
        self._rebase("FETCH_HEAD")
        return self.head() != before

    def _has_ref(self, remote: str, branch: str) -> bool:
        return self._run("rev-parse", "--verify", "--quiet",
                         f"refs/remotes/{remote}/{branch}").returncode == 0

    def _rebase(self, onto: str) -> None:
        self._union_merge_for_log()
        try:
            self._git("rebase", "--autostash", "--quiet", onto)
        except GitError:
            with contextlib.suppress(GitError):
                self._git("rebase", "--abort")
            raise

    def _union_merge_for_log(self) -> None:
        """Tell git (locally, outside the work tree) that appended log lines merge as a union."""
        info = self._git_dir / "info"
        info.mkdir(exist_ok=True)
        attributes = info / "attributes"
        line = "*.jsonl merge=union\n"
        existing = attributes.read_text() if attributes.exists() else ""
        if line not in existing:
            attributes.write_text(existing + ("" if existing.endswith("\n") or not existing
                                              else "\n") + line)

    def check_push(self) -> None:
        """Fail before anything is posted when the result could not be pushed (read-only
        token, no upstream, detached HEAD): a push --dry-run asks the remote."""
        up = self.upstream()
        if up is None:
            raise GitError("the branch has no upstream to push the log to; "
                           "set one (`git push -u origin BRANCH`) or use --no-push")
        remote, branch = up
        try:
            self._git("push", "--dry-run", "--quiet", remote, f"HEAD:refs/heads/{branch}")
        except GitError as exc:
            # Another run pushed since we synced: writing is allowed, the real push rebases.
            if not re.search(r"fetch first|non-fast-forward|\[rejected\]", exc.detail):
                raise

    def clear_stale_lock(self, max_age: float = 300.0) -> str:
        """A run killed inside a git command leaves `.git/index.lock`, and git then refuses
        everything. We hold publisher's own run lock, so an old one is a leftover: remove it;
        a fresh one may belong to someone's git command: say so."""
        lock = self._git_dir / "index.lock"
        try:
            age = time.time() - lock.stat().st_mtime
        except FileNotFoundError:
            return ""
        if age < max_age:
            raise GitError(f"{lock} exists: another git command is running in this checkout, "
                           "or a killed run left it; if no git command runs, remove it")
        lock.unlink(missing_ok=True)
        return f"removed {lock}, left by a git command that was killed {age / 60:.0f} min ago"

    def has_changes(self, paths: list[Path]) -> bool:
        """Whether `paths` differ from the last commit (a run died before committing them)."""
        rel = [str(p.resolve().relative_to(self.root.resolve())) for p in paths]
        return bool(self._git("status", "--porcelain", "--", *rel).strip())

    def is_ahead(self) -> bool:
        """Whether the branch has commits its upstream lacks (a push that did not happen)."""
        up = self.upstream()
        if up is None:
            return False
        remote, branch = up
        counted = self._run("rev-list", "--count", f"refs/remotes/{remote}/{branch}..HEAD")
        if counted.returncode == 0:
            return counted.stdout.strip() != "0"
        if not self._has_ref(remote, branch):
            return True
        return self._git("rev-list", "--count", f"{remote}/{branch}..HEAD").strip() != "0"

    def commit(self, paths: list[Path], message: str) -> str | None:
        """Commit only `paths`; returns the new commit id, or None when nothing changed."""
        rel = [str(p.resolve().relative_to(self.root.resolve())) for p in paths]
        self._git("add", "--", *rel)
        if not self._git("diff", "--cached", "--name-only", "--", *rel).strip():
            return None
        self._git("commit", "--quiet", "--no-verify", "-m", message, "--only", "--", *rel)
        return self.head()

    def push(self) -> str:
        """Push to the upstream, rebasing and retrying when the remote moved; never forced."""
        up = self.upstream()
        if up is None:
            raise GitError("no upstream to push to")
        remote, branch = up
        for attempt in range(1, self._attempts + 1):
            results = self._push_once(remote, branch)
            if results is None:
                return f"{remote}/{branch}"
            if attempt == self._attempts or not results:
                break
            self._git("fetch", "--quiet", remote, branch)
            self._rebase("FETCH_HEAD")
        raise GitError(f"push to {remote}/{branch} was rejected {self._attempts} times "
                       "(the remote keeps moving or refuses the push)")

    def _push_once(self, remote: str, branch: str) -> bool | None:
        """None on success; True when rejected because the remote moved; raises otherwise."""
        from git.exc import GitCommandError

        try:
            infos = self._repo().remote(remote).push(f"HEAD:refs/heads/{branch}")
        except GitCommandError as exc:
            detail = scrub(str(exc.stderr or "").strip())
            if re.search(r"fetch first|non-fast-forward|failed to update ref|cannot lock ref",
                         detail):
                return True
            raise GitError(f"push failed: {detail.splitlines()[-1] if detail else exc.status}"
                           ) from None
        except ValueError as exc:
            raise GitError(f"push failed: {scrub(str(exc))}") from None
        if not infos:
            raise GitError("push failed: git reported nothing pushed")
        for info in infos:
            if info.flags & info.ERROR or info.flags & info.REMOTE_REJECTED:
                # "failed to update ref": another push landed while ours was being received.
                if info.flags & info.REJECTED or re.search(
                        r"fetch first|failed to update ref|cannot lock ref", info.summary or ""):
                    return True
                raise GitError(f"push failed: {scrub(info.summary.strip())}")
            if info.flags & info.REJECTED:
                return True
        return None
