"""The preview is the payload: for every bundled example post and a few data posts, the text
and alt text that `plan --format markdown` and `publish --dry-run` show are compared byte for
byte with what the loopback Mastodon and X servers receive in a real publish."""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass

from tests import images
from tests.conftest import DATA, ROOT, RunCli, Site, credentials_env

EARLY = "2026-12-01T00:00:00Z"  # every post below is still ahead
LATE = "2027-02-01T00:00:00Z"  # every post below is due (with --catch-up)
DATA_POSTS = {
    # MED-03 with a media list per platform: quoted, multi-line, missing and 1,341-character alt
    "preview/med03_alt_per_platform.md": "posts/med03_alt_per_platform.md",
    "check/fm07_toml_hugo_post.md": "posts/fm07_toml_hugo_post.md",  # TOML, [social] text
    "check/tt03_mastodon_498.md": "posts/tt03_mastodon_498.md",  # CW, remote mention, long URL
    "preview/unicode_auto_thread.md": "posts/unicode_auto_thread.md",  # emoji, CJK, auto thread
}


@dataclass(frozen=True)
class Shown:
    """One part as a preview shows it: the exact text and the alt text of each image."""

    text: str
    alts: tuple[str | None, ...]


def parse_preview(lines: list[str]) -> list[Shown]:
    """Read `report.preview` lines (without their indent) back into parts, losslessly."""
    parts: list[Shown] = []
    text: list[str] | None = None
    alts: list[str | None] = []
    in_alt = False

    def close() -> None:
        if text is not None:
            parts.append(Shown("\n".join(text), tuple(alts)))

    for line in lines:
        if re.fullmatch(r"(part \d+/\d+, )?text \(\d+/\d+\):", line):
            close()
            text, alts, in_alt = [], [], False
        elif text is not None and (line == "|" or line.startswith("| ")) and not alts:
            text.append(line[2:])
        elif line.startswith("image "):
            in_alt = False
        elif line.startswith("  alt: "):
            value = line[len("  alt: "):]
            alts.append(None if value == "(no alt text)" else value)
            in_alt = True
        elif in_alt and line.startswith("       "):
            alts[-1] = f"{alts[-1]}\n{line[7:]}"
        else:
            in_alt = False
    close()
    return parts


def dry_run_previews(lines: list[str]) -> dict[tuple[str, str], list[Shown]]:
    out: dict[tuple[str, str], list[Shown]] = {}
    block: list[str] | None = None
    for line in [*lines, ""]:
        head = re.match(r"^(\S+) -> (\S+) \(due ", line)
        if head:
            key = (head.group(1), head.group(2))
            block = []
        elif block is not None and line.startswith("  "):
            block.append(line[2:])
        elif block is not None:
            out[key] = parse_preview(block)
            block = None
    return out


def markdown_previews(lines: list[str]) -> dict[tuple[str, str], list[Shown]]:
    out: dict[tuple[str, str], list[Shown]] = {}
    post = account = fence = None
    block: list[str] = []
    for line in lines:
        if fence is not None:
            if line == fence:
                out[(post, account)] = parse_preview(block)  # type: ignore[index]
                fence = None
            else:
                block.append(line)
        elif m := re.match(r"^#### `(.+)`: ", line):
            post = m.group(1)
        elif m := re.match(r"^\*\*(\S+)\*\*: ", line):
            account = m.group(1)
        elif m := re.fullmatch(r"(`{3,})text", line):
            fence, block = m.group(1), []
    return out


def _site(site: Site) -> None:
    site.write("publisher.toml", 'timezone = "Europe/Berlin"\nallow_missing_alt = true\n')
    shutil.copytree(ROOT / "posts", site.root / "posts", dirs_exist_ok=True)
    for src, dest in DATA_POSTS.items():
        site.copy(DATA / src, dest)
    media = site.root / "posts" / "media"
    images.write(media / "contributors-2026.png", images.png(8, 4))
    images.write(media / "team-photo.jpg", images.jpeg())
    images.write(media / "badge.png", images.png(2, 2))
    images.write(media / "whiteboard.jpg", images.jpeg())
    site.commit_all()


def test_preview_is_byte_for_byte_what_the_servers_receive(
        site: Site, mastodon_server, x_server, run_cli: RunCli) -> None:
    _site(site)
    env = credentials_env(mastodon_server, x_server)

    dry = dry_run_previews(run_cli("publish", "--dry-run", "--catch-up", "--now", LATE,
                                   cwd=site.root).lines)
    markdown = markdown_previews(run_cli("plan", "--format", "markdown", "--now", EARLY,
                                         cwd=site.root).lines)
    run = run_cli("publish", "--catch-up", "--now", LATE, env=env, cwd=site.root)

    # What should go out: every example post except the draft, every data post.
    assert sorted(dry) == sorted([
        ("posts/2027-01-05-launch.md", "mastodon"), ("posts/2027-01-05-launch.md", "x"),
        ("posts/2027-01-12-office-hours.md", "mastodon"),
        ("posts/2027-01-20-release-thread.md", "mastodon"),
        ("posts/2027-01-20-release-thread.md", "x"),
        ("posts/med03_alt_per_platform.md", "mastodon"),
        ("posts/med03_alt_per_platform.md", "x"),
        ("posts/fm07_toml_hugo_post.md", "mastodon"), ("posts/fm07_toml_hugo_post.md", "x"),
        ("posts/tt03_mastodon_498.md", "mastodon"), ("posts/tt03_mastodon_498.md", "x"),
        ("posts/unicode_auto_thread.md", "mastodon"), ("posts/unicode_auto_thread.md", "x"),
    ])
    assert run.summary.startswith("published 13, already published 0, not due 0, failed 0"), \
        run.text
    # The pull-request preview and the dry run show the same thing.
    assert {k: markdown[k] for k in dry} == dry

    # In publishing order (the dry run's), each platform's parts as the servers got them.
    mastodon_sent = [
        Shown(s["text"], tuple(mastodon_server.media[m].description for m in s["media_ids"]))
        for s in mastodon_server.statuses]
    x_sent = [Shown(t["text"], tuple(x_server.media[m].alt_text for m in t["media_ids"]))
              for t in x_server.tweets]
    expected_mastodon = [p for (_, account), parts in dry.items() if account == "mastodon"
                         for p in parts]
    expected_x = [p for (_, account), parts in dry.items() if account == "x" for p in parts]
    assert mastodon_sent == expected_mastodon
    assert x_sent == expected_x
    # Spot checks that the comparison covers the hard cases.
    alts = [a for s in mastodon_sent for a in s.alts]
    assert "Whiteboard photo. Left column: goals.\nRight column: owners." in alts
    assert "Badge text: 'Release 3.0: ready'" in alts
    assert None in alts  # team-photo.jpg, allowed without alt text by the configuration
    assert len([a for a in alts if a and len(a) == 1341]) == 1
    assert "Whiteboard photo. Left column: goals.\nRight column: owners." in [
        a for s in x_sent for a in s.alts]
    assert len(x_sent) == 1 + 1 + 1 + 1 + 1 + 4  # 5 posts, and a thread of 4 parts
    assert any("東京" in s.text and "👩‍💻" in s.text for s in x_sent)


def test_parse_preview_round_trips_what_it_reads() -> None:
    """The parser used above must itself be able to fail: a changed line is noticed."""
    lines = ["text (5/500):", "| a", "|", "| b", "image 1: x.png (image/png, 1.0 KB)",
             "  alt: one", "       two"]
    assert parse_preview(lines) == [Shown("a\n\nb", ("one\ntwo",))]
    assert parse_preview([*lines[:3], "| c", *lines[4:]]) != parse_preview(lines)
