"""Pure scheduling: given posts, the published log and `now`, the state of every
(post, account) pair. State comes from front matter and the log only, never from git
history or the time a run happens to start, so late and dropped runs lose nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Literal

from publisher.config import Settings
from publisher.ledger import Entry, Ledger
from publisher.posts import Post, Problem

if TYPE_CHECKING:
    from publisher.compose import Composed

State = Literal[
    "draft",       # never published
    "invalid",     # the file or its message has errors
    "scheduled",   # date in the future
    "due",         # to be published in this run
    "deferred",    # due, but over this run's max_per_run
    "published",   # the log has every part
    "missed",      # due longer ago than stale_after and never published
    "uncertain",   # an attempt's outcome is unknown: a person decides
    "failed",      # refused permanently for this content
]

ComposeFn = Callable[[Post, str], "Composed"]
PERMANENT_KINDS = ("rejected", "duplicate")


@dataclass(frozen=True)
class Item:
    post: Post
    account: str
    state: State
    composed: Composed | None = None
    entry: Entry | None = None
    note: str = ""
    changed: bool = False  # some parts are published, but the file was edited since

    @property
    def when(self) -> datetime | None:
        return self.post.date

    @property
    def problems(self) -> tuple[Problem, ...]:
        return self.composed.problems if self.composed else ()

    @property
    def is_resume(self) -> bool:
        """Due because an earlier run started it (open intent or some parts published)."""
        return self.entry is not None and bool(self.entry.intents or self.entry.published)


def plan(
    posts: Iterable[Post],
    settings: Settings,
    ledger: Ledger,
    now: datetime,
    compose: ComposeFn,
    *,
    catch_up: bool = False,
    compose_all: bool = False,
) -> list[Item]:
    """Every (post, account) with its state, oldest first. `compose_all` also builds the
    messages of scheduled and published posts (for previews and checks); publishing only
    needs the due ones, which keeps a run with nothing due close to reading the files."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    items: list[Item] = []
    for post in posts:
        if not post.is_valid:
            for account in post.targets or ("-",):
                items.append(Item(post, account, "invalid"))
            continue
        own = [_classify(post, account, settings, ledger, now, compose, catch_up, compose_all)
               for account in post.targets]
        broken = [i.account for i in own if i.state == "invalid"]
        if broken:
            # Nothing is posted from a file with errors, not even to the platforms it suits.
            own = [i if i.state in ("invalid", "published", "draft") else
                   Item(post, i.account, "invalid", i.composed, i.entry,
                        note=f"errors for {', '.join(broken)}") for i in own]
        items.extend(own)
    items.sort(key=lambda i: (i.post.date or now, i.post.path, i.account))
    return _cap(items, settings.max_per_run)


def _classify(post: Post, account: str, settings: Settings, ledger: Ledger, now: datetime,
              compose: ComposeFn, catch_up: bool, compose_all: bool) -> Item:
    assert post.date is not None
    if post.draft:
        return Item(post, account, "draft", compose(post, account) if compose_all else None)
    by_path, _ = ledger.lookup(account, "", post.path)
    if post.date > now and not (by_path is not None and by_path.is_complete):
        composed = compose(post, account) if compose_all else None
        if composed is not None and not composed.ok:
            return Item(post, account, "invalid", composed)
        return Item(post, account, "scheduled", composed)
    # Fast path: the log already has this file complete for this account.
    if by_path is not None and by_path.is_complete and not compose_all:
        return Item(post, account, "published", None, by_path)
    composed = compose(post, account)
    if composed.message is None or not composed.ok:
        return Item(post, account, "invalid", composed)
    message = composed.message
    entry, changed = ledger.lookup(account, message.digest, post.path)
    if entry is not None:
        # Edited after some parts went out: the thread resumes under the entry that holds
        # them (the pipeline logs the new parts there), and is complete when every part of
        # the file as it is now is out.
        complete = entry.is_complete or (
            changed and all(n in entry.published for n in range(len(message.parts))))
        if complete:
            return Item(post, account, "published", composed, entry, changed=changed)
        if entry.uncertain:
            part = min(entry.uncertain)
            reason = entry.uncertain[part].reason or "outcome unknown"
            return Item(post, account, "uncertain", composed, entry, note=reason,
                        changed=changed)
        failure = entry.last_failure
        # A refusal holds until the content changes: for an entry found by path only, it
        # holds if it was the refusal of this very content (its idempotency key).
        if (failure is not None and failure.kind in PERMANENT_KINDS
                and not entry.open_intents
                and (not changed or failure.key == message.idempotency_key(failure.part))):
            return Item(post, account, "failed", composed, entry,
                        note=failure.reason or failure.kind or "refused", changed=changed)
        if entry.intents or entry.published or entry.resolved:
            return Item(post, account, "due", composed, entry, note="resuming",
                        changed=changed)
    late = now - post.date
    if late > settings.stale_after and not catch_up:
        return Item(post, account, "missed", composed, entry,
                    note=f"due {_human(late)} ago, over stale_after; use --catch-up to post it")
    note = f"late by {_human(late)}" if late > timedelta(minutes=30) else ""
    return Item(post, account, "due", composed, entry, note=note)


def _cap(items: list[Item], max_per_run: int) -> list[Item]:
    """Keep at most `max_per_run` posts due in this run, oldest first; defer the rest."""
    allowed: set[str] = set()
    out: list[Item] = []
    for item in items:
        if item.state == "due":
            if item.post.path not in allowed and len(allowed) >= max_per_run:
                out.append(Item(item.post, item.account, "deferred", item.composed, item.entry,
                                note=f"max_per_run ({max_per_run}) reached; next run"))
                continue
            allowed.add(item.post.path)
        out.append(item)
    return out


def _human(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds < 0:
        return "in " + _human(-delta)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    return f"{minutes}m"


human = _human
