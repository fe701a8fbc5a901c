"""`publisher check` keeps what it learnt of each unchanged file between runs (issue #7): a
repeated check reads the posts from the cache, and anything a post's verdict depends on (its
bytes, its images, the settings) makes it be read again, so a cached check never says
something a fresh one would not."""

from __future__ import annotations

import os
import pickle
import shutil
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from publisher import checkcache
from publisher.checkcache import CheckCache, cache_file
from publisher.config import load_settings
from publisher.pipeline import load
from tests import images
from tests.conftest import RunCli

NOW = "2026-12-03T12:00:00Z"
CONFIG = 'timezone = "Europe/Berlin"\n'

POSTS = {
    "good.md": "---\ndate: 2026-12-05 09:00\nmedia:\n  - path: images/cat.png\n"
               "    alt: A cat on a mat\n---\nHello from the cache https://example.org/a\n",
    "thread.md": "---\ndate: 2026-12-06 09:00\n---\nFirst part.\n\n---\n\nSecond part. 日本語 🎉\n",
    "long.md": "---\ndate: 2026-12-07 09:00\nplatforms: [x]\n---\n" + "word " * 70 + "\n",
    "no_alt.md": "---\ndate: 2026-12-08 09:00\nmedia:\n  - path: images/dog.png\n---\n"
                 "A dog without alt text\n",
    "draft.md": "---\ndate: 2026-12-09 09:00\ndraft: true\n---\nNot yet.\n",
    "broken.md": "---\ndate: 2026-02-30\n---\nNo such day.\n",
}


@pytest.fixture(autouse=True)
def settled(monkeypatch: pytest.MonkeyPatch) -> None:
    """Images made by a test are seconds old at most; the cache does not keep entries whose
    media changed within RACY_NS of being stored (`test_racy_...` checks that with the real
    value). Here they count as settled."""
    monkeypatch.setattr(checkcache, "RACY_NS", 0)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "site"
    (root / "posts").mkdir(parents=True)
    (root / "posts" / "images").mkdir()
    (root / "publisher.toml").write_text(CONFIG, encoding="utf-8")
    for name, text in POSTS.items():
        (root / "posts" / name).write_text(text, encoding="utf-8")
    images.write(root / "posts" / "images" / "cat.png", images.png(40, 30))
    images.write(root / "posts" / "images" / "dog.png", images.png(20, 20))
    return root


def check(run_cli: RunCli, root: Path, *args: str) -> tuple[int, list[str]]:
    result = run_cli("check", "--now", NOW, *args, cwd=root)
    return result.code, result.lines


def counts(root: Path) -> tuple[int, int]:
    """(hits, misses) of a check of `root` made now, in this process, with the real cache."""
    settings = load_settings(root)
    cache = CheckCache.open(settings, os.environ, time.time_ns())
    load(settings, datetime(2026, 12, 3, 12, tzinfo=UTC), compose_all=True, check_cache=cache)
    cache.save()
    return cache.hits, cache.misses


def test_a_repeated_check_says_the_same_from_the_cache(run_cli: RunCli, repo: Path) -> None:
    fresh = check(run_cli, repo, "--no-cache")
    assert not cache_file(load_settings(repo), os.environ).exists()  # --no-cache writes none
    first = check(run_cli, repo)
    second = check(run_cli, repo)
    assert fresh == first == second
    code, lines = second
    assert code == 1
    assert lines[-1] == "checked 6 post(s): 4 error(s), 0 warning(s)"
    assert any("long.md" in line and "over the 280 x allows" in line for line in lines)
    assert any("no_alt.md" in line and "no alt text" in line for line in lines)
    assert counts(repo) == (6, 0)


def test_the_cache_file_is_owner_only_and_in_xdg_cache_home(run_cli: RunCli, repo: Path,
                                                            tmp_path: Path) -> None:
    xdg = tmp_path / "xdg"
    result = run_cli("check", "--now", NOW, cwd=repo, env={"XDG_CACHE_HOME": str(xdg)})
    files = list((xdg / "publisher").iterdir())
    assert result.code == 1 and len(files) == 1
    assert files[0].stat().st_mode & 0o777 == 0o600
    assert (xdg / "publisher").stat().st_mode & 0o777 == 0o700


def test_an_edited_post_is_read_again(run_cli: RunCli, repo: Path) -> None:
    check(run_cli, repo)
    (repo / "posts" / "long.md").write_text(
        "---\ndate: 2026-12-07 09:00\nplatforms: [x]\n---\nShort now.\n", encoding="utf-8")
    code, lines = check(run_cli, repo)
    assert code == 1
    assert not any("long.md" in line for line in lines[:-1])
    assert lines[-1] == "checked 6 post(s): 3 error(s), 0 warning(s)"
    assert counts(repo) == (6, 0)


def test_same_size_same_time_other_bytes_is_read_again(run_cli: RunCli, repo: Path) -> None:
    """The content decides, not the time stamp: an edit within the same second that keeps
    the size is still seen."""
    post = repo / "posts" / "thread.md"
    check(run_cli, repo)
    before = post.stat()
    post.write_text(POSTS["thread.md"].replace("2026-12-06", "2026-12-31"), encoding="utf-8")
    os.utime(post, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert counts(repo) == (5, 1)


def test_image_changes_are_seen(run_cli: RunCli, repo: Path) -> None:
    check(run_cli, repo)
    # Deleted: the post that names it gets the error.
    (repo / "posts" / "images" / "cat.png").unlink()
    code, lines = check(run_cli, repo)
    assert any("good.md" in line and "file not found" in line for line in lines)
    # Back, but too big for X (5 MB): the size is seen.
    images.write(repo / "posts" / "images" / "cat.png", images.png(40, 30, pad_to=6 * 1024 * 1024))
    code, lines = check(run_cli, repo)
    assert any("good.md" in line and "over the 5 MB x accepts" in line for line in lines)
    # Replaced by something that is not an image at all.
    (repo / "posts" / "images" / "cat.png").write_bytes(b"not an image at all")
    code, lines = check(run_cli, repo)
    assert any("good.md" in line and "not a PNG, JPEG, GIF or WebP" in line for line in lines)
    assert check(run_cli, repo, "--no-cache") == (code, lines)


def test_a_missing_image_that_appears_is_seen(run_cli: RunCli, repo: Path) -> None:
    (repo / "posts" / "images" / "dog.png").unlink()
    code, lines = check(run_cli, repo)
    assert any("no_alt.md" in line and "file not found" in line for line in lines)
    images.write(repo / "posts" / "images" / "dog.png", images.png(20, 20))
    code, lines = check(run_cli, repo)
    assert code == 1
    assert not any("file not found" in line for line in lines)
    assert any("no_alt.md" in line and "no alt text" in line for line in lines)


def test_changed_settings_drop_the_whole_cache(run_cli: RunCli, repo: Path) -> None:
    check(run_cli, repo)
    (repo / "publisher.toml").write_text(CONFIG + "allow_missing_alt = true\n", encoding="utf-8")
    code, lines = check(run_cli, repo)
    assert code == 1
    assert not any("no alt text" in line for line in lines)
    assert lines[-1] == "checked 6 post(s): 2 error(s), 0 warning(s)"


def test_deleted_and_renamed_posts_leave_the_cache(run_cli: RunCli, repo: Path) -> None:
    check(run_cli, repo)
    (repo / "posts" / "broken.md").unlink()
    shutil.move(repo / "posts" / "draft.md", repo / "posts" / "draft2.md")
    code, lines = check(run_cli, repo)
    assert (code, lines[-1]) == (1, "checked 5 post(s): 3 error(s), 0 warning(s)")
    entries = CheckCache.open(load_settings(repo), os.environ, time.time_ns()).entries
    assert sorted(Path(name).name for name in entries) == [
        "draft2.md", "good.md", "long.md", "no_alt.md", "thread.md"]


def test_checking_some_files_keeps_the_others(run_cli: RunCli, repo: Path) -> None:
    check(run_cli, repo)
    code, lines = check(run_cli, repo, str(repo / "posts" / "good.md"))
    assert (code, lines[-1]) == (0, "checked 1 post(s): 0 error(s), 0 warning(s)")
    assert counts(repo) == (6, 0)


@pytest.mark.parametrize("damage", ["garbage", "truncated", "other format", "empty"])
def test_a_damaged_cache_is_ignored_and_replaced(run_cli: RunCli, repo: Path,
                                                damage: str) -> None:
    expected = check(run_cli, repo)
    file = cache_file(load_settings(repo), os.environ)
    data = file.read_bytes()
    file.write_bytes({"garbage": b"\x80\x04not a pickle", "truncated": data[: len(data) // 2],
                      "other format": pickle.dumps((999, "key", {})), "empty": b""}[damage])
    assert check(run_cli, repo) == expected
    assert counts(repo) == (6, 0)  # written anew by the check above


def test_a_cache_others_can_write_is_not_read(run_cli: RunCli, repo: Path) -> None:
    """A pickle runs code when loaded: a file group or others may write is never trusted."""
    check(run_cli, repo)
    file = cache_file(load_settings(repo), os.environ)
    file.chmod(0o620)
    assert counts(repo) == (0, 6)
    file.chmod(0o600)
    assert counts(repo) == (6, 0)


def test_an_unwritable_cache_folder_is_not_an_error(run_cli: RunCli, repo: Path,
                                                    tmp_path: Path) -> None:
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the cache folder would be", encoding="utf-8")
    result = run_cli("check", "--now", NOW, cwd=repo, env={"XDG_CACHE_HOME": str(blocked)})
    assert result.code == 1
    assert result.lines[-1] == "checked 6 post(s): 4 error(s), 0 warning(s)"


def same_as_fresh(run_cli: RunCli, root: Path) -> tuple[int, list[str]]:
    cached = check(run_cli, root)
    assert cached == check(run_cli, root, "--no-cache")
    return cached


def test_an_image_link_that_leads_elsewhere_is_seen(run_cli: RunCli, repo: Path,
                                                    tmp_path: Path) -> None:
    """Where a path resolves decides the verdict as much as the file does (found by a
    tester: a folder moved out of the repository and linked back kept its cached 'fine')."""
    images_dir = repo / "posts" / "images"
    check(run_cli, repo)
    # The folder moves out of the repository and a link takes its place: same files.
    outside = tmp_path / "outside"
    shutil.move(images_dir, outside)
    images_dir.symlink_to(outside)
    code, lines = same_as_fresh(run_cli, repo)
    assert code == 1 and any("good.md" in line and "resolves outside the repository" in line
                             for line in lines)
    # Back inside under another name, linked from the old one: the path shown changes.
    images_dir.unlink()
    shutil.move(outside, repo / "posts" / "pics")
    images_dir.symlink_to("pics")
    code, lines = same_as_fresh(run_cli, repo)
    assert any("posts/pics/dog.png: no alt text" in line for line in lines)


def test_dangling_and_looping_image_links_are_seen(run_cli: RunCli, repo: Path) -> None:
    cat = repo / "posts" / "images" / "cat.png"
    cat.unlink()
    cat.symlink_to("missing1.png")
    code, lines = same_as_fresh(run_cli, repo)
    assert any("looked for posts/images/missing1.png" in line for line in lines)
    cat.unlink()
    cat.symlink_to("missing2.png")
    code, lines = same_as_fresh(run_cli, repo)
    assert any("looked for posts/images/missing2.png" in line for line in lines)
    cat.unlink()
    cat.symlink_to("cat.png")  # a loop: reported, not a crash
    code, lines = same_as_fresh(run_cli, repo)
    assert code == 1 and any("good.md" in line and "cannot be resolved (a symlink loop?)" in line
               for line in lines)


def test_media_changed_while_the_check_ran_is_not_kept(repo: Path) -> None:
    """An entry is stored only if its media are as they were when the check looked at them
    (found by a tester: an image created mid-run kept 'file not found' cached)."""
    (repo / "posts" / "images" / "cat.png").unlink()
    settings = load_settings(repo)
    cache = CheckCache.open(settings, os.environ, time.time_ns())
    load(settings, datetime(2026, 12, 3, 12, tzinfo=UTC), compose_all=True, check_cache=cache)
    images.write(repo / "posts" / "images" / "cat.png", images.png(40, 30))  # mid-run
    cache.save()
    assert sorted(Path(name).name for name in cache.entries) == [
        "broken.md", "draft.md", "long.md", "no_alt.md", "thread.md"]


def test_racy_media_are_not_kept_until_they_settle(repo: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Media changed within two seconds of the store could change again within one time
    stamp tick unseen (git's "racy" files): such entries wait for a later check."""
    monkeypatch.setattr(checkcache, "RACY_NS", 2_000_000_000)
    assert counts(repo)[1] == 6  # images written just now: their posts are not kept
    assert counts(repo) == (4, 2)
    old = 1_600_000_000
    for image in (repo / "posts" / "images").iterdir():
        os.utime(image, (old, old))  # mtime settles; ctime is now: still racy
    assert counts(repo) == (4, 2)


def test_a_cache_reached_through_a_link_or_a_shared_folder_is_not_read(
        run_cli: RunCli, repo: Path, tmp_path: Path) -> None:
    """Found by a tester: a link planted in a folder others can write led to a pickle the
    victim owned (a cloned file) and ran its code."""
    check(run_cli, repo)
    file = cache_file(load_settings(repo), os.environ)
    elsewhere = tmp_path / "elsewhere.pickle"
    shutil.copyfile(file, elsewhere)
    file.unlink()
    file.symlink_to(elsewhere)
    assert counts(repo) == (0, 6)
    file.unlink()
    shutil.copyfile(elsewhere, file)
    file.chmod(0o600)
    assert counts(repo) == (6, 0)
    file.parent.chmod(0o777)
    assert counts(repo) == (0, 6)
    file.parent.chmod(0o700)
    assert counts(repo) == (6, 0)


def test_a_fifo_in_place_of_the_cache_does_not_block(repo: Path, tmp_path: Path) -> None:
    import subprocess
    import sys

    xdg = tmp_path / "xdg"
    settings = load_settings(repo)
    fifo = cache_file(settings, {"XDG_CACHE_HOME": str(xdg)})
    fifo.parent.mkdir(parents=True, mode=0o700)
    os.mkfifo(fifo, 0o600)
    done = subprocess.run(
        [sys.executable, "-m", "publisher", "-C", str(repo), "check", "--now", NOW],
        env={**os.environ, "XDG_CACHE_HOME": str(xdg)}, capture_output=True, text=True,
        timeout=60)
    assert done.stdout.rstrip().endswith("checked 6 post(s): 4 error(s), 0 warning(s)")


def test_entries_of_another_shape_are_ignored(run_cli: RunCli, repo: Path) -> None:
    check(run_cli, repo)
    settings = load_settings(repo)
    file = cache_file(settings, os.environ)
    key = checkcache.settings_key(settings)
    file.write_bytes(pickle.dumps((checkcache.FORMAT, key, {"posts/good.md": "not an entry"})))
    assert counts(repo) == (0, 6)


def test_a_relative_xdg_cache_home_is_ignored(run_cli: RunCli, repo: Path) -> None:
    result = run_cli("check", "--now", NOW, cwd=repo, env={"XDG_CACHE_HOME": "relative"})
    assert result.code == 1
    assert not any(repo.rglob("*.pickle"))
    assert cache_file(load_settings(repo), {"XDG_CACHE_HOME": "relative", "HOME": "/h"}) \
        .parent == Path("/h/.cache/publisher")


def test_a_cache_with_the_modes_git_gives_is_not_read(run_cli: RunCli, repo: Path) -> None:
    """Found by a tester: a cache committed to a repository (or restored into one) and used
    through an XDG_CACHE_HOME inside the checkout. Git makes files 0644 and folders 0755;
    ours are 0600 and 0700, and nothing group or others may touch is read."""
    check(run_cli, repo)
    file = cache_file(load_settings(repo), os.environ)
    file.chmod(0o644)
    assert counts(repo) == (0, 6)
    file.chmod(0o600)
    file.parent.chmod(0o755)
    assert counts(repo) == (0, 6)
    file.parent.chmod(0o700)
    assert counts(repo) == (6, 0)


def test_a_folder_swapped_during_the_check_is_not_kept(repo: Path, tmp_path: Path) -> None:
    """Found by a tester: the folder of an image replaced by a link while a check ran."""
    images_dir = repo / "posts" / "images"
    settings = load_settings(repo)
    cache = CheckCache.open(settings, os.environ, time.time_ns())
    load(settings, datetime(2026, 12, 3, 12, tzinfo=UTC), compose_all=True, check_cache=cache)
    shutil.move(images_dir, tmp_path / "elsewhere")  # mid-run: same files, now outside
    images_dir.symlink_to(tmp_path / "elsewhere")
    cache.save()
    assert "good.md" not in {Path(name).name for name in cache.entries}
    assert "thread.md" in {Path(name).name for name in cache.entries}


def test_a_file_given_twice_is_not_kept(run_cli: RunCli, repo: Path) -> None:
    """Found by a tester: the same post named twice (a link and a glob) and edited between
    the two readings kept the first reading under the second one's digest."""
    post = repo / "posts" / "thread.md"
    code, lines = check(run_cli, repo, str(post), str(post))
    assert code == 0 and lines[-1].startswith("checked 2 post(s): 0 error(s)")
    assert counts(repo) == (0, 6)  # nothing was kept from the doubled check


def test_an_installation_that_cannot_be_told_apart_has_no_cache(run_cli: RunCli,
                                                                 repo: Path) -> None:
    """Found by a tester: an editor's lock link (`.#compose.py`) in the package crashed the
    check; the cache is simply not used then."""
    import publisher

    lock = Path(publisher.__file__).parent / ".#test-lock.py"
    lock.symlink_to("nobody@host.1234:1")
    try:
        assert checkcache.settings_key(load_settings(repo)) is None
        code, lines = check(run_cli, repo)
    finally:
        lock.unlink()
    assert (code, lines[-1]) == (1, "checked 6 post(s): 4 error(s), 0 warning(s)")
    assert not cache_file(load_settings(repo), os.environ).exists()
