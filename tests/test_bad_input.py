"""Bad input found by trying to break publisher: each gets a one-line error naming the file (and
line), one bad file never stops the others, and nothing is posted from an invalid file."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import RunCli, Site, credentials_env

NOW = "2027-01-01T08:30:00Z"
GOOD = "---\ndate: 2027-01-01 09:00\n---\nA good neighbour.\n"


def _repo(tmp_path: Path, config: str = 'timezone = "Europe/Berlin"\n') -> Path:
    root = tmp_path / "repo"
    (root / "posts").mkdir(parents=True)
    (root / "publisher.toml").write_text(config)
    return root


def test_an_error_for_one_platform_blocks_the_file_for_every_platform(
        site: Site, mastodon_server, x_server, run_cli: RunCli) -> None:
    site.write("posts/long.md", "---\ndate: 2027-01-01 09:00\n---\n" + "p5 long " * 40 + "\n")
    site.write("posts/good.md", "---\ndate: 2027-01-01 09:00\n---\nA good neighbour.\n")
    site.commit_all()

    result = run_cli("publish", "--now", "2027-01-01T08:30:00Z",
                     env=credentials_env(mastodon_server, x_server), cwd=site.root)

    assert result.code == 1
    assert [s["text"] for s in mastodon_server.statuses] == ["A good neighbour."]
    assert [t["text"] for t in x_server.tweets] == ["A good neighbour."]
    assert any(line.startswith("posts/long.md:4: error: x: text is 319 characters")
               for line in result.lines)


@pytest.mark.parametrize(("front", "message"), [
    ("date: 0001-01-01T00:00+01:00", "posts/bad.md:2: error: date 0001-01-01T00:00+01:00 is "
                                     "out of range: use a date between years 2 and 9998"),
    ("date: 2026-12-05T09:00-00:99", "posts/bad.md:2: error: date '2026-12-05T09:00-00:99' has "
                                     "an offset with more than 59 minutes"),
    ("date: 2026-12-05T09:00+15:00", "posts/bad.md:2: error: date 2026-12-05T09:00+15:00 has an "
                                     "offset outside -12:00..+14:00; check the offset"),
    ("date:", "posts/bad.md:2: error: date is empty: write it as 2026-12-05 09:00"),
    ("date: 10:30", "posts/bad.md:2: error: date was read as the number 630 (YAML reads 10:30 "
                    "as 630): write a full date such as 2026-12-05 10:30"),
    ("date: 2027-01-01 09:00\n1: b", "posts/bad.md:1: error: front matter keys must be names "
                                     "(a number or true/false as a key?)"),
    ("- a\n- b", "posts/bad.md:2: error: front matter must be `key: value` lines"),
])
def test_bad_front_matter_is_one_line_and_the_neighbour_still_counts(
        tmp_path: Path, run_cli: RunCli, front: str, message: str) -> None:
    root = _repo(tmp_path)
    (root / "posts" / "bad.md").write_text(f"---\n{front}\n---\nBody.\n")
    (root / "posts" / "good.md").write_text(GOOD)

    result = run_cli("check", "--now", NOW, cwd=root)

    assert result.code == 1
    assert message in result.lines
    assert result.summary == "checked 2 post(s): 1 error(s), 0 warning(s)"


def test_bad_toml_front_matter_names_the_file_line(tmp_path: Path, run_cli: RunCli) -> None:
    root = _repo(tmp_path)
    (root / "posts" / "hugo.md").write_text("+++\ntitle = 'x'\ndate = \n+++\nBody.\n")
    result = run_cli("check", cwd=root)
    assert "posts/hugo.md:3: error: front matter is not valid TOML: Invalid value" in result.lines


def test_a_file_name_that_is_not_utf8_does_not_stop_the_run(
        tmp_path: Path, run_cli: RunCli) -> None:
    root = _repo(tmp_path)
    name = os.fsencode(root / "posts") + b"/caf\xe9.md"
    with open(name, "w") as fh:
        fh.write(GOOD)
    (root / "posts" / "good.md").write_text(GOOD)

    result = run_cli("publish", "--dry-run", "--now", NOW, cwd=root)

    assert "posts/caf\ufffd.md: error: the file name is not UTF-8: rename the file" in result.lines
    assert "posts/good.md -> mastodon (due 2027-01-01 09:00 Europe/Berlin = " \
           "2027-01-01T08:00:00Z)" in result.lines


def test_a_post_symlinked_from_outside_the_repository_is_refused(
        tmp_path: Path, run_cli: RunCli) -> None:
    root = _repo(tmp_path)
    outside = tmp_path / "outside.md"
    outside.write_text(GOOD)
    (root / "posts" / "link.md").symlink_to(outside)
    result = run_cli("check", cwd=root)
    assert result.code == 1
    assert "posts/link.md: error: the file lies outside the repository (a symlink?): keep " \
           "posts inside it" in result.lines


def test_bad_media_in_a_platform_override_is_reported_not_dropped(
        tmp_path: Path, run_cli: RunCli) -> None:
    root = _repo(tmp_path)
    (root / "posts" / "o.md").write_text(
        "---\ndate: 2027-01-01 09:00\nmastodon:\n  media:\n    - pth: images/a.png\n"
        "      alt: ok\n---\nBody.\n")
    result = run_cli("check", "--now", NOW, cwd=root)
    assert result.code == 1
    assert "posts/o.md:5: error: mastodon: each media entry needs a path: `- path: " \
           "images/a.png` and `alt: ...`" in result.lines


@pytest.mark.parametrize(("config", "message"), [
    ('posts_dir = "nope"\n', "error: the posts folder 'nope' does not exist in "),
    ('posts_dir = "../.."\n', "error: publisher.toml: posts_dir = '../..' must be a path inside "
                              "the repository"),
    ('log = "/tmp/elsewhere.jsonl"\n', "error: publisher.toml: log = '/tmp/elsewhere.jsonl' "
                                       "must be a path inside the repository"),
    ("platforms = []\n", "error: publisher.toml: platforms is empty: name at least one"),
    ("max_per_run = 0\n", "error: publisher.toml: max_per_run must be at least 1"),
    ("retries = -1\n", "error: publisher.toml: retries must be at least 0"),
    ("stale_after = -60\n", "error: publisher.toml: stale_after = -60 must be a duration "
                            "between 0 and ten years"),
    ("stale_after = 1e400\n", "error: publisher.toml: stale_after = inf must be a duration "
                              "between 0 and ten years"),
    ("request_timeout = -1\n", "error: publisher.toml: request_timeout must be between 0 and "
                               "600 seconds"),
    ("extra_keys = 5\n", 'error: publisher.toml: extra_keys must be a list such as ["hero"]'),
    ("accounts = 5\n", "error: publisher.toml: accounts must be tables: [accounts.NAME]"),
    ('[accounts.mastodon]\nplatform = "x"\n', "error: publisher.toml: [accounts.mastodon]: the "
                                              "account named 'mastodon' must have platform = "
                                              "'mastodon'"),
])
def test_configuration_that_would_silently_post_nothing_is_an_error(
        tmp_path: Path, run_cli: RunCli, config: str, message: str) -> None:
    root = _repo(tmp_path, config)
    (root / "posts" / "good.md").write_text(GOOD)
    result = run_cli("check", cwd=root)
    assert result.code == 2
    assert result.lines[-1].startswith(message), result.lines


def test_a_log_line_from_a_newer_format_stops_the_run(tmp_path: Path, run_cli: RunCli) -> None:
    root = _repo(tmp_path)
    (root / "posts" / "good.md").write_text(GOOD)
    (root / "published.jsonl").write_text(
        '{"v": 99, "event": "published", "at": "2026-01-01T00:00:00Z", "post": "p", '
        '"account": "x", "digest": "d"}\n')
    result = run_cli("publish", "--dry-run", "--now", NOW, cwd=root)
    assert result.code == 1
    assert result.lines == ["error: published.jsonl:1: this line of the published log is damaged "
                            "(written by a newer publisher (format 99); upgrade); nothing was "
                            "posted. Restore it from git (`git checkout -- published.jsonl`) or "
                            "fix the line by hand"]


def test_a_media_entry_with_a_number_among_unknown_keys_is_named(run_cli: RunCli,
                                                                 tmp_path: Path) -> None:
    """Found by a tester: `{path: a.png, 1: x, foo: y}` crashed sorting the unknown keys."""
    root = _repo(tmp_path)
    (root / "posts" / "a.md").write_text(
        "---\ndate: 2026-12-05 09:00\nmedia:\n  - {path: a.png, alt: A, 1: x, foo: y}\n---\n"
        "Hi\n", encoding="utf-8")
    result = run_cli("check", "--now", "2026-12-03T12:00:00Z", cwd=root)
    assert result.code == 1
    assert ("posts/a.md:4: error: media entry has unknown keys ['1', 'foo']: use path and alt"
            in result.lines)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_post_and_image_are_named_not_a_crash(run_cli: RunCli,
                                                         tmp_path: Path) -> None:
    from tests import images

    root = _repo(tmp_path)
    post = root / "posts" / "a.md"
    post.write_text("---\ndate: 2026-12-05 09:00\n---\nHi\n", encoding="utf-8")
    image = images.write(root / "posts" / "b.png", images.png())
    (root / "posts" / "b.md").write_text(
        "---\ndate: 2026-12-05 09:00\nmedia:\n  - {path: b.png, alt: A}\n---\nHi\n",
        encoding="utf-8")
    post.chmod(0)
    image.chmod(0)
    try:
        result = run_cli("check", "--now", "2026-12-03T12:00:00Z", cwd=root)
    finally:
        post.chmod(0o644)
        image.chmod(0o644)
    assert result.code == 1
    assert any(line.startswith("posts/a.md: error: cannot be read (Permission denied)")
               for line in result.lines)
    assert any(line.startswith("posts/b.md:4: error: b.png: cannot be read (Permission denied)")
               for line in result.lines)
