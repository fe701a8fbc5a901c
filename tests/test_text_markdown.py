"""Markdown -> plain text: exact outputs, one data file pair per edge case under tests/data/text/.

Each `<case>.md` is a post body; `<case>.txt` holds the exact plain text (its final newline is
the file's, not part of the expected text).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from publisher.text import extract_images, split_thread, to_plain_text

DATA = Path(__file__).parent / "data"
CASES = sorted((DATA / "text").glob("*.md"))


def _read(path: Path) -> str:
    # Bytes, not read_text: universal newlines would hide the line endings under test.
    return path.read_bytes().decode("utf-8").removesuffix("\n")


def test_every_case_has_an_expected_output() -> None:
    assert len(CASES) >= 20
    missing = [case.name for case in CASES if not case.with_suffix(".txt").exists()]
    assert missing == []


@pytest.mark.parametrize("case", CASES, ids=[case.stem for case in CASES])
def test_plain_text_matches_expected_file(case: Path) -> None:
    assert to_plain_text(_read(case)) == _read(case.with_suffix(".txt"))


def test_issue_example_body() -> None:
    body = "We are **live**! Read the announcement at [our blog](https://example.org/launch)."
    assert to_plain_text(body) == (
        "We are live! Read the announcement at our blog (https://example.org/launch)."
    )


def test_crlf_and_cr_line_endings_become_newlines() -> None:
    body = "First line\r\nsecond line  \r\n\r\nnext paragraph\rold Mac line\r\n"
    assert to_plain_text(body) == "First line\nsecond line\n\nnext paragraph\nold Mac line"


def test_hashtag_at_line_start_is_not_a_heading() -> None:
    assert to_plain_text("#launch\n#release") == "#launch\n#release"


def test_email_autolink_keeps_the_address() -> None:
    assert to_plain_text("Write to <team@example.org>.") == "Write to team@example.org."


def test_linked_image_leaves_the_url() -> None:
    assert to_plain_text("[![logo](logo.png)](https://example.org)") == "https://example.org"


def test_code_points_are_kept_as_written() -> None:
    # No NFC: "e" + combining acute stays two code points.
    assert to_plain_text("Caf\u0065\u0301") == "Caf\u0065\u0301"


def test_empty_and_image_only_bodies_give_empty_text() -> None:
    assert to_plain_text("") == ""
    assert to_plain_text("![only a picture](a.png)\n") == ""


def test_images_are_extracted_in_order_with_alt_text() -> None:
    body = _read(DATA / "text" / "images_removed.md")
    assert extract_images(body) == [
        ("images/rocket.png", "a paper rocket"),
        ("images/chart.png", "A chart, alone in its paragraph"),
        ("a.png", "leading image"),
        ("images/my photo.png", "trailing"),
    ]


def test_extract_images_alt_is_plain_text_and_empty_alt_is_kept() -> None:
    assert extract_images("![A *bold* move](x.png) ![](y.png)") == [
        ("x.png", "A bold move"),
        ("y.png", ""),
    ]


def test_split_thread_only_at_top_level_dashes_between_blank_lines() -> None:
    parts = split_thread(_read(DATA / "thread_three_parts.md"))
    assert parts == [
        "Part one.",
        "Part two with code:\n\n```\n\n---\n\n```\n\nNot a split either:\nSetext heading\n---",
        "Part three.",
    ]
    assert to_plain_text(parts[1]) == (
        "Part two with code:\n\n---\n\nNot a split either:\nSetext heading"
    )


def test_split_thread_without_separator_is_one_part() -> None:
    assert split_thread("Just one post.\n\n***\n\nStill one.") == [
        "Just one post.\n\n***\n\nStill one."
    ]


def test_split_thread_drops_empty_parts_and_handles_crlf() -> None:
    assert split_thread("---\r\n\r\nA\r\n\r\n---\r\n\r\n---\r\n\r\nB\r\n\r\n---\r\n") == ["A", "B"]
