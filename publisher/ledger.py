"""The published log: one JSON object per line, appended, never rewritten.

It is the source of truth for "already published". A post is known by the digest of what
was sent (so renaming its file does not publish it again) and by its path (so an edit after
publishing is noticed, not re-posted). Every append is flushed and fsynced; a line that
cannot be parsed stops the run before anything is posted.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from publisher.errors import LedgerError

Event = Literal["intent", "published", "failed", "uncertain", "resolved"]
EVENTS: tuple[str, ...] = ("intent", "published", "failed", "uncertain", "resolved")
FORMAT_VERSION = 1
HEADER = "# publisher published log: one JSON record per line, appended by publisher; do not edit"


@dataclass(frozen=True)
class Record:
    event: Event
    post: str
    account: str
    digest: str
    at: datetime
    platform: str = ""
    part: int = 0
    parts: int = 1
    key: str = ""
    remote_id: str | None = None
    url: str | None = None
    scheduled: datetime | None = None
    kind: str | None = None
    reason: str | None = None
    run: str | None = None  # which run wrote it: tells a concurrent run's intent from ours
    line: int = 0

    def to_json(self) -> str:
        data: dict[str, Any] = {
            "v": FORMAT_VERSION,
            "event": self.event,
            "at": _iso(self.at),
            "post": self.post,
            "account": self.account,
            "platform": self.platform or self.account,
            "digest": self.digest,
            "part": self.part,
            "parts": self.parts,
        }
        optional: dict[str, Any] = {
            "key": self.key or None,
            "remote_id": self.remote_id,
            "url": self.url,
            "scheduled": _iso(self.scheduled) if self.scheduled else None,
            "kind": self.kind,
            "reason": self.reason,
            "run": self.run,
        }
        data.update({k: v for k, v in optional.items() if v is not None})
        return json.dumps(data, ensure_ascii=False, sort_keys=False)

    @classmethod
    def from_json(cls, text: str, line: int) -> Record:
        return cls.from_data(json.loads(text), line)

    @classmethod
    def from_data(cls, data: Any, line: int) -> Record:
        """A record from a decoded line; raises ValueError, KeyError or TypeError if damaged."""
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        if "v" in data and int(data["v"]) > FORMAT_VERSION:
            raise ValueError(f"written by a newer publisher (format {data['v']}); upgrade")
        event = data["event"]
        if event not in EVENTS:
            raise ValueError(f"unknown event {event!r}")
        get = data.get
        scheduled = get("scheduled")
        account = str(data["account"])
        fields = {
            "event": event,
            "post": str(data["post"]),
            "account": account,
            "digest": str(data["digest"]),
            "at": _parse_iso(data["at"]),
            "platform": str(get("platform", account)),
            "part": int(get("part", 0)),
            "parts": int(get("parts", 1)),
            "key": str(get("key", "")),
            "remote_id": get("remote_id"),
            "url": get("url"),
            "scheduled": _parse_iso(scheduled) if scheduled else None,
            "kind": get("kind"),
            "reason": get("reason"),
            "run": get("run"),
            "line": line,
        }
        # The same fields the dataclass's __init__ sets, without a frozen __setattr__ per
        # field: a log of years holds tens of thousands of records, read on every run.
        record = object.__new__(cls)
        record.__dict__.update(fields)
        return record


# The C scanner behind json.loads without its per-call checks: (value, end), or StopIteration.
_scan_json: Callable[[str, int], tuple[Any, int]] = (
    json.JSONDecoder().scan_once)  # type: ignore[attr-defined]


_fromisoformat = datetime.fromisoformat


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _parse_iso(value: str) -> datetime:
    dt = _fromisoformat(value)
    if dt.tzinfo is None:
        raise ValueError(f"time {value!r} has no zone")
    return dt


@dataclass
class Entry:
    """What the log says about one message (post x account), folded from its records."""

    account: str
    digest: str
    post: str
    parts: int = 1
    published: dict[int, Record] = field(default_factory=dict)
    intents: dict[int, Record] = field(default_factory=dict)
    failures: list[Record] = field(default_factory=list)
    uncertain: dict[int, Record] = field(default_factory=dict)
    resolved: bool = False  # a person said `retry`: due again, even if it is old by now

    @property
    def is_complete(self) -> bool:
        return all(i in self.published for i in range(self.parts))

    @property
    def open_intents(self) -> list[int]:
        """Parts with an intent but no result: the run that wrote them vanished mid-way."""
        return sorted(i for i in self.intents if i not in self.published
                      and i not in self.uncertain
                      and not any(f.part == i and f.at >= self.intents[i].at
                                  for f in self.failures))

    @property
    def last_failure(self) -> Record | None:
        return self.failures[-1] if self.failures else None

    @property
    def first_published(self) -> Record | None:
        return self.published.get(0)


class Ledger:
    """The log file, read once, indexed by (account, digest) and (account, post path)."""

    def __init__(self, path: Path, records: list[Record]) -> None:
        self.path = path
        self.records = records
        self._by_digest: dict[tuple[str, str], Entry] = {}
        self._by_path: dict[tuple[str, str], Entry] = {}
        for record in records:
            self._index(record)

    @classmethod
    def read(cls, path: Path) -> Ledger:
        if not path.exists():
            return cls(path, [])
        records: list[Record] = []
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise LedgerError(f"{path}: cannot be read ({exc}); nothing was posted") from exc
        from_data = Record.from_data
        for number, line in enumerate(text.splitlines(), start=1):
            stripped = line.strip()
            if not stripped or stripped[0] == "#":
                continue
            try:
                try:
                    data, end = _scan_json(stripped, 0)
                except StopIteration:
                    end = -1
                if end != len(stripped):
                    data = json.loads(stripped)  # raises the decoder's own message
                records.append(from_data(data, number))
            except (ValueError, KeyError, TypeError, OverflowError) as exc:
                raise LedgerError(
                    f"{path.name}:{number}: this line of the published log is damaged ({exc}); "
                    "nothing was posted. Restore it from git (`git checkout -- "
                    f"{path.name}`) or fix the line by hand"
                ) from exc
        return cls(path, records)

    def _index(self, record: Record) -> None:
        key = (record.account, record.digest)
        entry = self._by_digest.get(key)
        if entry is None:
            entry = Entry(record.account, record.digest, record.post, record.parts)
            self._by_digest[key] = entry
        entry.parts = max(entry.parts, record.parts)
        entry.post = record.post
        if record.event == "intent":
            entry.intents[record.part] = record
            entry.uncertain.pop(record.part, None)
        elif record.event == "published":
            entry.published[record.part] = record
            entry.uncertain.pop(record.part, None)
        elif record.event == "failed":
            entry.failures.append(record)
        elif record.event == "uncertain":
            entry.uncertain[record.part] = record
        elif record.event == "resolved":
            # A person decided: `retry` forgets intents, failures and uncertainty.
            entry.intents.clear()
            entry.failures.clear()
            entry.uncertain.clear()
            entry.resolved = True
        self._by_path[(record.account, record.post)] = entry

    def lookup(self, account: str, digest: str, post: str) -> tuple[Entry | None, bool]:
        """The entry for a message, and whether it was found only by path (content changed)."""
        entry = self._by_digest.get((account, digest))
        if entry is not None:
            return entry, False
        entry = self._by_path.get((account, post))
        if entry is not None and entry.published:
            return entry, True
        return None, False

    def is_complete_at(self, account: str, post: str) -> bool:
        """Whether the log has every part of the latest message published from `post`."""
        entry = self._by_path.get((account, post))
        return entry is not None and bool(entry.published) and entry.is_complete

    def entries(self) -> Iterator[Entry]:
        return iter(self._by_digest.values())

    def append(self, records: Iterable[Record]) -> None:
        """Append records durably: write, flush, fsync (and fsync the folder for a new file)."""
        batch = list(records)
        if not batch:
            return
        new = not self.path.exists()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lines = "".join(r.to_json() + "\n" for r in batch)
        try:
            with open(self.path, "a", encoding="utf-8") as fh:
                if new:
                    fh.write(HEADER + "\n")
                else:
                    _ensure_newline(self.path)
                fh.write(lines)
                fh.flush()
                os.fsync(fh.fileno())
        except OSError as exc:
            raise LedgerError(f"{self.path}: cannot be written ({exc.strerror}); nothing more "
                              "is posted in this run") from exc
        if new:
            _fsync_dir(self.path.parent)
        for record in batch:
            self.records.append(record)
            self._index(record)


def _ensure_newline(path: Path) -> None:
    """A previous writer that died mid-line must not glue our record onto its fragment."""
    with open(path, "rb+") as fh:
        fh.seek(0, os.SEEK_END)
        if fh.tell() == 0:
            return
        fh.seek(-1, os.SEEK_END)
        if fh.read(1) != b"\n":
            fh.write(b"\n")


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
