"""The platform interface: declared limits, a network-free check of a Message, and the
calls a pipeline makes to publish one part. Limits are plain data so `check` needs neither
credentials nor the client libraries."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Protocol

from publisher import text as textmod
from publisher.message import Message, Part, Receipt


@dataclass(frozen=True)
class Limits:
    platform: str
    max_characters: int
    max_images: int
    image_types: tuple[str, ...]
    max_image_bytes: int
    max_gif_bytes: int
    max_alt: int
    url_weight: int = 23
    gif_alone: bool = False  # X: one animated GIF, or up to 4 photos, never mixed
    poll_options: tuple[int, int] = (2, 4)
    poll_option_chars: int = 50
    poll_seconds: tuple[int, int] = (300, 2629746)

    def length(self, part_text: str, content_warning: str | None = None) -> int:
        """The platform's own count of a part's text (and the content warning where it counts)."""
        if self.platform == "x":
            return textmod.x_length(part_text, self.max_characters).count
        return textmod.mastodon_length(
            part_text, content_warning or "", url_weight=self.url_weight,
            limit=self.max_characters,
        ).count

    def fits(self, part_text: str, content_warning: str | None = None) -> bool:
        if self.surely_fits(part_text, content_warning):
            return True
        if self.platform == "x":
            return textmod.x_length(part_text, self.max_characters).fits
        return self.length(part_text, content_warning) <= self.max_characters

    def surely_fits(self, part_text: str, content_warning: str | None = None) -> bool:
        """A cheap bound that proves the text fits (no exact count, no twitter-text import);
        False only means the exact count must decide."""
        if self.platform == "x":
            return textmod.x_surely_fits(part_text, self.max_characters)
        return textmod.mastodon_surely_fits(part_text, content_warning or "",
                                            url_weight=self.url_weight,
                                            limit=self.max_characters)


IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp")
MB = 1024 * 1024


def default_limits(platform: str, **overrides: int) -> Limits:
    if platform == "x":
        base = Limits("x", 280, 4, IMAGE_TYPES, 5 * MB, 15 * MB, 1000, gif_alone=True,
                      poll_options=(2, 4), poll_option_chars=25, poll_seconds=(300, 7 * 86400))
    else:
        base = Limits("mastodon", 500, 4, IMAGE_TYPES, 16 * MB, 16 * MB, 1500)
    return replace(base, **overrides) if overrides else base  # type: ignore[arg-type]


class Platform(Protocol):
    """A connected network account. Implementations translate their library's errors into
    `publisher.errors.PlatformError` subclasses at one place."""

    name: str
    #: True when the server itself refuses a repeated post (X's "duplicate content"), so a
    #: re-send after an unanswered attempt cannot create a second post.
    refuses_duplicates: bool

    def limits(self) -> Limits:
        """Limits as the server states them (fetched at most once per run)."""
        ...

    def publish(self, message: Message, index: int, part: Part, reply_to: str | None,
                key: str) -> Receipt:
        """Send one part (uploading its media first); raise PlatformError on failure."""
        ...

    def find(self, message: Message, index: int, part: Part, *, since: datetime,
             reply_to: str | None, exclude: frozenset[str]) -> Receipt | None:
        """Look for this part among the account's posts made since `since` (the outcome of a
        lost attempt): same text, same parent, and not one the log already holds."""
        ...


Sleep = Callable[[float], None]
