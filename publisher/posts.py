"""Post files: reading front matter (YAML `---` or TOML `+++`), resolving dates, and the
front-matter checks that need no network. One bad file never stops the others: problems are
collected per file as `Problem`s with the line of the offending key.
"""

from __future__ import annotations

import difflib
import functools
import os
import re
import stat
import tomllib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar, Literal
from zoneinfo import ZoneInfo

import frontmatter
import yaml
from frontmatter.default_handlers import BaseHandler, YAMLHandler

from publisher.config import PLATFORM_ALIASES, Settings
from publisher.errors import ConfigError

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Problem:
    """One finding about one file, printed as `path:line: severity: message`."""

    path: str
    line: int | None
    severity: Severity
    message: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"{where}: {self.severity}: {self.message}"


@dataclass(frozen=True)
class MediaRef:
    """An image named by a post: its path as written (relative to the post) and alt text."""

    path: str
    alt: str | None
    line: int | None = None


@dataclass(frozen=True)
class Post:
    path: str  # repository-relative, POSIX separators
    file: Path
    date: datetime | None  # aware, UTC
    targets: tuple[str, ...]
    draft: bool
    body: str
    media: tuple[MediaRef, ...]
    meta: Mapping[str, Any]
    lines: Mapping[tuple[Any, ...], int] = field(default_factory=dict)
    problems: tuple[Problem, ...] = ()
    body_line: int | None = None  # the file line where the body starts

    @property
    def is_valid(self) -> bool:
        return not any(p.severity == "error" for p in self.problems)

    def line(self, *key: Any) -> int | None:
        """The file line of a front-matter key path, e.g. `line("media", 0, "alt")`."""
        while key:
            if key in self.lines:
                return self.lines[key]
            key = key[:-1]
        return None


# Keys a post may carry. Per-platform override tables may carry OVERRIDABLE keys.
OVERRIDABLE = (
    "text", "media", "content_warning", "sensitive", "visibility", "language", "poll", "thread"
)
POST_KEYS = (
    "date", "platforms", "media", "draft", "published", "id", "thread", "poll",
    "content_warning", "sensitive", "visibility", "language", "mastodon", "x", "twitter", "social",
)
# Keys blogs commonly carry for their own use; accepted silently.
BLOG_KEYS = (
    "title", "subtitle", "tags", "categories", "category", "layout", "author", "authors",
    "description", "summary", "slug", "lastmod", "updated", "excerpt", "image", "permalink",
    "aliases", "weight", "series", "keywords", "toc", "comments", "lang", "url", "type",
    "cover", "hero", "canonical_url", "expirydate", "publishdate",
    "$schema",  # an editor's schema association (see README, "Editors")
)


# --- YAML loading ----------------------------------------------------------------------------

_TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"
_BaseLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_BaseLoader):  # type: ignore[valid-type,misc]
    """Safe YAML that keeps timestamps as text (we parse dates ourselves, the same way
    whatever the PyYAML version) and refuses duplicate keys instead of letting the last win."""

    yaml_implicit_resolvers: ClassVar[dict[Any, Any]] = {
        ch: [(tag, rx) for tag, rx in resolvers if tag != _TIMESTAMP_TAG]
        for ch, resolvers in _BaseLoader.yaml_implicit_resolvers.items()
    }

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if isinstance(key_node, yaml.ScalarNode):
                key = key_node.value
                if key in seen:
                    raise _DuplicateKey(key, key_node.start_mark.line, seen[key])
                seen[key] = key_node.start_mark.line
        return super().construct_mapping(node, deep=deep)  # type: ignore[no-any-return]


class _NotMapping(Exception):
    pass


class _DuplicateKey(Exception):
    def __init__(self, key: str, line: int, first: int) -> None:
        self.key, self.line, self.first = key, line, first


def _node_lines(node: yaml.Node, offset: int
                ) -> tuple[dict[tuple[Any, ...], int], dict[tuple[Any, ...], str]]:
    """Lines of keys and list items (1-based, in the file) and the raw text of scalars."""
    lines: dict[tuple[Any, ...], int] = {}
    raw: dict[tuple[Any, ...], str] = {}

    def walk(n: yaml.Node, path: tuple[Any, ...], depth: int) -> None:
        if depth > 4:
            return
        if isinstance(n, yaml.MappingNode):
            for k, v in n.value:
                if isinstance(k, yaml.ScalarNode):
                    p = (*path, k.value)
                    lines[p] = k.start_mark.line + offset
                    walk(v, p, depth + 1)
        elif isinstance(n, yaml.SequenceNode):
            for i, item in enumerate(n.value):
                p = (*path, i)
                lines[p] = item.start_mark.line + offset
                walk(item, p, depth + 1)
        elif isinstance(n, yaml.ScalarNode) and not n.style:  # '' from the C loader
            raw[path] = n.value  # plain (unquoted) scalars are the ones YAML 1.1 reinterprets

    walk(node, (), 0)
    return lines, raw


class _YAML(YAMLHandler):
    """python-frontmatter's YAML handler with our loader; remembers lines for messages."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: dict[tuple[Any, ...], int] = {}
        self.raw: dict[tuple[Any, ...], str] = {}
        self.offset = 1  # file line of the front-matter text's first line

    def load(self, fm: str, **kwargs: Any) -> Any:
        loader = _Loader(fm)
        try:
            node = loader.get_single_node()
            if node is None:
                return {}
            self.lines, self.raw = _node_lines(node, self.offset)
            data = loader.construct_document(node)
            if not isinstance(data, dict):
                raise _NotMapping
            return data
        finally:
            loader.dispose()


class _TOML(BaseHandler):
    """Hugo-style `+++` front matter parsed with the standard library's tomllib (the
    library's own TOML handler silently turns off when the `toml` package is missing)."""

    FM_BOUNDARY: re.Pattern[str] = re.compile(r"^\+{3,}\s*$", re.MULTILINE)
    START_DELIMITER = END_DELIMITER = "+++"

    def __init__(self) -> None:
        super().__init__()
        self.lines: dict[tuple[Any, ...], int] = {}
        self.raw: dict[tuple[Any, ...], str] = {}
        self.offset = 1

    def load(self, fm: str, **kwargs: Any) -> Any:
        table: str | None = None
        for number, text in enumerate(fm.splitlines(), start=self.offset):
            m = re.match(r"\s*\[([A-Za-z0-9_.-]+)\]\s*$", text)
            if m:
                table = m.group(1)
                self.lines.setdefault((table,), number)
                continue
            m = re.match(r"\s*([A-Za-z0-9_-]+)\s*=", text)
            if m:
                key = (table, m.group(1)) if table else (m.group(1),)
                self.lines.setdefault(key, number)
        return tomllib.loads(fm)

    def export(self, metadata: dict[str, object], **kwargs: object) -> str:  # pragma: no cover
        raise NotImplementedError


# --- dates -----------------------------------------------------------------------------------

_DATE_RE = re.compile(
    r"^(?P<date>\d{4}-\d{2}-\d{2})"
    r"(?:[T ](?P<time>\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?))?"
    r"\s*(?P<tz>Z|z|UTC|[+-]\d{2}(?::?\d{2})?)?$"
)


class DateProblem(ValueError):
    pass


def resolve_date(value: object, zone: ZoneInfo | None) -> tuple[datetime, str | None]:
    """The aware UTC instant a front-matter `date` means, and a warning if any.

    An offset in the value wins; a zone-less value is local time in `zone`; a date alone is
    00:00 there. Raises DateProblem with a message that says how to fix the value.
    """
    try:
        return _resolve_date(value, zone)
    except OverflowError:
        raise DateProblem(f"date {value!s} is out of range: use a date between years 2 and "
                          "9998") from None


def _resolve_date(value: object, zone: ZoneInfo | None) -> tuple[datetime, str | None]:
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, date):
        dt = datetime(value.year, value.month, value.day)  # noqa: DTZ001 - zone applied below
    elif isinstance(value, str):
        dt = _parse_date_text(value.strip())
    elif value is None:
        raise DateProblem("date is empty: write it as 2026-12-05 09:00")
    elif isinstance(value, int | float) and not isinstance(value, bool):
        raise DateProblem(f"date was read as the number {value} (YAML reads 10:30 as 630): "
                          "write a full date such as 2026-12-05 10:30")
    else:
        raise DateProblem("date must be a date and time such as 2026-12-05 09:00")
    if dt.tzinfo is not None:
        offset = dt.utcoffset()
        if offset is not None and not timedelta(hours=-12) <= offset <= timedelta(hours=14):
            raise DateProblem(f"date {value!s} has an offset outside -12:00..+14:00; "
                              "check the offset")
        return dt.astimezone(UTC), None
    if zone is None:
        raise DateProblem(
            f"date {value!s} has no time zone: add an offset (e.g. {dt:%Y-%m-%d %H:%M}+01:00) "
            'or set timezone = "Area/City" in publisher.toml'
        )
    return _localize(dt, zone)


def _parse_date_text(text: str) -> datetime:
    m = _DATE_RE.match(text)
    if not m:
        raise DateProblem(
            f"date {text!r} is not understood: write it as 2026-12-05 09:00 "
            "(optionally with an offset such as +01:00 or Z)"
        )
    clock = m.group("time") or "00:00"
    if len(clock.split(":")[0]) == 1:
        clock = "0" + clock
    tz = m.group("tz")
    if tz in ("Z", "z", "UTC"):
        tz = "+00:00"
    elif tz and ":" not in tz:
        tz = f"{tz[:3]}:{tz[3:] or '00'}"
    if tz and int(tz[-2:]) > 59:
        raise DateProblem(f"date {text!r} has an offset with more than 59 minutes")
    iso = f"{m.group('date')}T{clock.replace(',', '.')}{tz or ''}"
    try:
        return datetime.fromisoformat(iso)
    except ValueError as exc:
        raise DateProblem(f"date {text!r} does not exist ({exc})") from exc


def _localize(naive: datetime, zone: ZoneInfo) -> tuple[datetime, str | None]:
    first = naive.replace(tzinfo=zone, fold=0)
    second = naive.replace(tzinfo=zone, fold=1)
    back = first.astimezone(UTC).astimezone(zone).replace(tzinfo=None)
    if back != naive:
        raise DateProblem(
            f"{naive:%Y-%m-%d %H:%M} does not exist in {zone.key} (the clocks skip it when "
            "summer time starts): choose another time or add an explicit offset"
        )
    if first.utcoffset() != second.utcoffset():
        return first.astimezone(UTC), (
            f"{naive:%Y-%m-%d %H:%M} happens twice in {zone.key} (the clocks go back): "
            f"the first one is used ({first:%H:%M%z}); add an offset to choose"
        )
    return first.astimezone(UTC), None


# --- loading ---------------------------------------------------------------------------------


def iter_post_files(settings: Settings) -> Iterator[Path]:
    """Every Markdown file under the posts folder, recursively, in a stable order (that of
    `sorted(base.rglob("*"))`: by path parts; symlinked folders are not entered). One
    `scandir` per folder, so listing costs no system call per file."""
    base = settings.posts_path
    if not base.is_dir():
        raise ConfigError(f"the posts folder {settings.posts_dir!r} does not exist in "
                          f"{settings.root}: create it or set posts_dir in publisher.toml")
    found: list[tuple[tuple[str, ...], Path]] = []
    folders: list[tuple[tuple[str, ...], Path]] = [((), base)]
    while folders:
        parts, folder = folders.pop()
        try:
            with os.scandir(folder) as scan:
                entries = list(scan)
        except OSError:
            continue
        for entry in entries:
            try:
                if entry.is_dir() and not entry.is_symlink():
                    folders.append(((*parts, entry.name), folder / entry.name))
                elif (os.path.splitext(entry.name)[1].lower() in (".md", ".markdown")
                      and entry.is_file()):
                    found.append(((*parts, entry.name), folder / entry.name))
            except OSError:
                continue
    for _, path in sorted(found, key=lambda pair: pair[0]):
        yield path


def load_posts(settings: Settings, paths: Iterable[Path] | None = None) -> list[Post]:
    files = list(paths) if paths is not None else list(iter_post_files(settings))
    return [load_post(settings, f) for f in files]


def relpath(settings: Settings, file: Path) -> str:
    try:
        return file.relative_to(settings.root).as_posix()
    except ValueError:
        pass  # resolve only when the plain path is not under the root (a symlink, `..`)
    try:
        return real_path(file).relative_to(real_path(settings.root)).as_posix()
    except ValueError:
        return file.as_posix()


@functools.lru_cache(maxsize=4096)
def _real_dir(folder: str) -> str:
    """A folder resolved once per run: posts (`real_path`) and media (`file_signature`)
    share it, so within a run both see a folder the same way."""
    return os.path.realpath(folder)


def _real_folder(folder: Path) -> Path:
    return Path(_real_dir(str(folder)))


def forget_resolved_folders() -> None:
    """Folders may have become links since an earlier run in this process (tests, callers
    running several commands), or during this one: resolve them afresh."""
    _real_dir.cache_clear()


def real_path(path: Path) -> Path:
    """`path.resolve()`, for thousands of posts: a file that is not itself a symlink is its
    resolved folder plus its name, so each folder is resolved once per process, not once per
    file (one `lstat` instead of one per path component)."""
    if path.is_absolute() and path.name not in ("", ".", "..") and not path.is_symlink():
        return _real_folder(path.parent) / path.name
    return path.resolve()


#: Where a path leads and what is there: see `file_signature`.
FileSignature = tuple[Any, ...]


def file_signature(path: str) -> FileSignature:
    """Where `path` resolves to and what is there now (whether this process may read it,
    device, inode, type, size, times), or why nothing is (the errno: missing, a loop, no
    permission). Two equal signatures mean the same file, unchanged, reached the same way
    (`publisher.checkcache`)."""
    try:
        st = os.lstat(path)
        if stat.S_ISLNK(st.st_mode):
            real = os.path.realpath(path)
            st = os.stat(path)
        else:  # not a link: its folder resolved (once per folder) plus its name
            head, name = os.path.split(path)
            real = os.path.join(_real_dir(head), name) if name not in (".", "..") \
                else os.path.realpath(path)
    except OSError as exc:
        return (os.path.realpath(path), exc.errno)
    return (real, os.access(path, os.R_OK), st.st_dev, st.st_ino, st.st_mode, st.st_size,
            st.st_mtime_ns, st.st_ctime_ns)


def load_post(settings: Settings, file: Path, data: bytes | None = None) -> Post:
    """Read one post (from `data`, its bytes, when the caller has read them already); never
    raises for bad content, which becomes Problems instead."""
    rel = relpath(settings, file)
    problems: list[Problem] = []
    try:
        rel.encode("utf-8")
    except UnicodeEncodeError:
        rel = rel.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
        return Post(rel, file, None, (), False, "", (), {}, {}, (Problem(
            rel, None, "error", "the file name is not UTF-8: rename the file"),))
    if not real_path(file).is_relative_to(real_path(settings.root)):
        return Post(rel, file, None, (), False, "", (), {}, {}, (Problem(
            rel, None, "error", "the file lies outside the repository (a symlink?): keep "
            "posts inside it"),))

    def bad(message: str, line: int | None = None, severity: Severity = "error") -> None:
        problems.append(Problem(rel, line, severity, message))

    def broken(message: str, line: int | None = None) -> Post:
        bad(message, line)
        return Post(rel, file, None, (), False, "", (), {}, {}, tuple(problems))

    try:
        text = (file.read_bytes() if data is None else data).decode("utf-8-sig")
    except UnicodeDecodeError:
        return broken("not UTF-8 text: save the file as UTF-8")
    except OSError as exc:
        return broken(f"cannot be read ({exc.strerror or exc}): check the file's permissions")
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    first = text.split("\n", 1)[0].strip()
    handler: _YAML | _TOML
    if re.fullmatch(r"\+{3,}", first):
        handler = _TOML()
    elif re.fullmatch(r"-{3,}", first):
        handler = _YAML()
    else:
        return broken("no front matter: start the file with a line '---', then `date:` etc.", 1)
    try:
        fm_text, raw_body = handler.split(text)
    except ValueError:
        return broken(f"front matter is not closed: add a line '{first}' after the last key", 1)
    # The library hands the handler the text after the opening delimiter's match; count the
    # lines before it so every key is reported on its own line of the file.
    opening = handler.FM_BOUNDARY.search(text)
    handler.offset = offset = text[: opening.end() if opening else 0].count("\n") + 1
    closing_line = offset + fm_text.count("\n")
    try:
        post = frontmatter.loads(text, handler=handler)
    except _DuplicateKey as dup:
        return broken(
            f"duplicate key {dup.key!r} (first on line {dup.first + offset}): keep only one",
            dup.line + offset,
        )
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + offset if exc.problem_mark else None
        return broken(f"front matter is not valid YAML: {exc.problem}", line)
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"\(at line (\d+), column \d+\)", str(exc))
        reason = re.sub(r"\s*\(at line.*\)$", "", str(exc))
        return broken(f"front matter is not valid TOML: {reason}",
                      int(m.group(1)) if m else None)
    except _NotMapping:
        return broken("front matter must be `key: value` lines", 2)
    except TypeError:
        return broken("front matter keys must be names (a number or true/false as a key?)", 1)
    except (yaml.YAMLError, ValueError) as exc:
        return broken(f"front matter is not valid: {exc}", None)
    meta: dict[str, Any] = dict(post.metadata)
    body = post.content
    lines = handler.lines
    raw = handler.raw
    if not meta:
        bad("front matter is empty: add at least `date:`", 1)

    def key_line(*key: Any) -> int | None:
        return lines.get(key)

    _check_keys(meta, settings, bad, key_line)
    _check_yaml_traps(meta, raw, bad, lines, settings)

    draft = meta.get("draft") is True or meta.get("published") is False
    for flag in ("draft", "published"):
        if flag in meta and not isinstance(meta[flag], bool):
            bad(f"{flag} must be true or false", key_line(flag))

    when: datetime | None = None
    if "date" not in meta:
        if meta:
            bad("no date: add `date: 2026-12-05 09:00` (the post is not scheduled without one)",
                1)
    else:
        try:
            when, warning = resolve_date(meta["date"], settings.zone)
            if warning:
                bad(warning, key_line("date"), "warning")
        except DateProblem as exc:
            bad(str(exc), key_line("date"))

    targets = _targets(meta, settings, bad, key_line)
    media = parse_media(meta.get("media"), ("media",), bad, lines)
    return Post(rel, file, when, targets, draft, body, media, meta, lines, tuple(problems),
                body_line=_first_text_line(raw_body, closing_line))


def scan_post(settings: Settings, file: Path) -> Post | None:
    """Only what decides a post's state when it needs nothing else: its date, platforms and
    draft flag, without the checks `load_post` runs (other keys, YAML traps, media, line
    numbers). A publish run uses it for posts that are drafts, not yet due or already
    published, which it neither sends nor reports on. None when the file is not plainly
    well-formed (TOML, a date, platform or flag with a problem, anything unusual): `load_post`
    then reads it and reports what is wrong. The Post has no body, media or other keys."""
    name = str(file)
    root = str(settings.root).rstrip("/") + "/"
    if not name.startswith(root) or "/../" in name or "/./" in name:
        return None
    rel = name[len(root):]
    try:
        rel.encode("utf-8")
        with open(name, encoding="utf-8-sig") as fh:  # not Path.read_text: thousands of files
            text = fh.read()
    except (OSError, UnicodeError):
        return None
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    first = text[:text.find("\n")].strip() if "\n" in text else text.strip()
    if len(first) < 3 or first.strip("-"):
        return None
    # What python-frontmatter does with the text in `load_post`, without its Post object.
    pieces = _YAML.FM_BOUNDARY.split(text.strip(), 2)
    if len(pieces) != 3 or pieces[0]:
        return None
    meta: dict[str, Any] = {}
    loader = _Loader(pieces[1])
    try:
        node = loader.get_single_node()
        if not isinstance(node, yaml.MappingNode) or not node.value:
            return None
        for key_node, value_node in node.value:
            key = key_node.value
            if (not isinstance(key_node, yaml.ScalarNode) or key_node.tag != _STR_TAG
                    or key in meta or key == "<<"):
                return None  # not a plain key, a duplicate or a merge: load_post decides
            meta[key] = (loader.construct_object(value_node, deep=True)
                         if key in _STATE_KEYS else None)
    except (yaml.YAMLError, _DuplicateKey, TypeError, ValueError):
        return None
    finally:
        loader.dispose()
    problems: list[str] = []

    def bad(message: str, *args: Any) -> None:
        problems.append(message)

    for flag in ("draft", "published"):
        if flag in meta and not isinstance(meta[flag], bool):
            return None
    try:
        when, warning = resolve_date(meta.get("date"), settings.zone)
    except DateProblem:
        return None
    targets = _targets(meta, settings, bad, lambda *key: None)
    if warning or problems or not targets:
        return None
    draft = meta.get("draft") is True or meta.get("published") is False
    state = {k: meta[k] for k in _STATE_KEYS if k in meta}
    return Post(rel, file, when, targets, draft, "", (), state)


_STATE_KEYS = ("date", "platforms", "draft", "published")
_STR_TAG = "tag:yaml.org,2002:str"


def _first_text_line(body: str, start: int) -> int:
    """The line of the body's first non-blank line (or where the body starts)."""
    for number, line in enumerate(body.split("\n"), start=start):
        if line.strip():
            return number
    return start


def _targets(meta: Mapping[str, Any], settings: Settings, bad: Any,
             key_line: Any) -> tuple[str, ...]:
    value = meta.get("platforms")
    if value is None:
        return settings.platforms
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        bad("platforms must be a list such as [mastodon, x]", key_line("platforms"))
        return ()
    out: list[str] = []
    for i, name in enumerate(value):
        name = PLATFORM_ALIASES.get(name.lower(), name.lower())
        if name not in settings.accounts:
            hint = difflib.get_close_matches(name, settings.target_names, n=1)
            did = f" (did you mean {hint[0]!r}?)" if hint else ""
            bad(f"unknown platform {name!r}{did}; known: {', '.join(settings.target_names)}",
                key_line("platforms", i) or key_line("platforms"))
        elif name not in out:
            out.append(name)
    if not out and not value:
        bad("platforms is empty: name at least one platform", key_line("platforms"))
    return tuple(out)


def parse_media(value: object, key: tuple[Any, ...], bad: Any,
           lines: Mapping[tuple[Any, ...], int]) -> tuple[MediaRef, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        bad("media must be a list of {path, alt} entries", lines.get(key))
        return ()
    out: list[MediaRef] = []
    for i, item in enumerate(value):
        line = lines.get((*key, i))
        if isinstance(item, str):
            item = {"path": item}
        if not isinstance(item, dict) or not isinstance(item.get("path"), str):
            bad("each media entry needs a path: `- path: images/a.png` and `alt: ...`", line)
            continue
        unknown = set(item) - {"path", "alt"}
        if unknown:
            bad(f"media entry has unknown keys {sorted(map(str, unknown))}: use path and alt",
                line)
        alt = item.get("alt")
        if alt is not None and not isinstance(alt, str | int | float):
            bad("alt must be text", lines.get((*key, i, "alt"), line))
            alt = None
        elif alt is not None and not isinstance(alt, str):
            alt = str(alt)  # a number or true/false: named by the YAML trap check
        out.append(MediaRef(item["path"], alt, line))
    return tuple(out)


def _check_keys(meta: Mapping[str, Any], settings: Settings, bad: Any, key_line: Any) -> None:
    known = [*POST_KEYS, *settings.accounts]
    allowed = {*known, *BLOG_KEYS, *settings.extra_keys}
    for key in meta:
        if key in allowed:
            continue
        close = difflib.get_close_matches(str(key), known, n=1, cutoff=0.75)
        if key == "images" and "media" not in meta and _looks_like_media(meta[key]):
            # Shaped like our media list: the author means attachments, which would be lost.
            bad("unknown key 'images' (did you mean 'media'?): images are attached from "
                "`media:`; rename the key", key_line(key))
        elif close:
            # A typo of a key we act on changes what gets posted (`draf: true`): an error.
            bad(f"unknown key {key!r}: did you mean {close[0]!r}? Rename it", key_line(key))
        else:
            bad(f"unknown key {key!r} is ignored (list it under extra_keys in publisher.toml "
                "to silence this)", key_line(key), "warning")
    names = [*settings.accounts, *PLATFORM_ALIASES]
    social = meta.get("social")
    if social is not None and not isinstance(social, dict):
        bad("social must be a table of per-platform overrides such as `social: {x: {text: "
            "...}}`", key_line("social"))
    tables: list[tuple[tuple[str, ...], Any]] = [((name,), meta.get(name)) for name in names]
    for name, table in social.items() if isinstance(social, dict) else ():
        if name not in names:
            hint = difflib.get_close_matches(str(name), names, n=1)
            did = f" (did you mean {hint[0]!r}?)" if hint else ""
            bad(f"social: unknown platform or account {name!r}{did}",
                key_line("social", name) or key_line("social"))
        tables.append((("social", name), table))
    for path, table in tables:
        label = ".".join(map(str, path))
        if isinstance(table, dict):
            for sub in table:
                if sub not in OVERRIDABLE:
                    hint = difflib.get_close_matches(str(sub), OVERRIDABLE, n=1)
                    did = f" (did you mean {hint[0]!r}?)" if hint else ""
                    bad(f"{label}: unknown key {sub!r}{did}; allowed: {', '.join(OVERRIDABLE)}",
                        key_line(*path, sub) or key_line(*path))
        elif table is not None and not isinstance(table, str | bool | int | float):
            bad(f"{label} must be the text for that platform or a table of overrides",
                key_line(*path))


def _looks_like_media(value: object) -> bool:
    return isinstance(value, list) and any(isinstance(i, dict) and "path" in i for i in value)


_TEXT_KEYS = ("content_warning", "language", "visibility", "id")  # `thread` takes false
_SEXAGESIMAL = re.compile(r"^[-+]?\d+(?::[0-5]?\d)+$")


def _text_paths(meta: Mapping[str, Any], settings: Settings) -> Iterator[tuple[Any, ...]]:
    """Every front-matter path whose value is sent as text (so must be a string)."""
    text_subkeys = ("text", "content_warning", "language", "visibility")
    tables = [*settings.accounts, *PLATFORM_ALIASES]
    yield from ((k,) for k in (*_TEXT_KEYS, *tables))
    for name in tables:
        yield from ((name, k) for k in text_subkeys)
        yield ("social", name)
        yield from (("social", name, k) for k in text_subkeys)
    for prefix in [(), *((name,) for name in tables), *(("social", n) for n in tables)]:
        container: Any = meta
        for step in prefix:
            container = container.get(step) if isinstance(container, dict) else None
        if not isinstance(container, dict):
            continue
        media, poll = container.get("media"), container.get("poll")
        for i in range(len(media) if isinstance(media, list) else 0):
            yield (*prefix, "media", i)
            yield (*prefix, "media", i, "path")
            yield (*prefix, "media", i, "alt")
        options = poll.get("options") if isinstance(poll, dict) else None
        for i in range(len(options) if isinstance(options, list) else 0):
            yield (*prefix, "poll", "options", i)


def _has_number_or_flag(value: Any, depth: int) -> bool:
    """Whether a bool, int or float lies where `_text_paths` reaches (paths of up to 5 steps)."""
    if isinstance(value, bool | int | float):
        return True
    if depth > 4:
        return False
    if isinstance(value, dict):
        return any(_has_number_or_flag(v, depth + 1) for v in value.values())
    if isinstance(value, list):
        return any(_has_number_or_flag(v, depth + 1) for v in value)
    return False


def _check_yaml_traps(meta: Mapping[str, Any], raw: Mapping[tuple[Any, ...], str], bad: Any,
                      lines: Mapping[tuple[Any, ...], int], settings: Settings) -> None:
    """Name YAML 1.1's surprises plainly where text is expected: `no` read as false, `10:30`
    read as the number 630, `2026` read as a number."""
    if not _has_number_or_flag(meta, 0):
        return  # nothing was read as true/false or a number: no trap to name
    for path in _text_paths(meta, settings):
        value: Any = meta
        for step in path:
            found = (isinstance(value, dict) and step in value) or (
                isinstance(value, list) and isinstance(step, int) and step < len(value))
            if found:
                value = value[step]
            else:
                value = None
                break
        if not isinstance(value, bool | int | float):
            continue
        name = ".".join(str(p) for p in path)
        text = raw.get(path, str(value).lower() if isinstance(value, bool) else str(value))
        fix = f'quote it: "{text}"'
        where = lines.get(path) or lines.get(path[:-1]) or lines.get(path[:1])
        if isinstance(value, bool):
            bad(f"{name}: {text} was read as {str(value).lower()} (YAML 1.1), not text; {fix}",
                where)
        elif isinstance(value, int) and _SEXAGESIMAL.match(text):
            bad(f"{name}: {text} was read as the number {value} (YAML 1.1 base-60); {fix}",
                where)
        else:
            bad(f"{name}: {text} was read as a number, not text; {fix}", where)


def due_in(when: datetime, now: datetime) -> timedelta:
    return when - now
