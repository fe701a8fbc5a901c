"""What `publisher check` learnt about each post file, kept between runs so that checking a
repository where little changed costs about reading its files (ruff and mypy keep such a
cache for the same reason).

An entry is the post as read and the message composed for each of its accounts. It is used
only while everything it was built from is unchanged:

- the file's bytes (SHA-256 of the content, not its time stamp) and where it resolves to;
- every media file the messages looked at, found or not (resolved path, size, times, inode);
- the settings, the publisher's own source files, the versions of the libraries that read
  and measure posts, Python and its Unicode tables, and the time-zone data in use.

Anything else that differs means the post is read and composed again. Only `check` uses the
cache; `publish` always reads and composes what it sends. The file lives in the user's cache
folder (`$XDG_CACHE_HOME/publisher`, else `~/.cache/publisher`), owner-only, one per
repository; it is read only if the user owns it and nobody else can write it (it is a pickle).
A damaged or foreign file is ignored and replaced. `publisher check --no-cache` skips it.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import stat
import sys
import tempfile
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from publisher.config import Settings
from publisher.posts import Post, real_path

if TYPE_CHECKING:
    from publisher.compose import Composed

FORMAT = 1
# The libraries whose behaviour decides what a post reads as and how long it is (modules).
LIBRARIES = ("markdown_it", "twitter_text", "yaml", "frontmatter", "regex")

Signature = tuple[int, int, int, int, int] | None


@dataclass
class Entry:
    sha256: str
    real: str  # where the post file resolves to
    post: Post
    composed: dict[str, Composed]  # account -> message and problems
    media: dict[str, Signature]  # every media file looked at -> its signature then


def content_digest(file: Path) -> str | None:
    """SHA-256 of the file's bytes; None if it cannot be read (then it is not cached)."""
    try:
        with open(file, "rb") as fh:
            return hashlib.sha256(fh.read()).hexdigest()
    except OSError:
        return None


def cache_file(settings: Settings, environ: Mapping[str, str]) -> Path:
    base = environ.get("XDG_CACHE_HOME") or os.path.join(
        environ.get("HOME") or os.path.expanduser("~"), ".cache")
    name = hashlib.sha256(str(real_path(settings.root)).encode("utf-8", "surrogateescape"))
    return Path(base) / "publisher" / f"check-{name.hexdigest()[:20]}.pickle"


def media_signature(path: str) -> Signature:
    """What a media file is now: device, inode, size, modification and change times (so a
    replaced, edited or re-linked file differs); None when it is missing (a post naming it
    has a problem that must not outlive it)."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def settings_key(settings: Settings) -> str:
    """Everything outside the post files that decides what `check` finds."""
    import publisher

    parts: list[object] = [FORMAT, sys.version, unicodedata.unidata_version, repr(settings)]
    package = Path(publisher.__file__).parent
    for folder, _, names in sorted(os.walk(package)):
        for name in sorted(names):
            if name.endswith((".py", ".json")):
                st = os.stat(os.path.join(folder, name))
                parts.append((os.path.relpath(os.path.join(folder, name), package),
                              st.st_size, st.st_mtime_ns))
    for module in LIBRARIES:
        parts.append(_module_signature(module))
    if settings.timezone:
        parts.append(_zone_signature(settings.timezone))
    return hashlib.sha256(repr(parts).encode("utf-8", "surrogateescape")).hexdigest()


def _module_signature(name: str) -> object:
    """Where a library is installed and the size and time of its files: another version is
    other files. Found without importing it (importing twitter_text alone costs 0.3 s)."""
    import importlib.util

    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        spec = None
    if spec is None or spec.origin is None:
        return (name, None)
    folder = os.path.dirname(spec.origin)
    found: list[object] = [name, folder]
    for entry in sorted(os.scandir(folder), key=lambda e: e.name):
        if entry.name.endswith(".py") or ".so" in entry.name:
            st = entry.stat()
            found.append((entry.name, st.st_size, st.st_mtime_ns))
    return tuple(found)


def _zone_signature(zone: str) -> object:
    import zoneinfo

    for folder in zoneinfo.TZPATH:
        candidate = os.path.join(folder, zone)
        if os.path.isfile(candidate):
            st = os.stat(candidate)
            return (candidate, st.st_size, st.st_mtime_ns)
    return _module_signature("tzdata")  # the zone comes from the tzdata package, if any


class CheckCache:
    """The entries of one repository under one settings key."""

    def __init__(self, file: Path, key: str, entries: dict[str, Entry] | None = None) -> None:
        self.file = file
        self.key = key
        self.entries: dict[str, Entry] = entries or {}
        self.hits = 0
        #: Files read this run because no entry held: file -> content digest, to store.
        self.pending: dict[Path, str] = {}
        self.misses = 0
        self._dirty = False

    @classmethod
    def open(cls, settings: Settings, environ: Mapping[str, str]) -> CheckCache:
        file = cache_file(settings, environ)
        key = settings_key(settings)
        return cls(file, key, _read(file, key))

    def lookup(self, file: Path, digest: str) -> Entry | None:
        """The entry for `file` (content SHA-256 `digest`) if the file and every media file
        it used are unchanged."""
        entry = self.entries.get(str(file))
        if (entry is None or entry.sha256 != digest
                or entry.real != str(real_path(file))
                or any(media_signature(path) != was for path, was in entry.media.items())):
            self.misses += 1
            return None
        self.hits += 1
        return entry

    def store(self, file: Path, digest: str, post: Post,
              composed: Mapping[str, Composed]) -> None:
        media = {path: media_signature(path)
                 for c in composed.values() for path in c.media_files}
        self.entries[str(file)] = Entry(digest, str(real_path(file)), post, dict(composed),
                                        media)
        self._dirty = True

    def forget_others(self, keep: set[str]) -> None:
        """Drop entries of files no longer checked (deleted or renamed posts)."""
        gone = [name for name in self.entries if name not in keep]
        for name in gone:
            del self.entries[name]
        self._dirty = self._dirty or bool(gone)

    def save(self) -> None:
        """Write the cache if it changed (atomically, owner-only). A cache that cannot be
        written is not an error: the next check reads the posts again."""
        if not self._dirty:
            return
        try:
            self.file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.file.parent, prefix=".check-", suffix=".tmp")
            try:
                with os.fdopen(fd, "wb") as out:
                    pickle.dump((FORMAT, self.key, self.entries), out,
                                protocol=pickle.HIGHEST_PROTOCOL)
                os.replace(tmp, self.file)
            except BaseException:
                os.unlink(tmp)
                raise
        except (OSError, pickle.PicklingError, RecursionError):
            return
        self._dirty = False


def _read(file: Path, key: str) -> dict[str, Entry]:
    try:
        with open(file, "rb") as fh:
            st = os.fstat(fh.fileno())
            # A pickle runs code when read: only the user's own, unwritable by others.
            if st.st_uid != os.getuid() or st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
                return {}
            data = fh.read()
        # Only a file the user owns and only they can write (checked above) is unpickled.
        fmt, stored_key, entries = pickle.loads(data)  # noqa: S301
    except Exception:  # missing, damaged or from another version: start over
        return {}
    if fmt != FORMAT or stored_key != key or not isinstance(entries, dict):
        return {}
    return entries
