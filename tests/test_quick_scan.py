"""A publish run only scans the posts it will not send (drafts, posts not yet due, posts the
log has complete): `scan_post` must agree with the full `load_post` on everything that decides
their state, and hand anything unusual to it. `check` still validates every post."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from publisher.config import load_settings
from publisher.posts import load_post, scan_post
from tests.conftest import RunCli, Site, credentials_env

DATA = Path(__file__).parent / "data"
POSTS = sorted({*DATA.rglob("*.md"), *(Path(__file__).parent.parent / "posts").rglob("*.md")})


@pytest.fixture(scope="module")
def copied(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every post file the tests have, in one repository with images beside them."""
    root = tmp_path_factory.mktemp("scan")
    (root / "publisher.toml").write_text('timezone = "Europe/Berlin"\n', encoding="utf-8")
    for n, path in enumerate(POSTS):
        target = root / "posts" / f"{n:03d}-{path.name}"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
    return root


def test_scan_agrees_with_the_full_read_of_every_post_file(copied: Path) -> None:
    settings = load_settings(copied)
    scanned = 0
    for file in sorted((copied / "posts").glob("*.md")):
        quick = scan_post(settings, file)
        full = load_post(settings, file)
        if quick is None:
            continue
        scanned += 1
        assert (quick.path, quick.date, quick.targets, quick.draft) == (
            full.path, full.date, full.targets, full.draft), file.name
        # What the scan cannot see (key names, media, YAML traps) is not its business; the
        # state-deciding fields above have no problem when it answers.
        assert not [p for p in full.problems if "date" in p.message.split(":")[0]
                    or p.message.startswith(("platforms", "unknown platform", "draft",
                                             "published"))], file.name
    assert scanned >= len(POSTS) // 2


@pytest.mark.parametrize("text", [
    "+++\ndate = 2027-01-01T09:00:00Z\n+++\nTOML is read in full.\n",
    "---\ndate: 2027-01-01 09:00\ndate: 2027-01-02 09:00\n---\nA duplicate date.\n",
    "---\ndate: 2027-01-01 09:00\ndraft: yes please\n---\nNot a flag.\n",
    "---\ndate: 2027-03-28 02:30\n---\nNot a time in Berlin (summer time starts).\n",
    "---\ndate: 2027-10-31 02:30\n---\nTwice in Berlin: a warning.\n",
    "---\ndate: 2027-01-01 09:00\nplatforms: [mastodn]\n---\nA typo.\n",
    "---\ndate: 2027-01-01 09:00\nplatforms: []\n---\nNowhere.\n",
    "---\n2027: date\n---\nA number as a key.\n",
    "---\n- a list\n---\nNot a mapping.\n",
    "---\n---\nEmpty.\n",
    "\n---\ndate: 2027-01-01 09:00\n---\nA blank first line.\n",
    "---\ndate: [2027\n---\nBroken YAML.\n",
    "No front matter at all.\n",
])
def test_scan_leaves_anything_unusual_to_the_full_read(tmp_path: Path, text: str) -> None:
    (tmp_path / "publisher.toml").write_text('timezone = "Europe/Berlin"\n', encoding="utf-8")
    post = tmp_path / "posts" / "a.md"
    post.parent.mkdir()
    post.write_text(text, encoding="utf-8")

    assert scan_post(load_settings(tmp_path), post) is None


BROKEN_FUTURE = """---
date: 2027-03-01 09:00
platforms: [mastodon]
visibilty: public
media:
  - path: images/missing.png
---
Scheduled, with a typo and an image that is not there.
"""
BROKEN_DUE = BROKEN_FUTURE.replace("2027-03-01", "2026-12-05")
NOW = "2026-12-05T08:30:00Z"


def test_publish_leaves_posts_it_does_not_send_to_check(
        site: Site, mastodon_server, run_cli: RunCli) -> None:
    """A scheduled run reads a post that is not due only as far as its date: its problems are
    check's to report (in the pull request), and the run has nothing to say about it."""
    site.write("posts/later.md", BROKEN_FUTURE)
    site.commit_all()
    env = credentials_env(mastodon_server)

    run = run_cli("publish", "--now", NOW, env=env, cwd=site.root)
    check = run_cli("check", "--now", NOW, cwd=site.root)

    assert run.code == 0, run.text
    assert run.summary == "published 0, already published 0, not due 1, failed 0"
    assert check.code == 1
    assert "posts/later.md:4: error: unknown key 'visibilty': did you mean 'visibility'?" \
        in check.text
    assert mastodon_server.statuses == []


def test_publish_validates_a_due_post_in_full_and_sends_nothing_from_it(
        site: Site, mastodon_server, run_cli: RunCli) -> None:
    site.write("posts/now.md", BROKEN_DUE)
    site.commit_all()
    env = credentials_env(mastodon_server)

    run = run_cli("publish", "--now", NOW, env=env, cwd=site.root)

    assert run.code == 1
    assert "posts/now.md:4: error: unknown key 'visibilty'" in run.text
    assert run.summary.startswith("published 0, already published 0, not due 0, failed 1")
    assert mastodon_server.statuses == []
