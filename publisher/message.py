"""Messages: exactly what one account receives for one post (its parts, their text, media and
options), and the Receipt a platform returns. Built once and shared by `check`, `plan`,
`publish --dry-run` and `publish`, so what a reviewer sees is what is sent.
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Attachment:
    """An image file, checked to lie inside the repository, with its alt text."""

    file: Path
    path: str  # repository-relative
    alt: str | None
    mime: str | None  # from the file's bytes; None when not a supported image
    size: int
    sha256: str

    def describe(self) -> dict[str, Any]:
        return {"path": self.path, "alt": self.alt, "mime": self.mime, "size": self.size,
                "sha256": self.sha256}


@dataclass(frozen=True)
class Poll:
    options: tuple[str, ...]
    duration_seconds: int
    multiple: bool = False
    hide_totals: bool = False


@dataclass(frozen=True)
class Part:
    """One status/post; threads have several, each replying to the one before."""

    text: str
    media: tuple[Attachment, ...] = ()


@dataclass(frozen=True)
class Options:
    content_warning: str | None = None
    sensitive: bool = False
    visibility: str | None = None
    language: str | None = None
    poll: Poll | None = None


@dataclass(frozen=True)
class Message:
    post: str  # repository-relative path of the post
    account: str
    platform: str
    scheduled: datetime
    parts: tuple[Part, ...]
    options: Options = field(default_factory=Options)

    @functools.cached_property
    def digest(self) -> str:
        """A hash of everything that is sent and when; the identity of the message."""
        payload = {
            "scheduled": self.scheduled.isoformat(),
            "platform": self.platform,
            "parts": [
                {"text": p.text, "media": [[m.sha256, m.alt] for m in p.media]}
                for p in self.parts
            ],
            "options": {
                "cw": self.options.content_warning,
                "sensitive": self.options.sensitive,
                "visibility": self.options.visibility,
                "language": self.options.language,
                "poll": (list(self.options.poll.options), self.options.poll.duration_seconds,
                         self.options.poll.multiple, self.options.poll.hide_totals)
                if self.options.poll else None,
            },
        }
        raw = json.dumps(payload, ensure_ascii=False, sort_keys=True).encode("utf-8")
        return "sha256:" + hashlib.sha256(raw).hexdigest()

    def idempotency_key(self, part: int) -> str:
        """Deterministic per post, account, content and part (Mastodon keeps keys an hour)."""
        base = hashlib.sha256(f"{self.account}\n{self.digest}\n{part}".encode()).hexdigest()
        return f"publisher-{base[:40]}"


@dataclass(frozen=True)
class Receipt:
    """What a platform answered for one published part."""

    remote_id: str
    url: str | None
    at: datetime
