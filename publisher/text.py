"""Post text: Markdown -> the plain text each platform receives, threads, and length per platform.

Owns the Markdown conversion (markdown-it-py tokens, never regular expressions over Markdown),
image extraction, thread splitting, and the X (twitter-text v3) and Mastodon length counts.
Pure functions, no I/O. Heavy libraries are imported lazily so importing this module is cheap.
"""

from __future__ import annotations

import functools
import re
import sys
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from markdown_it import MarkdownIt
    from markdown_it.token import Token
    from markdown_it.tree import SyntaxTreeNode

__all__ = [
    "BULLET",
    "Length",
    "auto_split",
    "extract_images",
    "mastodon_length",
    "split_thread",
    "to_plain_text",
    "x_length",
]

# The bullet written for items of unordered lists. U+2022 reads as a list in every client;
# note that X weighs it 2 (it is outside twitter-text's weight-1 ranges).
BULLET = "•"

X_LIMIT = 280
X_URL_WEIGHT = 23  # twitter-text v3 transformed_url_length
MASTODON_LIMIT = 500
MASTODON_URL_WEIGHT = 23


# --------------------------------------------------------------------------------------------
# Markdown -> plain text


def _normalise_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


@functools.cache
def _markdown() -> MarkdownIt:
    """The shared parser: CommonMark, strict.

    Strikethrough and tables stay off: plain text cannot show either, and leaving them off
    keeps `~~old~~` and table rows exactly as the author wrote them instead of silently
    dropping markers that carry meaning.
    """
    from markdown_it import MarkdownIt

    class _AsWrittenMarkdownIt(MarkdownIt):
        # markdown-it percent-encodes link destinations and punycodes host names for HTML.
        # Plain text should carry the URL (or image path) exactly as the author wrote it:
        # `<images/my photo.png>` must stay a usable path, and `https://例え.jp` readable.
        def normalizeLink(self, url: str) -> str:
            return url

        def normalizeLinkText(self, link: str) -> str:
            return link

    return _AsWrittenMarkdownIt("commonmark")


@functools.lru_cache(maxsize=64)
def _tokens(source: str) -> tuple[Token, ...]:
    """markdown-it's tokens of `source` (newlines normalised). A post's text is converted,
    searched for images and split into a thread for every platform it goes to: parsed once.
    Callers never change the tokens."""
    return tuple(_markdown().parse(source))


def _tree(markdown: str) -> SyntaxTreeNode:
    from markdown_it.tree import SyntaxTreeNode

    return SyntaxTreeNode(list(_tokens(_normalise_newlines(markdown))))


@functools.lru_cache(maxsize=4096)
def to_plain_text(markdown: str) -> str:
    """Turn a post's Markdown into the plain text a platform receives.

    - emphasis, strong and code markers are dropped (inline code keeps its text);
    - a link becomes `text (URL)`; when the text is the URL itself (or an autolink
      `<https://...>`), the URL alone; images are removed (see `extract_images`);
    - paragraphs and headings are separated by one blank line; soft and hard line breaks
      become `\\n` (people write posts line by line);
    - bullet list items become `• item`, ordered items `1. item` (numbered from the list's
      start, with the author's `.` or `)`), one per line (a blank line between items of a
      loose list); nested lists are indented by the width of the parent marker;
    - blockquote lines are prefixed `> `; code blocks keep their content verbatim without
      fences; HTML is passed through as text; thematic breaks (thread separators, handled
      by `split_thread`) are dropped;
    - escapes and entities become the literal characters; hashtags and mentions are kept
      as written; strikethrough and tables are not Markdown here (CommonMark) and stay as
      written;
    - line endings become `\\n`, trailing whitespace is stripped from every line and blank
      lines from both ends. Code points are kept as written (no NFC normalisation: X
      normalises when counting, Mastodon stores what it gets).
    """
    blocks = _render_blocks(_tree(markdown).children)
    lines = "\n\n".join(blocks).split("\n")
    return "\n".join(line.rstrip() for line in lines).strip("\n")


def extract_images(markdown: str) -> list[tuple[str, str]]:
    """Return `(path, alt)` for every Markdown image in the body, in document order.

    The path is the destination as written (escapes resolved); alt is the image
    description as plain text.
    """
    images: list[tuple[str, str]] = []
    if "![" not in markdown:
        return images  # every image starts `![`: without one there is nothing to parse
    for token in _walk_inline_tokens(_tokens(_normalise_newlines(markdown))):
        if token.type == "image":
            # token.content is the alt's Markdown source; its children are the parsed text.
            images.append((str(token.attrGet("src") or ""), _render_inline(token)))
    return images


def _walk_inline_tokens(tokens: Sequence[Token]) -> Iterable[Token]:
    for token in tokens:
        yield token
        if token.children:
            yield from _walk_inline_tokens(token.children)


def _render_blocks(nodes: Sequence[SyntaxTreeNode]) -> list[str]:
    blocks: list[str] = []
    for node in nodes:
        kind = node.type
        if kind in ("paragraph", "heading"):
            text = _render_inline(node.children[0].token) if node.children else ""
            if text.strip():  # a paragraph holding only an image leaves nothing behind
                blocks.append(text)
        elif kind in ("bullet_list", "ordered_list"):
            blocks.append(_render_list(node))
        elif kind == "blockquote":
            inner = "\n\n".join(_render_blocks(node.children))
            blocks.append("\n".join(f"> {line}" if line else ">" for line in inner.split("\n")))
        elif kind in ("fence", "code_block", "html_block"):
            # Verbatim, but blank lines at its edges would widen the paragraph gap.
            lines = node.content.split("\n")
            while lines and not lines[0].strip():
                del lines[0]
            while lines and not lines[-1].strip():
                del lines[-1]
            if lines:
                blocks.append("\n".join(lines))
        # "hr" (thread separator) and anything unknown carry no text of their own.
    return blocks


def _render_list(node: SyntaxTreeNode) -> str:
    # markdown-it hides the paragraphs of a tight list; a visible one means a loose list.
    loose = any(
        child.type == "paragraph" and not child.hidden
        for item in node.children
        for child in item.children
    )
    joiner = "\n\n" if loose else "\n"
    number = int(str(node.attrs.get("start", 1))) if node.type == "ordered_list" else 0
    items: list[str] = []
    for item in node.children:
        marker = f"{number}{item.markup} " if node.type == "ordered_list" else f"{BULLET} "
        number += 1
        body = joiner.join(_render_blocks(item.children)).split("\n")
        indent = " " * len(marker)
        lines = [marker + body[0]] + [indent + line if line else "" for line in body[1:]]
        items.append("\n".join(lines).rstrip())
    return joiner.join(items)


def _render_inline(inline: Token | None) -> str:
    if inline is None or not inline.children:
        return ""
    out: list[str] = []
    # (index in `out` where the link text starts, href, is an autolink)
    links: list[tuple[int, str, bool]] = []
    after_image = False
    for token in inline.children:
        kind = token.type
        piece: str | None = None
        if kind in ("text", "text_special", "code_inline", "html_inline"):
            piece = token.content
        elif kind in ("softbreak", "hardbreak"):
            piece = "\n"
        elif kind == "image":
            after_image = True
        elif kind == "link_open":
            autolink = token.markup in ("autolink", "linkify")
            links.append((len(out), str(token.attrGet("href") or ""), autolink))
        elif kind == "link_close" and links:
            start, href, autolink = links.pop()
            label = "".join(out[start:])
            del out[start:]
            if autolink or not label.strip() or label == href:
                piece = label if autolink else href
            else:
                piece = f"{label} ({href})"
        # em/strong open and close tokens carry no text: their markers are dropped.
        if piece is None:
            continue
        if after_image:
            # The removed image leaves its surrounding spaces; keep only one.
            previous = out[-1] if out else ""
            if not previous or previous.endswith((" ", "\n")):
                piece = piece.lstrip(" ")
            after_image = piece == ""
        out.append(piece)
    return "".join(out)


# --------------------------------------------------------------------------------------------
# Threads


def split_thread(markdown: str) -> list[str]:
    """Split a body into thread parts at lines holding only `---` between blank lines.

    Only top-level thematic breaks found by the Markdown parser count, so `---` inside a
    fenced code block, a setext heading underline or `***` never splits. Returns the Markdown
    of each part with surrounding blank lines removed; empty parts are dropped.
    """
    source = _normalise_newlines(markdown)
    lines = source.split("\n")
    cuts: list[int] = []
    # Only a line `---` cuts: without one there is nothing to ask the parser.
    has_rule = any(line.strip() == "---" for line in lines)
    for token in _tokens(source) if has_rule else ():
        if token.type != "hr" or token.level != 0 or token.map is None:
            continue
        line = token.map[0]
        before_blank = line == 0 or not lines[line - 1].strip()
        after_blank = line + 1 >= len(lines) or not lines[line + 1].strip()
        if lines[line].strip() == "---" and before_blank and after_blank:
            cuts.append(line)
    parts: list[str] = []
    start = 0
    for cut in [*cuts, len(lines)]:
        part = "\n".join(lines[start:cut]).strip("\n")
        if part.strip():
            parts.append(part)
        start = cut + 1
    return parts


# Break levels for auto_split, coarsest first: blank line, line break, sentence end, space.
# These run over plain text (already converted from Markdown), never over Markdown.
_SPLIT_LEVELS = (
    re.compile(r"\n[ \t]*\n\s*"),
    re.compile(r"\n\s*"),
    re.compile(r"(?<=[.!?…])[\"'”’)\]]*\s+|(?<=[。！？])[」』）]*\s*"),
    re.compile(r"\s+"),
)


def auto_split(text: str, fits: Callable[[str], bool], numbering: bool) -> list[str]:
    """Split plain text into parts that each satisfy `fits`.

    Breaks at paragraphs first, then lines, sentences, and spaces; where a run without
    spaces is still too long, only between two CJK characters or two emoji (whole grapheme
    clusters). Never inside a word, URL, hashtag, mention or grapheme cluster. With
    `numbering`, every part gets a ` k/n` suffix that must fit too; text that fits whole is
    returned as one part without a suffix. Raises ValueError when some unbreakable piece
    cannot fit on its own.
    """
    text = text.strip()
    if fits(text):
        return [text] if text else []
    if not numbering:
        return _pack(text, fits, 0)
    digits = 1
    while True:
        # Reserve the widest suffix this count of digits can produce; k <= n, so " n/n" of
        # all nines is never shorter than the real one.
        widest = " " + "9" * digits + "/" + "9" * digits
        parts = _pack(text, functools.partial(_fits_with_suffix, fits, widest), 0)
        if len(parts) < 10**digits:
            total = len(parts)
            numbered = [f"{part} {k}/{total}" for k, part in enumerate(parts, 1)]
            if all(fits(part) for part in numbered):
                return numbered
        digits += 1
        if digits > 6:  # pragma: no cover - `fits` that accepts nothing useful
            raise ValueError("cannot number the parts so that each fits")


def _fits_with_suffix(fits: Callable[[str], bool], suffix: str, part: str) -> bool:
    return fits(part + suffix)


def _pack(text: str, fits: Callable[[str], bool], level: int) -> list[str]:
    """Greedily join pieces split at `level`; pieces still too long go one level finer."""
    if fits(text):
        return [text]
    if level >= len(_SPLIT_LEVELS):
        return _pack_graphemes(text, fits)
    pieces = _split_at(text, _SPLIT_LEVELS[level], _protected_spans(text))
    if len(pieces) == 1:
        return _pack(text, fits, level + 1)
    parts: list[str] = []
    current = ""
    for separator, piece in pieces:
        candidate = current + separator + piece if current else piece
        if fits(candidate):
            current = candidate
            continue
        if current:
            parts.extend(_pack(current, fits, level + 1))
        current = piece
    if current:
        parts.extend(_pack(current, fits, level + 1))
    return parts


def _split_at(
    text: str, pattern: re.Pattern[str], protected: list[tuple[int, int]]
) -> list[tuple[str, str]]:
    """Split into (separator before, piece) pairs, skipping matches inside protected spans."""
    pieces: list[tuple[str, str]] = []
    start = 0
    separator = ""
    for match in pattern.finditer(text):
        if match.start() == 0 or match.end() >= len(text):
            continue
        if any(a < match.end() and match.start() < b for a, b in protected):
            continue
        pieces.append((separator, text[start : match.start()]))
        separator = match.group()
        start = match.end()
    pieces.append((separator, text[start:]))
    return [(sep, piece) for sep, piece in pieces if piece]


def _protected_spans(text: str) -> list[tuple[int, int]]:
    """URLs (with or without scheme, as X finds them), hashtags and mentions."""
    spans = [
        (int(url["indices"][0]), int(url["indices"][1]))
        for url in twitter_text().extract_urls_with_indices(text)
    ]
    spans.extend(match.span() for match in _TAG_OR_MENTION.finditer(text))
    return spans


_TAG_OR_MENTION = re.compile(r"[#＃@＠][\w@.\-]*\w")


def _pack_graphemes(text: str, fits: Callable[[str], bool]) -> list[str]:
    """Last resort for runs without spaces: break only between two CJK or emoji clusters."""
    clusters = _graphemes(text)
    protected = _protected_spans(text)
    parts: list[str] = []
    current = ""
    offset = 0
    previous = ""
    for cluster in clusters:
        breakable = (
            bool(current)
            and _is_wide(previous)
            and _is_wide(cluster)
            and not any(a < offset < b for a, b in protected)
        )
        if breakable and not fits(current + cluster):
            parts.append(current)
            current = ""
        current += cluster
        offset += len(cluster)
        previous = cluster
    if current:
        parts.append(current)
    for part in parts:
        if not fits(part):
            raise ValueError(f"cannot split without breaking a word or URL: {part[:40]!r}...")
    return parts


def _is_wide(cluster: str) -> bool:
    """CJK ideographs/kana/fullwidth punctuation or an emoji: lines may break around them."""
    return bool(_regex().match(_WIDE_PATTERN, cluster))


def _graphemes(text: str) -> list[str]:
    """Extended grapheme clusters, as Ruby's each_grapheme_cluster (Mastodon) splits them."""
    clusters: list[str] = _regex().findall(r"\X", text)
    return clusters


def _regex() -> Any:
    # The `regex` module knows extended grapheme clusters (\X) and Unicode properties that
    # `re` lacks. It publishes no type stubs, hence Any.
    import regex  # type: ignore[import-untyped]

    return regex


_WIDE_PATTERN = (
    r"[\p{Han}\p{Hiragana}\p{Katakana}\u3000-\u303F\uFF01-\uFF60]"
    r"|\p{Extended_Pictographic}|\p{Regional_Indicator}"
)


# --------------------------------------------------------------------------------------------
# Length


@dataclass(frozen=True)
class Length:
    """A text's length as one platform counts it.

    `has_invalid_characters` is X's own verdict on characters it refuses whatever the
    length (U+FFFE, U+FEFF, U+FFFF); it is always False for Mastodon. An empty text fits:
    refusing empty posts is the post validation's job.
    """

    count: int
    limit: int
    has_invalid_characters: bool = False

    @property
    def fits(self) -> bool:
        """True when the platform accepts the text: within the limit, no invalid characters.

        For X this equals twitter-text's `valid` for any non-empty text.
        """
        return self.count <= self.limit and not self.has_invalid_characters


@functools.lru_cache(maxsize=4096)
def x_length(text: str, limit: int = X_LIMIT) -> Length:
    """X's weighted length (twitter-text v3: URLs 23, CJK and emoji sequences 2, NFC first).

    The count is twitter-text-parser's `parse_tweet(...).weightedLength`, computed from the
    same URL extractor, emoji table and weights without its per-character loop (see
    `_x_weighted_length`; tests compare both on every text they have)."""
    tt = twitter_text()
    # Normalise line endings ourselves so the count never depends on the parser's handling.
    normalised = unicodedata.normalize("NFC", _normalise_newlines(text))
    invalid = tt.has_invalid_characters.has_invalid_characters(normalised)
    return Length(count=_x_weighted_length(normalised), limit=limit,
                  has_invalid_characters=invalid)


# A URL's host ends in `.` and a top-level domain, whose first character is a letter in every
# list twitter-text holds (ASCII, IDN and `xn--` punycode alike).
_DOT_LETTER = re.compile(r"\.[^\W\d_]")
_X_INVALID = frozenset("\ufffe\ufeff\uffff")  # twitter-text's invalid_chars_group


def x_surely_fits(text: str, limit: int = X_LIMIT) -> bool:
    """True when `text` fits X however its URLs and emoji are counted, decided without
    twitter-text: every character weighs at most 2 (1 if ASCII), an emoji sequence 2 (and
    always holds a non-ASCII character), and each URL 23 whatever it replaces, with at most
    one URL per `.` followed by a letter. False means only "count it exactly"
    (`x_length`), never "too long". Tests hold it to `x_length` on every text they have."""
    normalised = unicodedata.normalize("NFC", _normalise_newlines(text))
    if not _X_INVALID.isdisjoint(normalised):
        return False
    ascii_count = len(normalised.encode("ascii", "ignore"))
    bound = ascii_count + 2 * (len(normalised) - ascii_count)
    if bound > limit:
        return False
    return bound + X_URL_WEIGHT * len(_DOT_LETTER.findall(normalised)) <= limit


def x_has_invalid_characters(text: str) -> bool:
    """twitter-text's `has_invalid_characters` of the text X counts (U+FFFE, U+FEFF, U+FFFF),
    without importing it."""
    return not _X_INVALID.isdisjoint(unicodedata.normalize("NFC", _normalise_newlines(text)))


def mastodon_surely_fits(text: str, spoiler_text: str = "", *,
                         url_weight: int = MASTODON_URL_WEIGHT,
                         limit: int = MASTODON_LIMIT) -> bool:
    """True when content warning + text fit Mastodon's `limit` however they are counted:
    graphemes are never more than code points, a mention only shortens, and each URL (which
    Mastodon counts only with its `scheme://`) adds at most `url_weight`. False means
    "count it exactly" (`mastodon_length`)."""
    bound = len(spoiler_text) + len(text)
    return bound + url_weight * text.count("://") <= limit


def twitter_text() -> Any:
    """The `twitter_text` package (twitter-text-parser), imported on first use.

    Its emoji table is read with `pkg_resources.resource_string` (twitter_text/regexp/emoji.py),
    that is setuptools, which Python 3.12+ virtual environments do not install and setuptools
    82 removed. While it imports, that one call is answered from the package's own folder,
    unless the real `pkg_resources` is loaded already (importing it costs about 70 ms)."""
    module = sys.modules.get("twitter_text")
    if module is not None:
        return module
    import importlib
    import types
    from pathlib import Path

    def resource_string(module_name: str, resource: str) -> bytes:
        return (Path(str(sys.modules[module_name].__file__)).parent / resource).read_bytes()

    loaded = sys.modules.get("pkg_resources", _ABSENT)
    shim = None
    if not isinstance(loaded, types.ModuleType):
        shim = types.ModuleType("pkg_resources", "twitter_text's one use of pkg_resources")
        shim.resource_string = resource_string  # type: ignore[attr-defined]
        sys.modules["pkg_resources"] = shim
    try:
        module = importlib.import_module("twitter_text")
        for name in ("config", "has_invalid_characters", "regexp.emoji"):
            importlib.import_module(f"twitter_text.{name}")
    finally:
        if shim is not None and sys.modules.get("pkg_resources") is shim:
            if loaded is _ABSENT:
                del sys.modules["pkg_resources"]
            else:
                sys.modules["pkg_resources"] = loaded  # type: ignore[assignment]
    return module


_ABSENT = object()


@functools.cache
def _x_weights() -> tuple[dict[str, Any], int | None]:
    """twitter-text's default (v3) options, and the weight every ASCII character has under
    them (None if they differed)."""
    tt = twitter_text()
    options: dict[str, Any] = tt.config.config["defaults"]
    ascii_weights = {_char_weight(chr(i), options) for i in range(128)}
    return options, ascii_weights.pop() if len(ascii_weights) == 1 else None


def _char_weight(char: str, options: dict[str, Any]) -> int:
    """twitter_text.get_character_weight: the first range holding the code point."""
    point = ord(char)
    for span in options["ranges"]:
        if span["start"] <= point <= span["end"]:
            return int(span["weight"])
    return int(options["default_weight"])


def _x_weighted_length(text: str) -> int:
    """`parse_tweet(text).weightedLength` for NFC text with `\n` line ends: a URL weighs
    `transformed_url_length`, an emoji sequence `default_weight`, any other character its
    range's weight, walking left to right as parse_tweet does (an entity starting inside the
    one before is skipped)."""
    options, ascii_weight = _x_weights()
    scale = int(options["scale"])
    urls = {int(u["indices"][0]): str(u["url"])
            for u in twitter_text().extract_urls_with_indices(text)}
    emojis = _emoji_at(text) if options.get("emoji_parsing_enabled") else {}
    weights: dict[str, int] = {}

    def plain(start: int, end: int) -> int:
        piece = text[start:end]
        if ascii_weight is not None and piece.isascii():
            return len(piece) * ascii_weight
        total = 0
        for char in piece:
            weight = weights.get(char)
            if weight is None:
                weight = weights[char] = _char_weight(char, options)
            total += weight
        return total

    total = 0
    position = 0
    for start in sorted(urls.keys() | emojis.keys()):
        if start < position:
            continue
        total += plain(position, start)
        if start in urls:
            total += int(options["transformed_url_length"]) * scale
            position = start + len(urls[start])
        else:
            total += int(options["default_weight"])
            position = start + len(emojis[start])
    total += plain(position, len(text))
    return int(total / scale)


def _emoji_at(text: str) -> dict[int, str]:
    """What `twitter_text.extract_emojis_with_indices` finds, by start index. Its pattern
    is tried only where a match can begin: no emoji sequence of twitter-text's table is
    ASCII alone or starts with two ASCII characters (`_emoji_needs_non_ascii` checks)."""
    pattern = twitter_text().regexp.emoji.emoji
    if not _emoji_needs_non_ascii():
        return {m.start(): m.group() for m in pattern.finditer(text)}
    if text.isascii():
        return {}
    found: dict[int, str] = {}
    match = pattern.match
    i, n = 0, len(text)
    while i < n:
        if not text[i].isascii() or (i + 1 < n and not text[i + 1].isascii()):
            m = match(text, i)
            if m is not None and m.end() > i:
                found[i] = m.group()
                i = m.end()
                continue
        i += 1
    return found


@functools.cache
def _emoji_needs_non_ascii() -> bool:
    """Whether every match of twitter-text's emoji pattern has a non-ASCII character among
    its first two (so a search can skip positions followed by ASCII)."""
    emoji = twitter_text().regexp.emoji
    if any(emoji.emoji.match(chr(i)) for i in range(128)):
        return False
    for entry in emoji.emoji_list:
        points = [chr(int(p, 16)) for p in entry.codepoint.split()]
        if "".join(points[:2]).isascii():
            return False
    return True


@functools.lru_cache(maxsize=4096)
def mastodon_length(
    text: str,
    spoiler_text: str = "",
    *,
    url_weight: int = MASTODON_URL_WEIGHT,
    limit: int = MASTODON_LIMIT,
) -> Length:
    """Mastodon's count: extended grapheme clusters of content warning + text.

    Mirrors mastodon/mastodon app/validators/status_length_validator.rb: every auto-linkable
    `http(s)://` URL (found by twitter-text, as Mastodon's Extractor does: not glued to a
    letter or digit, at most 4096 characters) counts `url_weight`, and a mention
    `@user@domain` counts as `@user` (unless the domain is longer than 253 characters).
    Take `limit` and `url_weight` from the instance (`configuration.statuses`).
    """
    countable = _normalise_newlines(spoiler_text) + _mastodon_countable_text(
        _normalise_newlines(text), url_weight)
    # ASCII without \r (gone above): every character is its own grapheme cluster.
    count = len(countable) if countable.isascii() else len(_graphemes(countable))
    return Length(count=count, limit=limit)


# Account::MENTION_RE and USERNAME_RE of current Mastodon (app/models/account.rb).
_MENTION = re.compile(
    r"(?<![=/\w])@(([a-z0-9_]+(?:[a-z0-9_.\-]+[a-z0-9_]+)?)(?:@[\w.\-]+\w+)?)", re.IGNORECASE
)
_MAX_DOMAIN_LENGTH = 253  # Extractor::MAX_DOMAIN_LENGTH


@functools.cache
def _end_mention() -> re.Pattern[str]:
    # twitter-text's end_mention_match: a mention followed by @, a Latin accent or :// is not one.
    twitter_text()
    from twitter_text.regexp.latin_accent_chars import latin_accent_chars

    return re.compile(rf"[@＠{latin_accent_chars.pattern}]|://")


def _mastodon_countable_text(text: str, url_weight: int) -> str:
    entities: list[tuple[int, int, str]] = [
        (int(url["indices"][0]), int(url["indices"][1]), "x" * url_weight)
        for url in twitter_text().extract_urls_with_indices(
            text, extract_urls_without_protocol=False)
    ]
    end_mention = _end_mention()
    for match in _MENTION.finditer(text):
        if end_mention.match(text, match.end()):
            continue
        screen_name = match.group(1)
        _, _, domain = screen_name.partition("@")
        if len(domain) > _MAX_DOMAIN_LENGTH:
            continue
        entities.append((match.start(), match.end(), "@" + screen_name.split("@")[0]))
    # Extractor.remove_overlapping_entities: by start, dropping any that overlap the last kept.
    entities.sort(key=lambda entity: entity[0])
    kept: list[tuple[int, int, str]] = []
    for entity in entities:
        if not kept or kept[-1][1] <= entity[0]:
            kept.append(entity)
    pieces: list[str] = []
    position = 0
    for start, end, replacement in kept:
        pieces.append(text[position:start])
        pieces.append(replacement)
        position = end
    pieces.append(text[position:])
    return "".join(pieces)
