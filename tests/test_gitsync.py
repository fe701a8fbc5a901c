"""The git side of a run, on real repositories with a bare origin: finding the repository and
its upstream, the sync before reading posts (fetch; rebase only when the remote moved), and
committing only the log."""

from __future__ import annotations

import subprocess
from pathlib import Path

from publisher.gitsync import Identity, Repo
from tests.conftest import RunCli, Site, credentials_env, git

ME = Identity("publisher", "publisher@example.org")


def _other_clone_pushes(site: Site, tmp_path: Path, rel: str, text: str) -> None:
    other = tmp_path / "other"
    subprocess.run(["git", "clone", "-q", str(site.origin), str(other)], check=True)
    (other / rel).parent.mkdir(parents=True, exist_ok=True)
    (other / rel).write_text(text)
    git(other, "add", "-A")
    git(other, "commit", "-q", "-m", "their post")
    git(other, "push", "-q")


def test_open_finds_the_top_of_the_repository_or_nothing(site: Site, tmp_path: Path) -> None:
    (site.root / "posts").mkdir()
    repo = Repo.open(site.root / "posts", ME)
    assert repo is not None and repo.root == site.root.resolve()
    plain = tmp_path / "plain"
    plain.mkdir()
    assert Repo.open(plain, ME) is None
    assert Repo.open(tmp_path / "missing", ME) is None


def test_upstream_from_config_else_the_only_remote_else_none(site: Site) -> None:
    assert Repo.open(site.root, ME).upstream() == ("origin", "main")  # type: ignore[union-attr]
    git(site.root, "checkout", "-q", "-b", "feature.x")
    assert Repo.open(site.root, ME).upstream() == ("origin", "feature.x")  # type: ignore[union-attr]
    git(site.root, "checkout", "-q", "--detach")
    assert Repo.open(site.root, ME).upstream() is None  # type: ignore[union-attr]


def test_sync_with_nothing_new_leaves_head_alone(site: Site) -> None:
    repo = Repo.open(site.root, ME)
    assert repo is not None
    before = repo.head()
    assert repo.sync() is False
    assert repo.head() == before


def test_sync_rebases_local_commits_onto_what_the_remote_has(site: Site, tmp_path: Path) -> None:
    site.write("local.txt", "unpushed\n")
    git(site.root, "add", "-A")
    git(site.root, "commit", "-q", "-m", "local")
    _other_clone_pushes(site, tmp_path, "posts/theirs.md", "---\ndate: 2026-12-05 09:00\n---\nx\n")
    repo = Repo.open(site.root, ME)
    assert repo is not None

    assert repo.sync() is True

    assert (site.root / "posts" / "theirs.md").exists()
    assert git(site.root, "log", "--format=%s").splitlines()[:2] == ["local", "their post"]


def test_commit_only_the_log_and_nothing_when_unchanged(site: Site) -> None:
    log = site.write("published.jsonl", "# log\n")
    site.write("other.txt", "not ours to commit\n")
    repo = Repo.open(site.root, ME)
    assert repo is not None

    commit = repo.commit([log], "publisher: log")

    assert commit == repo.head()
    assert git(site.root, "show", "--format=%an <%ae>", "--name-only", "HEAD").split("\n\n")[0] \
        == "publisher <publisher@example.org>"
    assert git(site.root, "show", "--format=", "--name-only", "HEAD").split() == [
        "published.jsonl"]
    assert repo.commit([log], "again") is None


def test_a_post_pushed_since_the_checkout_is_published_by_the_next_run(
        site: Site, mastodon_server, run_cli: RunCli, tmp_path: Path) -> None:
    site.write("publisher.toml", 'timezone = "UTC"\nplatforms = ["mastodon"]\n')
    site.commit_all()
    _other_clone_pushes(site, tmp_path, "posts/new.md",
                        "---\ndate: 2026-12-05 09:00\n---\nFresh from the remote.\n")

    result = run_cli("publish", "--now", "2026-12-05T09:05:00Z",
                     env=credentials_env(mastodon_server), cwd=site.root)

    assert result.code == 0, result.text
    assert "pulled new commits from the remote before reading posts" in result.lines
    assert [s["text"] for s in mastodon_server.statuses] == ["Fresh from the remote."]
    assert '"event": "published"' in site.origin_log()
