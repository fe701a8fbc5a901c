"""Length per platform (X weighted, Mastodon graphemes) and splitting long text into parts.

The X cases come from twitter-text's own conformance file (Apache-2.0 test data, copied with
its NOTICE into tests/data/twitter-text-conformance/ so a clean clone has it) and read at test
time, as upstream asks. The TT-01 and TT-03 files are the shared real-world cases.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import regex  # type: ignore[import-untyped]
import yaml

from publisher.text import Length, auto_split, mastodon_length, to_plain_text, x_length

DATA = Path(__file__).parent / "data"


def _load(name: str) -> Any:
    return yaml.safe_load((DATA / name).read_text(encoding="utf-8"))


# --- X: twitter-text conformance --------------------------------------------------------------

CONFORMANCE_SECTIONS = (
    "WeightedTweetsWithDiscountedEmojiCounterTest",
    "UnicodeDirectionalMarkerCounterTest",
)
CONFORMANCE = [
    pytest.param(case, id=f"{section}: {case['description']}")
    for section in CONFORMANCE_SECTIONS
    for case in _load("twitter-text-conformance/validate.yml")["tests"][section]
]


def test_conformance_file_is_the_noticed_copy() -> None:
    import hashlib

    digest = hashlib.sha256((DATA / "twitter-text-conformance/validate.yml").read_bytes())
    notice = (DATA / "twitter-text-conformance/NOTICE.md").read_text(encoding="utf-8")
    assert digest.hexdigest() in notice
    assert len(CONFORMANCE) == 24


@pytest.mark.parametrize("case", CONFORMANCE)
def test_x_length_reproduces_conformance(case: dict[str, Any]) -> None:
    length = x_length(case["text"])
    assert length.count == case["expected"]["weightedLength"]
    assert length.fits == case["expected"]["valid"]


# --- X: TT-01 -----------------------------------------------------------------------------

TT01 = _load("tt01_weighted_cases.yml")["cases"]


def test_tt01_has_all_cases() -> None:
    assert len(TT01) == 15


@pytest.mark.parametrize("case", TT01, ids=[case["id"] for case in TT01])
def test_x_length_tt01(case: dict[str, Any]) -> None:
    assert len(case["text"]) == case["code_points"]
    length = x_length(case["text"])
    assert (length.count, length.fits) == (case["weighted_length"], case["valid"])


def test_x_invalid_characters_are_reported_whatever_the_length() -> None:
    short = x_length("ABC\uffff")
    assert short.has_invalid_characters and not short.fits
    long = x_length("a" * 300 + "\ufffe")
    assert long.has_invalid_characters and long.count == 302  # U+FFFE itself weighs 2
    assert not x_length("plain").has_invalid_characters


def test_x_length_counts_crlf_like_lf() -> None:
    assert x_length("a\r\nb\rc") == x_length("a\nb\nc") == Length(count=5, limit=280)


def test_x_length_custom_limit() -> None:
    assert x_length("a" * 300, limit=4000) == Length(count=300, limit=4000)
    assert x_length("a" * 300, limit=4000).fits


# --- Mastodon: TT-03 ------------------------------------------------------------------------

TT03 = _load("tt03_length_cases.yml")["cases"]


def _concat(parts: list[list[Any]]) -> str:
    return "".join(str(piece) * int(repeat) for piece, repeat in parts)


@pytest.mark.parametrize("case", TT03, ids=[case["id"] for case in TT03])
def test_mastodon_length_tt03(case: dict[str, Any]) -> None:
    text, spoiler = _concat(case["parts"]), _concat(case["spoiler_parts"])
    assert len(spoiler + text) == case["raw_code_points"]
    length = mastodon_length(text, spoiler)
    assert length.count == case["mastodon_length"]
    assert length.fits == case["mastodon_valid_at_500"]
    if case["x_weighted"] is not None:  # null: depends on the emoji data of the X parser
        assert x_length(text).count == case["x_weighted"]


def test_tt03_long_post_fits_mastodon_but_not_x() -> None:
    raw = (DATA / "tt03_mastodon_long_post.md").read_text(encoding="utf-8")
    _, front_matter, _body = raw.split("---\n", 2)
    meta = yaml.safe_load(front_matter)
    text = to_plain_text(meta["mastodon"])
    assert text == meta["mastodon"]  # nothing in it is Markdown
    warning = meta["content_warning"]
    assert len(text) + len(warning) == 623  # what a naive len() would reject

    mastodon = mastodon_length(text, warning)
    assert (mastodon.count, mastodon.fits) == (498, True)
    assert not mastodon_length(text, warning, limit=497).fits

    x = x_length(text)
    assert (x.count, x.fits) == (483, False)


# Shapes from mastodon/mastodon spec/validators/status_length_validator_spec.rb
def test_mastodon_overly_long_url_is_counted_in_full() -> None:
    text = "http://example.com/valid?" + "#foo?" * 1000
    assert mastodon_length(text).count == len(text)


def test_mastodon_overly_long_mention_domain_is_counted_in_full() -> None:
    text = "@alice@" + "b" * 500 + ".com"
    assert mastodon_length(text).count == len(text)


def test_mastodon_url_weight_and_limit_come_from_the_instance() -> None:
    text = "see https://example.org/" + "x" * 40
    assert mastodon_length(text).count == 4 + 23
    assert mastodon_length(text, url_weight=30, limit=31) == Length(count=34, limit=31)


def test_mastodon_counts_our_link_format_url_as_23() -> None:
    # `text (URL)` puts "(" before the URL; Mastodon's extractor still links it.
    text = to_plain_text("Read [our blog](https://example.org/" + "x" * 60 + ").")
    assert text.endswith(")."), text
    assert mastodon_length(text).count == len("Read our blog (") + 23 + len(").")


def test_mastodon_mentions_that_are_not_mentions() -> None:
    # An e-mail address and a handle running into a Latin accent are counted as written.
    assert mastodon_length("foo@example.org").count == 15
    assert mastodon_length("@josé@example.org").count == 17
    assert mastodon_length("@bob@example.org, hi").count == len("@bob, hi")


def test_mastodon_emoji_sequences_are_one_grapheme() -> None:
    assert mastodon_length("✨" * 500).count == 500
    assert mastodon_length("👨\u200d👩\u200d👧\u200d👦🇯🇵👍🏽").count == 3


# --- Thread splitting ---------------------------------------------------------------------


def _fits_x(part: str) -> bool:
    return x_length(part).fits


CJK_AND_EMOJI = (
    "東京の朝は静かです。" * 30
    + "\n\n"
    + "Emoji 👨\u200d👩\u200d👧\u200d👦🏳️\u200d⚧️👍🏽 party! " * 20
    + "Link https://example.org/"
    + "x" * 100
    + " and #タグ @user@example.social. "
    + "🇯🇵👨\u200d👩\u200d👧\u200d👦" * 100
)


def _graphemes(text: str) -> list[str]:
    return list(regex.findall(r"\X", text))


@pytest.mark.parametrize("numbering", [False, True], ids=["plain", "numbered"])
def test_auto_split_cjk_and_emoji_fit_x_and_keep_units_whole(numbering: bool) -> None:
    parts = auto_split(CJK_AND_EMOJI, _fits_x, numbering)
    assert len(parts) > 3
    assert all(x_length(part).fits for part in parts)
    url = "https://example.org/" + "x" * 100
    assert sum(url in part for part in parts) == 1
    assert sum("#タグ" in part for part in parts) == 1
    assert sum("@user@example.social" in part for part in parts) == 1
    # Splitting happened only between grapheme clusters: the clusters of all parts, in
    # order, are exactly the clusters of the text without the whitespace dropped at breaks.
    bodies = [part.rsplit(" ", 1)[0] if numbering else part for part in parts]
    joined = [g for body in bodies for g in _graphemes(body) if not g.isspace()]
    assert joined == [g for g in _graphemes(CJK_AND_EMOJI) if not g.isspace()]
    if numbering:
        assert [part.rsplit(" ", 1)[1] for part in parts] == [
            f"{k}/{len(parts)}" for k in range(1, len(parts) + 1)
        ]


def test_auto_split_prefers_paragraphs_then_sentences() -> None:
    text = "First paragraph, short.\n\nSecond one. It has two sentences."
    assert auto_split(text, lambda part: len(part) <= 40, numbering=False) == [
        "First paragraph, short.",
        "Second one. It has two sentences.",
    ]
    assert auto_split(text, lambda part: len(part) <= 25, numbering=False) == [
        "First paragraph, short.",
        "Second one.",
        "It has two sentences.",
    ]


def test_auto_split_words_when_a_sentence_is_too_long() -> None:
    text = "one two three four five six seven eight nine ten"
    parts = auto_split(text, lambda part: len(part) <= 14, numbering=False)
    assert parts == ["one two three", "four five six", "seven eight", "nine ten"]


def test_auto_split_numbering_suffix_must_fit_too() -> None:
    text = "one two three four five six seven eight nine ten"
    parts = auto_split(text, lambda part: len(part) <= 18, numbering=True)
    assert parts == ["one two three 1/4", "four five six 2/4", "seven eight 3/4", "nine ten 4/4"]
    assert all(len(part) <= 18 for part in parts)


def test_auto_split_numbering_grows_the_suffix_past_nine_parts() -> None:
    text = " ".join(f"w{n:02d}" for n in range(30))
    parts = auto_split(text, lambda part: len(part) <= 13, numbering=True)
    assert len(parts) >= 10
    assert all(len(part) <= 13 for part in parts)
    assert parts[-1].endswith(f" {len(parts)}/{len(parts)}")


def test_auto_split_text_that_fits_is_one_unnumbered_part() -> None:
    assert auto_split("  short  ", _fits_x, numbering=True) == ["short"]
    assert auto_split("", _fits_x, numbering=True) == []


def test_auto_split_never_breaks_a_url_or_word() -> None:
    url = "https://example.org/" + "a" * 300
    with pytest.raises(ValueError, match="cannot split"):
        auto_split(url, lambda part: len(part) <= 100, numbering=False)
    # On X the URL weighs 23 whatever its length, so it fits whole beside "see ".
    parts = auto_split(f"see {url} now", lambda part: x_length(part).count <= 30, False)
    assert parts == [f"see {url}", "now"]


# --- X: our count against twitter-text's own parse_tweet ----------------------------------------

def _texts_for_the_x_count() -> list[str]:
    """Every text the tests have (conformance, TT-01, post bodies and their plain text) and
    generated mixes of what makes X counting hard: emoji sequences, keycaps, skin tones,
    ZWJ, flags, CJK, URLs with and without scheme, combining marks, invalid characters."""
    import random

    texts = [case["text"] for section in CONFORMANCE_SECTIONS
             for case in _load("twitter-text-conformance/validate.yml")["tests"][section]]
    texts += [case["text"] for case in TT01]
    for path in sorted(DATA.rglob("*.md")):
        body = path.read_text(encoding="utf-8", errors="replace")
        texts += [body, to_plain_text(body)]
    pieces = ["a", " ", "#", "1", "*", "\u20e3", "\ufe0f", "👍", "🏽", "\u200d", "👩", "💻",
              "🇩", "🇪", "日", "本", "。", ".", "com", "org", "https://", "http://", "t.co/",
              "/", "x", "©", "®", "™", "ä", "a\u0301", "\n", "\r\n", "\ufffe", "‼", "🏳",
              "example", "@", "\u2028", "é"]
    rng = random.Random(7)
    texts += ["".join(rng.choice(pieces) for _ in range(rng.randint(0, 60)))
              for _ in range(3000)]
    return texts


def test_x_length_equals_twitter_text_parse_tweet() -> None:
    from publisher.text import _normalise_newlines, twitter_text

    parse_tweet = twitter_text().parse_tweet
    differ = [(text, x_length(text).count) for text in _texts_for_the_x_count()
              if x_length(text).count != parse_tweet(_normalise_newlines(text)).weightedLength]
    assert differ == []


def test_x_emoji_search_may_skip_ascii() -> None:
    """The emoji search tries the pattern only where a non-ASCII character is among the next
    two; twitter-text's table must keep allowing that (otherwise it searches everywhere)."""
    from publisher.text import _emoji_needs_non_ascii

    assert _emoji_needs_non_ascii()


def test_twitter_text_works_without_pkg_resources(tmp_path: Path) -> None:
    """twitter-text-parser imports pkg_resources, which Python 3.12+ venvs and setuptools 82+
    lack: publisher answers its one call itself."""
    import subprocess
    import sys

    code = ("import sys; sys.modules['pkg_resources'] = None\n"  # `import pkg_resources` fails
            "from publisher.text import x_length, mastodon_length\n"
            "print(x_length('日本語 😷 https://example.com').count,"
            " mastodon_length('see https://example.org/a/very/long/path').count,"
            " sys.modules['pkg_resources'])\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=tmp_path, check=True)
    assert out.stdout.split() == ["33", "27", "None"]


# --- the cheap bounds that let check skip exact counts --------------------------------------------

def test_x_bound_rests_on_twitter_text_weights() -> None:
    """x_surely_fits assumes no character weighs more than 2, a URL 23 and an emoji 2: true of
    the twitter-text configuration in use."""
    from publisher.text import X_URL_WEIGHT, twitter_text

    options = twitter_text().config.config["defaults"]
    scale = options["scale"]
    assert max([options["default_weight"], *(r["weight"] for r in options["ranges"])]) <= 2 * scale
    assert options["transformed_url_length"] == X_URL_WEIGHT
    assert options["default_weight"] == 2 * scale  # what an emoji sequence weighs
    assert any(r["start"] == 0 and r["end"] >= 127 and r["weight"] == scale
               for r in options["ranges"])  # ASCII weighs 1


def test_x_surely_fits_never_says_fits_when_the_count_says_no() -> None:
    """Around each text's exact count (and for URL-dense texts whose count is far above their
    length) the bound may say "count it", never "fits" wrongly."""
    from publisher.text import x_surely_fits

    texts = _texts_for_the_x_count()
    texts += ["a.co " * 13, "x.com\n" * 12, "例え.jp " * 11, "t.co/abc " * 12, "🏳️‍🌈" * 141]
    wrong = []
    claimed = 0
    for text in texts:
        exact = x_length(text)
        for limit in range(max(0, exact.count - 40), exact.count + 40):
            if x_surely_fits(text, limit):
                claimed += 1
                if not (exact.count <= limit and not exact.has_invalid_characters):
                    wrong.append((text, limit, exact))
    assert wrong == []
    assert claimed > 10_000  # the bound does decide most texts that fit
    assert x_length("a.co " * 13).count == 13 * 23 + 13 and not x_surely_fits("a.co " * 13)


def test_mastodon_surely_fits_never_says_fits_when_the_count_says_no() -> None:
    import random

    from publisher.text import mastodon_surely_fits

    rng = random.Random(11)
    warnings = ["", "CW", "spoilers ahead 🎬", "日本語の注意"]
    texts = _texts_for_the_x_count()
    texts += ["http://a.co " * 22, "https://例え.jp/x " * 20, "@alice@example.social " * 30,
              "👩‍👩‍👧‍👦" * 130]
    wrong = []
    claimed = 0
    for text in texts:
        cw = rng.choice(warnings)
        exact = mastodon_length(text, cw, url_weight=23, limit=500).count
        for limit in range(max(0, exact - 40), exact + 40):
            if mastodon_surely_fits(text, cw, url_weight=23, limit=limit):
                claimed += 1
                if exact > limit:
                    wrong.append((text, cw, limit, exact))
    assert wrong == []
    assert claimed > 10_000
    assert mastodon_length("http://a.co " * 22).count == 22 * 23 + 22
