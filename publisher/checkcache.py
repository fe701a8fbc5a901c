"""What `publisher check` learnt about each post file, kept between runs so that checking a
repository where little changed costs about reading its files (ruff and mypy keep such a
cache for the same reason).

An entry is the post as read and the message composed for each of its accounts. It is used
only while everything it was built from is unchanged:

- the file's bytes (SHA-256 of the very bytes that were parsed) and where the file resolves;
- every media file the messages looked at, found or not: where its path resolves and what is
  there (device, inode, type, size, times) or why nothing is (missing, a loop, no access),
  as seen before it was read. An entry whose media changed while the check ran, or less
  than two seconds before it started (a change inside one time stamp tick could hide, git's
  "racy" case), is not stored;
- the settings, the publisher's own source (by content), the installed distributions and
  the files of the libraries that read and measure posts, Python and its Unicode tables, and
  the time-zone data in use.

Anything else that differs means the post is read and composed again. Only `check` uses the
cache. The file lives in the user's cache folder (`$XDG_CACHE_HOME/publisher`, else
`~/.cache/publisher`), one per repository. It is a pickle, so it is read only from a folder
and a file that are the user's alone, no access for group or others (made 0700 and 0600
here; git checks files out 0644 and folders 0755), opened without following links; a
damaged or foreign file is ignored and replaced. An installation that cannot be
fingerprinted has no cache. `publisher check --no-cache` skips it.
"""

from __future__ import annotations

import gc
import hashlib
import io
import os
import pickle
import stat
import sys
import tempfile
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from publisher.config import Settings
from publisher.posts import FileSignature, Post, file_signature, forget_resolved_folders, real_path

if TYPE_CHECKING:
    from publisher.compose import Composed

FORMAT = 3
# The libraries whose behaviour decides what a post reads as and how long it is (modules).
LIBRARIES = ("markdown_it", "mdurl", "twitter_text", "yaml", "frontmatter", "regex")
RACY_NS = 2_000_000_000  # media changed this close to the store may hide a change: not kept


@dataclass
class Entry:
    sha256: str
    real: str  # where the post file resolves to
    post: Post
    composed: dict[str, Composed]  # account -> message and problems
    media: tuple[tuple[str, FileSignature], ...]  # every media file looked at, as it was


def content_digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def cache_file(settings: Settings, environ: Mapping[str, str]) -> Path:
    base = environ.get("XDG_CACHE_HOME", "")
    if not os.path.isabs(base):  # the XDG spec: a relative value is to be ignored
        base = os.path.join(environ.get("HOME") or os.path.expanduser("~"), ".cache")
    name = hashlib.sha256(str(real_path(settings.root)).encode("utf-8", "surrogateescape"))
    return Path(base) / "publisher" / f"check-{name.hexdigest()[:20]}.pickle"


def settings_key(settings: Settings) -> str | None:
    """Everything outside the post files that decides what `check` finds; None when the
    installation cannot be told apart from another (imported from a zip, an unreadable
    file): then there is no cache."""
    try:
        return _settings_key(settings)
    except (OSError, ValueError):
        return None


def _settings_key(settings: Settings) -> str:
    import publisher

    parts: list[object] = [FORMAT, sys.version, unicodedata.unidata_version, repr(settings)]
    source = hashlib.sha256()
    package = Path(publisher.__file__).parent
    if not package.is_dir():
        raise ValueError("publisher is not installed as files")
    for folder, dirs, names in os.walk(package):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(names):
            if name.endswith((".py", ".json")):
                path = os.path.join(folder, name)
                source.update(os.path.relpath(path, package).encode() + b"\0")
                with open(path, "rb") as fh:
                    source.update(fh.read())
    parts.append(source.hexdigest())
    sites: set[str] = set()
    for module in LIBRARIES:
        parts.append(_module_signature(module, sites))
    for site in sorted(sites):  # which distributions (and versions) are installed there
        parts.append(sorted(n for n in os.listdir(site) if n.endswith(".dist-info")))
    if settings.timezone:
        parts.append(_zone_signature(settings.timezone, sites))
    return hashlib.sha256(repr(parts).encode("utf-8", "surrogateescape")).hexdigest()


def _module_signature(name: str, sites: set[str]) -> object:
    """A library's folder and the size and time of every file in it, found without importing
    it (importing twitter_text alone costs 0.3 s)."""
    import importlib.util

    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        spec = None
    if spec is None or spec.origin is None:
        return (name, None)
    if spec.submodule_search_locations is None:  # a single-file module
        st = os.stat(spec.origin)
        sites.add(os.path.dirname(spec.origin))
        return (name, spec.origin, st.st_size, st.st_mtime_ns)
    folder = os.path.dirname(spec.origin)
    if not os.path.isdir(folder):
        raise ValueError(f"{name} is not installed as files")
    sites.add(os.path.dirname(folder))
    found: list[object] = [name, folder]
    for here, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for file in sorted(names):
            st = os.stat(os.path.join(here, file))
            found.append((os.path.relpath(os.path.join(here, file), folder), st.st_size,
                          st.st_mtime_ns))
    return tuple(found)


def _zone_signature(zone: str, sites: set[str]) -> object:
    import zoneinfo

    for folder in zoneinfo.TZPATH:
        candidate = os.path.join(folder, zone)
        if os.path.isfile(candidate):
            st = os.stat(candidate)
            return (candidate, st.st_size, st.st_mtime_ns)
    return _module_signature("tzdata", sites)  # the zone comes from the tzdata package


class CheckCache:
    """The entries of one repository under one settings key."""

    def __init__(self, file: Path, key: str | None, entries: dict[str, Entry] | None = None,
                 started_ns: int = 0) -> None:
        self.file = file
        self.key = key  # None: no cache (nothing found, nothing kept)
        self.started_ns = started_ns
        self.entries: dict[str, Entry] = entries or {}
        self.hits = 0
        self.misses = 0
        #: Files read this run because no entry held: file -> (digest of the bytes parsed,
        #: where the file resolved when read); None for a file given twice (not kept).
        self.pending: dict[Path, tuple[str, str] | None] = {}
        self._fresh: set[str] = set()  # stored this run: checked again before saving
        self._dirty = False

    @classmethod
    def open(cls, settings: Settings, environ: Mapping[str, str],
             started_ns: int) -> CheckCache:
        """The cache of `settings.root`. `started_ns`: when the check started, on the clock
        file systems stamp files with (`time.time_ns()`), for the racy rule."""
        file = cache_file(settings, environ)
        key = settings_key(settings)
        return cls(file, key, _read(file, key) if key else {}, started_ns)

    def lookup(self, file: Path, digest: str, real: str) -> Entry | None:
        """The entry for `file` (SHA-256 `digest` of its bytes, resolving to `real`) if the
        file and every media file it used are unchanged."""
        entry = self.entries.get(str(file))
        try:
            usable = (entry is not None and entry.sha256 == digest and entry.real == real
                      and all(file_signature(path) == was for path, was in entry.media))
        except (TypeError, ValueError, AttributeError, OSError, RuntimeError):
            usable = False  # an entry of an unexpected shape, or a file that cannot resolve
        if not usable or entry is None:
            self.misses += 1
            return None
        self.hits += 1
        return entry

    def store(self, file: Path, digest: str, real: str, post: Post,
              composed: Mapping[str, Composed]) -> None:
        """Keep what `file` gave: `digest` and `real` as they were when it was read."""
        if self.key is None:
            return
        media = tuple(dict.fromkeys(pair for c in composed.values() for pair in c.media_files))
        self.entries[str(file)] = Entry(digest, real, post, dict(composed), media)
        self._fresh.add(str(file))
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
        if not self._dirty or self.key is None:
            return
        folder = self.file.parent
        try:
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            if not _own_folder(folder):
                return
            self._drop_unsettled()
            fd, tmp = tempfile.mkstemp(dir=folder, prefix=".check-", suffix=".tmp")
            try:
                with os.fdopen(fd, "wb") as out:
                    _Pickler(out, protocol=pickle.HIGHEST_PROTOCOL).dump(
                        (FORMAT, self.key, self.entries))
                os.replace(tmp, self.file)
            except BaseException:
                os.unlink(tmp)
                raise
        except (OSError, pickle.PicklingError, RecursionError):
            return
        self._dirty = False

    def _drop_unsettled(self) -> None:
        """Entries stored this run whose media changed since they were looked at, or less
        than RACY_NS before the check started (a change within the same time stamp tick, up
        to a second on some file systems, could hide): not kept; a later check looks again."""
        forget_resolved_folders()  # see the folders as they are now, not as at the start
        horizon = self.started_ns - RACY_NS
        for name in self._fresh:
            entry = self.entries.get(name)
            if entry is None:
                continue
            for path, was in entry.media:
                times = was[-2:] if len(was) > 2 else ()
                if any(t >= horizon for t in times) or file_signature(path) != was:
                    del self.entries[name]
                    break
        self._fresh.clear()


class _Pickler(pickle.Pickler):
    """Paths are kept as text: rebuilding tens of thousands of Path objects part by part
    was a third of the time of reading the cache; each distinct path is made once."""

    def persistent_id(self, obj: object) -> str | None:
        return str(obj) if type(obj) is _PATH else None


class _Unpickler(pickle.Unpickler):
    def __init__(self, file: io.BytesIO) -> None:
        super().__init__(file)
        self._paths: dict[str, Path] = {}

    def persistent_load(self, pid: object) -> Path:
        if not isinstance(pid, str):
            raise pickle.UnpicklingError("not a path")
        path = self._paths.get(pid)
        if path is None:
            path = self._paths[pid] = Path(pid)
        return path


_PATH = type(Path())


def _own_folder(folder: Path) -> bool:
    """The user's own folder, not a link, that only they can use (we make it 0700)."""
    try:
        st = os.lstat(folder)
    except OSError:
        return False
    return _owner_only(st, stat.S_ISDIR)


def _owner_only(st: os.stat_result, kind: Callable[[int], bool]) -> bool:
    # Exactly the user's and nobody else's: git checks files out 0644 and folders 0755, so
    # a cache committed to a repository (or restored into one) is never taken for ours.
    return kind(st.st_mode) and st.st_uid == os.getuid() and not st.st_mode & 0o077


def _read(file: Path, key: str) -> dict[str, Entry]:
    try:
        # The folder, then the file inside that very folder: neither through a link, and
        # never waiting on a FIFO someone put there.
        folder = os.open(file.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError:
        return {}
    try:
        if not _owner_only(os.fstat(folder), stat.S_ISDIR):
            return {}
        fd = os.open(file.name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=folder)
    except OSError:
        return {}
    finally:
        os.close(folder)
    try:
        with os.fdopen(fd, "rb") as fh:
            # A pickle runs code when read: only the user's own file, 0600 as we write it.
            if not _owner_only(os.fstat(fh.fileno()), stat.S_ISREG):
                return {}
            data = fh.read()
        # Without the cyclic collector walking the objects while they are made (as in
        # pipeline.load): at 10,000 posts it would pass over them again and again.
        enabled = gc.isenabled()
        gc.disable()
        try:
            fmt, stored_key, entries = _Unpickler(io.BytesIO(data)).load()
        finally:
            if enabled:
                gc.enable()
    except Exception:  # missing, damaged or from another version: start over
        return {}
    if fmt != FORMAT or stored_key != key or not isinstance(entries, dict) or not all(
            isinstance(name, str) and _well_formed(entry) for name, entry in entries.items()):
        return {}
    return entries


def _well_formed(entry: object) -> bool:
    return (isinstance(entry, Entry) and isinstance(entry.sha256, str)
            and isinstance(entry.real, str) and isinstance(entry.post, Post)
            and isinstance(entry.composed, dict) and isinstance(entry.media, tuple))
