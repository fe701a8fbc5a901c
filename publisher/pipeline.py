"""The one place that orders side effects: read, plan, record intent, post, record result,
commit, push. Two phases: everything up to the plan needs no network and no credentials
(`check`, `plan` and `publish --dry-run` stop there), then the execution.
"""

from __future__ import annotations

import contextlib
import gc
import os
import signal
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from publisher.config import CredentialStore, Settings
from publisher.errors import (
    AuthError,
    ConfigError,
    DuplicateError,
    GitError,
    LedgerError,
    PlatformError,
    RateLimitedError,
    RejectedError,
    ReplyRefusedError,
    TransientError,
    UnknownOutcomeError,
)
from publisher.ledger import Ledger, Record
from publisher.lock import RunLock
from publisher.posts import (
    Post,
    Problem,
    forget_resolved_folders,
    iter_post_files,
    load_post,
    load_posts,
    real_path,
    scan_post,
)
from publisher.schedule import Item, plan

if TYPE_CHECKING:
    from publisher.checkcache import CheckCache
    from publisher.compose import Composed
    from publisher.gitsync import Repo
    from publisher.message import Message, Receipt
    from publisher.platforms.base import Platform

Emit = Callable[[str], None]
Clock = Callable[[], datetime]
Sleep = Callable[[float], None]
PlatformFactory = Callable[[str], "Platform"]

KILL_VARIABLE = "PUBLISHER_TEST_KILL_AT"
#: Lookups after a lost answer consider posts made from this long before the attempt (clocks
#: of runner and server differ a little).
LOOKUP_SKEW = timedelta(minutes=5)


def checkpoint(stage: str) -> None:
    """Fault-matrix hook: when PUBLISHER_TEST_KILL_AT names this stage the process kills
    itself with SIGKILL, exactly as a cancelled runner would vanish. Inert otherwise."""
    if os.environ.get(KILL_VARIABLE) == stage:
        os.kill(os.getpid(), signal.SIGKILL)


@dataclass
class Outcome:
    item: Item
    status: str  # published | failed | skipped | uncertain
    receipts: list[Receipt] = field(default_factory=list)
    reason: str = ""
    kind: str = ""


@dataclass
class Report:
    now: datetime
    items: list[Item]
    problems: list[Problem]
    outcomes: list[Outcome] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # counted as failures
    warnings: list[str] = field(default_factory=list)  # printed as errors, counted via items
    pushed: str | None = None

    def count(self, state: str) -> int:
        return sum(1 for i in self.items if i.state == state)

    @property
    def published(self) -> int:
        return sum(1 for o in self.outcomes if o.status == "published")

    @property
    def failed(self) -> int:
        bad = sum(1 for o in self.outcomes if o.status in ("failed", "uncertain"))
        invalid = len({i.post.path for i in self.items if i.state == "invalid"})
        return bad + invalid + len(self.errors)

    @property
    def ok(self) -> bool:
        # An undecided post keeps every run failing until a person resolves it.
        return self.failed == 0 and self.count("uncertain") == 0

    def summary(self) -> str:
        parts = [
            f"published {self.published}",
            f"already published {self.count('published')}",
            f"not due {self.count('scheduled')}",
            f"failed {self.failed}",
        ]
        extra = {"skipped": sum(1 for o in self.outcomes if o.status == "skipped"),
                 "missed": self.count("missed"), "deferred": self.count("deferred"),
                 "uncertain": self.count("uncertain") + sum(
                     1 for o in self.outcomes if o.status == "uncertain"),
                 "draft": self.count("draft")}
        parts += [f"{k} {v}" for k, v in extra.items() if v]
        return ", ".join(parts)


def load(settings: Settings, now: datetime, *, catch_up: bool = False,
         compose_all: bool = False, paths: list[Path] | None = None, quick: bool = False,
         check_cache: CheckCache | None = None) -> tuple[Ledger, list[Post], list[Item]]:
    """Phase one: posts, log and plan. No network, no credentials. `quick` (publishing):
    drafts, posts not yet due and posts the log has complete for every platform are only
    scanned (`scan_post`), not validated: nothing of theirs is sent, and `check` reports
    their problems. Every other post is read and validated in full. `check_cache` (check
    only): posts and messages whose files are unchanged come from it, the others go in."""
    cache: dict[tuple[str, str], Composed] = {}

    def composer(post: Post, account: str) -> Composed:
        # Imported on first use: a run with nothing due composes nothing.
        from publisher.compose import compose

        key = (post.path, account)
        if key not in cache:
            cache[key] = compose(post, settings.account(account), settings)
        return cache[key]

    forget_resolved_folders()
    with _gc_paused():
        ledger = Ledger.read(settings.log_path)
        if quick and paths is None:
            posts = [_quick_post(settings, file, ledger, now)
                     for file in iter_post_files(settings)]
        elif check_cache is not None:
            posts = _cached_posts(settings, paths, check_cache, cache)
        else:
            posts = load_posts(settings, paths)
        items = plan(posts, settings, ledger, now, composer, catch_up=catch_up,
                     compose_all=compose_all)
        if check_cache is not None:
            _store_posts(posts, check_cache, cache)
    return ledger, posts, items


def _cached_posts(settings: Settings, paths: list[Path] | None, check_cache: CheckCache,
                  composed: dict[tuple[str, str], Composed]) -> list[Post]:
    """Posts from the check cache where their files (and media) are unchanged, else read;
    the cached messages go into `composed` so they are not built again. A post read anew
    is parsed from the very bytes its digest is taken of."""
    from publisher.checkcache import content_digest

    posts: list[Post] = []
    for file in paths if paths is not None else iter_post_files(settings):
        try:
            with open(file, "rb") as fh:
                data: bytes | None = fh.read()
        except OSError:
            data = None  # load_post says why it cannot be read
        entry = None
        if data is not None:
            digest = content_digest(data)
            real = str(real_path(file))  # where the file was read from, as it was read
            entry = check_cache.lookup(file, digest, real)
        if entry is None:
            posts.append(load_post(settings, file, data))
            if data is not None:
                # A file given twice may have changed in between: keep neither reading.
                check_cache.pending[file] = None if file in check_cache.pending \
                    else (digest, real)
            continue
        posts.append(entry.post)
        for account, message in entry.composed.items():
            composed[entry.post.path, account] = message
    return posts


def _store_posts(posts: list[Post], check_cache: CheckCache,
                 composed: dict[tuple[str, str], Composed]) -> None:
    for post in posts:
        read = check_cache.pending.pop(post.file, None)
        if read is not None:
            check_cache.store(post.file, *read, post, {
                account: composed[post.path, account] for account in post.targets
                if (post.path, account) in composed})


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Reading thousands of posts and log records allocates objects that all stay alive:
    the cyclic garbage collector would walk them again and again for nothing (a third of the
    time of a run at 10,000 posts). Paused while reading (as mypy raises its thresholds),
    then what was read is frozen, so the first collection after it does not walk it all."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.freeze()
            gc.enable()


def _quick_post(settings: Settings, file: Path, ledger: Ledger, now: datetime) -> Post:
    post = scan_post(settings, file)
    if post is None or not (post.draft or (post.date is not None and post.date > now) or all(
            ledger.is_complete_at(account, post.path) for account in post.targets)):
        return load_post(settings, file)
    return post


def collect_problems(posts: list[Post], items: list[Item]) -> list[Problem]:
    seen: set[Problem] = set()
    out: list[Problem] = []
    for problem in [p for post in posts for p in post.problems] + [
            p for item in items for p in item.problems]:
        if problem not in seen:
            seen.add(problem)
            out.append(problem)
    return out


@dataclass
class Runtime:
    """Everything a run takes from the outside world, so tests can drive it."""

    environ: Mapping[str, str]
    clock: Clock
    sleep: Sleep
    emit: Emit
    credentials_file: str | None = None
    platform_factory: Callable[[Settings, Any, Runtime], Platform] | None = None
    #: Transient status for a person watching (a terminal); "" clears it. None: silent.
    progress: Callable[[str], None] | None = None
    #: Called as each outcome happens, so a run killed later still leaves its lines behind.
    on_outcome: Callable[[Outcome], None] | None = None


def publish(settings: Settings, now: datetime, runtime: Runtime, *, dry_run: bool = False,
            push: bool = True, catch_up: bool = False) -> Report:
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    if dry_run:
        _, posts, items = load(settings, now, catch_up=catch_up, quick=True)
        return Report(now, items, collect_problems(posts, items))
    with RunLock(settings.root):
        return _publish_locked(settings, now, runtime, push=push, catch_up=catch_up)


def _add(report: Report, rt: Runtime, outcome: Outcome) -> None:
    report.outcomes.append(outcome)
    if rt.on_outcome is not None:
        rt.on_outcome(outcome)


def _publish_locked(settings: Settings, now: datetime, rt: Runtime, *, push: bool,
                    catch_up: bool) -> Report:
    # Read credentials first: a file others can read is refused on every run, not only
    # on the first one that has something due.
    store = CredentialStore.load(rt.environ, rt.credentials_file)
    secrets = [v for v in store.all_secret_values() if len(v) >= 8]
    repo = _open_repo(settings)
    notes: list[str] = []
    if repo is not None:
        cleared = repo.clear_stale_lock()
        if cleared:
            notes.append(cleared)
    pushing = repo is not None and push and repo.upstream() is not None
    if repo is not None and repo.has_changes([settings.log_path]):
        # A run died after logging results but before committing them: keep them first
        # (after checking the log parses, so a damaged file is never committed).
        Ledger.read(settings.log_path)
        repo.commit([settings.log_path], "publisher: record the results of an interrupted run\n")
        notes.append("committed the results of an interrupted run (they were in the log "
                      "but not committed)")
    if pushing and repo is not None and repo.sync():
        notes.append("pulled new commits from the remote before reading posts")
    ledger, posts, items = load(settings, now, catch_up=catch_up, quick=True)
    report = Report(now, items, collect_problems(posts, items), notes=notes)
    due = [i for i in items if i.state == "due"]
    if not due:
        _push_pending(repo, pushing, report)
        return report

    platforms: dict[str, Platform | None] = {}
    ready: list[Item] = []
    for item in due:
        if item.account not in platforms:
            platforms[item.account] = _connect(settings, store, item.account, rt, report)
        if platforms[item.account] is None:
            _add(report, rt, Outcome(item, "failed", reason="no credentials"))
        else:
            ready.append(item)
    if not ready:
        _push_pending(repo, pushing, report)
        return report

    if repo is None:
        report.notes.append("not a git repository: the log was written but nothing was "
                            "committed or pushed")
    elif not push:
        report.notes.append("--no-push: the log is committed but not pushed")
    elif not pushing:
        report.notes.append("no remote to push to: the log is committed locally only")
    if pushing:
        assert repo is not None
        try:
            repo.check_push()
        except GitError as exc:
            report.errors.append(f"{exc}; nothing was posted")
            return report

    # Parts whose earlier attempt vanished (intent, no result): decided before re-sending.
    # Taken before this run's intents are appended, since those update the same entries.
    lost = {id(i): set(i.entry.open_intents) if i.entry else set() for i in ready}
    seen = {r.to_json() for r in ledger.records}
    import uuid

    run = uuid.uuid4().hex[:12]
    # Intent before action: the next run finds these if this one vanishes mid-way.
    intents = [
        Record("intent", i.post.path, i.account, _log_digest(i), rt.clock(),
               platform=_msg(i).platform, part=n, parts=len(_msg(i).parts),
               key=_msg(i).idempotency_key(n), scheduled=i.post.date, run=run)
        for i in ready for n in range(len(_msg(i).parts))
        if not (i.entry and n in i.entry.published)
    ]
    ledger.append(intents)
    claimed: set[tuple[str, str]] = set()
    if repo is not None:
        try:
            repo.commit([settings.log_path], _commit_message("intent", ready))
            if pushing:
                repo.push()
        except GitError as exc:
            report.errors.append(f"recording the intent failed ({exc}); nothing was posted")
            return report
        if pushing:
            # The push may have rebased onto another run's intents (GHA-03: a second runner
            # started at the same time): the run whose intent landed first posts.
            claimed = {(r.account, r.digest) for r in Ledger.read(settings.log_path).records
                       if r.run and r.run != run and r.to_json() not in seen}

    exhausted: dict[str, tuple[str, str]] = {}
    for number, item in enumerate(ready, 1):
        platform = platforms[item.account]
        assert platform is not None
        if rt.progress is not None:
            images = sum(len(p.media) for p in _msg(item).parts)
            rt.progress(f"publishing {number}/{len(ready)}: {item.post.path} -> {item.account}"
                        + (f" ({images} image(s))" if images else ""))
        if (item.account, _log_digest(item)) in claimed:
            _add(report, rt, Outcome(item, "skipped", reason=(
                "another run started publishing it at the same time; the next run checks "
                "what it did")))
            continue
        if item.account in exhausted:
            reason, kind = exhausted[item.account]
            _close_intents(item, ledger, rt, run, kind, reason)
            _add(report, rt, Outcome(item, "skipped", reason=reason, kind=kind))
            continue
        leak = _holds_a_secret(_msg(item), secrets)
        if leak:
            _close_intents(item, ledger, rt, run, "rejected", leak)
            _add(report, rt, Outcome(item, "failed", reason=leak, kind="rejected"))
            continue
        outcome = _publish_item(item, platform, ledger, settings, rt, exhausted, lost[id(item)],
                                run)
        _add(report, rt, outcome)
    if rt.progress is not None:
        rt.progress("")

    checkpoint("after_log")
    if repo is not None:
        published = [o for o in report.outcomes if o.status == "published"]
        try:
            if repo.commit([settings.log_path], _commit_message("result", [
                    o.item for o in published], report.outcomes)):
                checkpoint("after_commit")
            if pushing:
                report.pushed = repo.push()
        except GitError as exc:
            report.errors.append(
                f"{exc}. The results are in {settings.log} locally; they are printed above so "
                "they are not lost, and the next run will not post these again")
    return report


def _push_pending(repo: Repo | None, pushing: bool, report: Report) -> None:
    """Push log commits an earlier run made but could not push (killed, push refused)."""
    if repo is None or not pushing or not repo.is_ahead():
        return
    try:
        report.pushed = repo.push()
        report.notes.append("pushed the results of an earlier run that had not been pushed")
    except GitError as exc:
        report.errors.append(f"{exc}; the log commits of an earlier run are still only local")


def _close_intents(item: Item, ledger: Ledger, rt: Runtime, run: str, kind: str,
                   reason: str) -> None:
    """Record that nothing was sent for an item this run skipped, so its intent is not taken
    for a vanished attempt next time."""
    message = _msg(item)
    ledger.append([Record("failed", message.post, message.account, _log_digest(item), rt.clock(),
                          platform=message.platform, part=n, parts=len(message.parts),
                          key=message.idempotency_key(n), scheduled=message.scheduled,
                          kind=kind, reason=reason, run=run)
                   for n in range(len(message.parts))
                   if not (item.entry and n in item.entry.published)])


def _log_digest(item: Item) -> str:
    """The digest a run logs an item under: the entry it resumes (a thread edited after some
    parts went out continues under the entry holding them, so the next run finds it
    complete), else the message's own."""
    return item.entry.digest if item.entry is not None else _msg(item).digest


def _msg(item: Item) -> Message:
    assert item.composed is not None and item.composed.message is not None
    return item.composed.message


def _open_repo(settings: Settings) -> Repo | None:
    from publisher.gitsync import Identity, Repo

    return Repo.open(settings.root, Identity(settings.git_name, settings.git_email))


def _connect(settings: Settings, store: CredentialStore, account_name: str, rt: Runtime,
             report: Report) -> Platform | None:
    account = settings.account(account_name)
    try:
        credentials = store.for_account(account)
        if rt.platform_factory is not None:
            return rt.platform_factory(settings, credentials, rt)
        return connect(settings, credentials, rt)
    except (ConfigError, PlatformError) as exc:
        report.warnings.append(f"{exc}; its posts stay pending")
        return None


def connect(settings: Settings, credentials: Any, rt: Runtime) -> Platform:
    """The adapter for an account (imports its client library only now)."""
    from publisher.compose import limits_of

    platform = credentials.account.platform
    fallback = limits_of(settings, platform)
    kwargs = dict(timeout=settings.request_timeout, media_timeout=settings.media_timeout,
                  fallback=fallback, sleep=rt.sleep, clock=rt.clock)
    if platform == "mastodon":
        from publisher.platforms.mastodon import MastodonPlatform

        return MastodonPlatform(credentials, **kwargs)  # type: ignore[arg-type]
    from publisher.platforms.x import XPlatform

    return XPlatform(credentials, **kwargs)  # type: ignore[arg-type]


def _holds_a_secret(message: Message, secrets: list[str]) -> str:
    """A reason to refuse a message whose text, alt text or options contain a credential
    value (it would be published, while every preview shows it masked)."""
    opts = message.options
    texts = [p.text for p in message.parts] + [m.alt or "" for p in message.parts
                                               for m in p.media]
    texts += [opts.content_warning or "", *(opts.poll.options if opts.poll else ())]
    if any(secret in text for secret in secrets for text in texts):
        return ("the post contains the value of a credential; remove it from the post "
                "(nothing was sent)")
    return ""


def _publish_item(item: Item, platform: Platform, ledger: Ledger, settings: Settings,
                  rt: Runtime, exhausted: dict[str, tuple[str, str]], lost: set[int],
                  run: str) -> Outcome:
    message = _msg(item)
    entry = item.entry
    digest = _log_digest(item)
    receipts: list[Receipt] = []
    reply_to: str | None = None
    recovered = False

    def record(event: str, part: int, *, stops: bool = True, **kw: Any) -> None:
        parts = [part]
        if event == "failed" and stops:
            # A thread stops at a failed part: the later parts were not attempted, and their
            # intents must not look like a run that vanished mid-way.
            # The part that failed goes last, so it is the failure a later run reports.
            parts = [n for n in range(part + 1, len(message.parts))
                     if not (entry and n in entry.published)] + parts
        ledger.append([Record(event, message.post, message.account, digest,  # type: ignore[arg-type]
                              rt.clock(), platform=message.platform, part=n,
                              parts=len(message.parts), key=message.idempotency_key(n),
                              scheduled=message.scheduled, run=run,
                              **(kw if n == part else {**kw, "reason": (
                                  f"not attempted: part {part + 1} failed first")}))
                       for n in parts])

    refusal = _refused_by_server_limits(item, platform, settings)
    if refusal:
        first = min(i for i in range(len(message.parts))
                    if not (entry and i in entry.published))
        record("failed", first, kind="rejected", reason=refusal)
        return Outcome(item, "failed", receipts, refusal, "rejected")

    def fail(status: str, index: int, exc: PlatformError, reason: str,
             event: str = "failed") -> Outcome:
        record(event, index, kind=exc.kind, reason=reason)
        return Outcome(item, status, receipts, reason, exc.kind)

    known = frozenset(r.remote_id for r in ledger.records
                      if r.event == "published" and r.remote_id)
    for index, part in enumerate(message.parts):
        if entry and index in entry.published:
            reply_to = entry.published[index].remote_id
            continue
        if index > 0 and receipts and not receipts[-1].remote_id:
            # The previous part went out in this run but its id is unknown (X answered
            # "duplicate" and the lookup could not find it): a reply cannot be attached.
            exc = UnknownOutcomeError(message.account, f"part {index} went out but its id is "
                                      "unknown, so the rest of the thread cannot reply to it")
            return fail("uncertain", index, exc, exc.reason, event="uncertain")
        key = message.idempotency_key(index)
        lost_attempt = index in lost
        try:
            receipt = None
            if lost_attempt:
                # A run vanished after recording the intent: did that attempt go out?
                since = (entry.intents[index].at if entry and index in entry.intents
                         else rt.clock()) - LOOKUP_SKEW
                try:
                    receipt = platform.find(message, index, part, since=since,
                                            reply_to=reply_to, exclude=known)
                except PlatformError as exc:
                    # Leave the intent open: the next run asks again before sending.
                    return Outcome(item, "skipped", receipts, "could not check whether an "
                                   f"interrupted attempt went out ({exc.reason}); the next "
                                   "run checks again", exc.kind)
                recovered = recovered or receipt is not None
            if receipt is None:
                receipt = _send(platform, message, index, part, reply_to, key, settings, rt,
                                lost_attempt, known)
        except UnknownOutcomeError as exc:
            return fail("uncertain", index, exc, exc.reason, event="uncertain")
        except RateLimitedError as exc:
            until = f" until {exc.reset_at:%Y-%m-%dT%H:%M:%SZ}" if exc.reset_at else ""
            exhausted[item.account] = (f"rate limited{until}", exc.kind)
            # Not a failure of the post: the platform is paused for this run, the post waits.
            outcome = fail("skipped", index, exc, f"rate limited{until}")
            return outcome
        except ReplyRefusedError as exc:
            return _thread_fallback(item, platform, index, receipts, exc, settings, rt, record)
        except AuthError as exc:
            exhausted[item.account] = (f"authentication failed: {exc.reason}", exc.kind)
            # Not permanent for the post (kind "auth", not "rejected"): once the secret is
            # fixed the next run posts it.
            return fail("failed", index, exc, exc.reason)
        except PlatformError as exc:
            return fail("failed", index, exc, exc.reason)
        checkpoint("after_post")
        record("published", index, remote_id=receipt.remote_id, url=receipt.url)
        receipts.append(receipt)
        reply_to = receipt.remote_id
    note = ("an interrupted run had already posted it; recorded, not posted again"
            if recovered else "")
    return Outcome(item, "published", receipts, note)


def _refused_by_server_limits(item: Item, platform: Platform, settings: Settings) -> str:
    """The first error the server's own limits (instance document) find in the message, which
    `check` could only test against the configured ones; empty when there is none."""
    from publisher.compose import check_message

    try:
        limits = platform.limits()
    except PlatformError:
        return ""
    errors = [p for p in check_message(_msg(item), limits, item.post, settings)
              if p.severity == "error"]
    if not errors:
        return ""
    reason = errors[0].message.split(": ", 1)[-1]
    return f"the server's limits refuse it: {reason}; nothing was sent"


def _thread_fallback(item: Item, platform: Platform, index: int, receipts: list[Receipt],
                     refusal: ReplyRefusedError, settings: Settings, rt: Runtime,
                     record: Callable[..., None]) -> Outcome:
    """X refused part `index` as a reply. With `x_thread_fallback = "link"` the remaining
    parts go out, in order, as one post linking the first; with "stop", or when that post
    would not fit, nothing more is posted and the outcome says so."""
    message = _msg(item)
    total = len(message.parts)
    done = f"part{'s' if index > 1 else ''} 1{f'-{index}' if index > 1 else ''}"
    head = (f"X refused part {index + 1}/{total} as a reply ({refusal.reason}); {done} "
            "published")
    manual = (f"post the rest by hand, then run `publisher resolve {item.post.path} "
              f"--platform {item.account} --as published --rest`")
    if settings.x_thread_fallback == "stop":
        record("failed", index, kind=refusal.kind, reason=refusal.reason)
        return Outcome(item, "failed", receipts, f"{head}; the rest was not posted "
                       f'(x_thread_fallback = "stop"): {manual}', refusal.kind)
    first = receipts[0] if receipts else (
        item.entry.published[0] if item.entry and 0 in item.entry.published else None)
    first_url = getattr(first, "url", None)
    if not first_url:
        record("failed", index, kind=refusal.kind, reason=refusal.reason)
        return Outcome(item, "failed", receipts, f"{head}; the first part's URL is unknown, so "
                       f"the rest cannot link it: {manual}", refusal.kind)
    from publisher.compose import x_fallback_text
    from publisher.message import Part

    rest = message.parts[index:]
    part = Part(x_fallback_text([p.text for p in rest], first_url),
                tuple(m for p in rest for m in p.media))
    limits = platform.limits()
    length = limits.length(part.text)
    if not limits.fits(part.text) or len(part.media) > limits.max_images:
        size = f"{length}/{limits.max_characters} characters"
        if len(part.media) > limits.max_images:
            size += f" and {len(part.media)} images"
        reason = (f"{head}; the remaining parts as one post linking the first would be {size}, "
                  f"too long for X, so nothing more was posted: {manual}")
        record("failed", index, kind=refusal.kind, reason=reason)
        return Outcome(item, "failed", receipts, reason, refusal.kind)
    ledger_note = f"{refusal.reason}; posting parts {index + 1}-{total} as one post instead"
    record("failed", index, stops=False, kind=refusal.kind, reason=ledger_note)
    try:
        receipt = _send(platform, message, index, part, None, message.idempotency_key(index),
                        settings, rt, False)
    except PlatformError as exc:
        record("failed", index, kind=exc.kind, reason=f"fallback post: {exc.reason}")
        return Outcome(item, "failed", receipts, f"{head}; the fallback post failed too: "
                       f"{exc.reason}", exc.kind)
    note = (f"X refused replies: parts {index + 1}-{total} went out as one post linking "
            "the first")
    for n in range(index, total):
        record("published", n, remote_id=receipt.remote_id, url=receipt.url, kind="fallback",
               reason=note)
    return Outcome(item, "published", [*receipts, receipt], note)


def _send(platform: Platform, message: Message, index: int, part: Any, reply_to: str | None,
          key: str, settings: Settings, rt: Runtime, attempted: bool,
          known: frozenset[str] = frozenset()) -> Receipt:
    """Send one part with bounded retries; decide unknown outcomes before re-sending."""
    delay = 1.0
    budget = settings.max_rate_limit_wait
    since = rt.clock() - LOOKUP_SKEW

    def lookup() -> Receipt | None:
        return platform.find(message, index, part, since=since, reply_to=reply_to,
                             exclude=known)

    for attempt in range(settings.retries + 1):
        checkpoint("before_post")
        try:
            return platform.publish(message, index, part, reply_to, key)
        except DuplicateError as exc:
            if attempted:
                # X refuses the same text again: the earlier attempt went out.
                try:
                    found = lookup()
                except PlatformError:
                    found = None
                from publisher.message import Receipt

                return found or Receipt("", None, rt.clock())
            raise RejectedError(exc.platform, "X refuses duplicate content: this text was "
                                "already posted; change it", status=exc.status) from exc
        except UnknownOutcomeError as unknown:
            attempted = True
            try:
                found = lookup()
            except PlatformError as exc:
                # Never re-send blindly: without an answer to "did it go out?" only a platform
                # that refuses a duplicate by itself (X) may be asked again; elsewhere a person
                # decides (servers that ignore Idempotency-Key would post it twice).
                if not platform.refuses_duplicates:
                    raise UnknownOutcomeError(
                        message.account, f"{unknown.reason}, and checking the account failed "
                        f"too ({exc.reason})") from exc
                found = None
            if found is not None:
                return found
            if attempt == settings.retries:
                raise
        except TransientError:
            if attempt == settings.retries:
                raise
        except RateLimitedError as exc:
            wait = ((exc.reset_at - rt.clock()).total_seconds() + 1) if exc.reset_at else None
            if wait is None or wait > budget or attempt == settings.retries:
                raise
            budget -= max(wait, 0)
            rt.sleep(max(wait, 0))
            continue
        import random

        rt.sleep(delay * (1 + random.random() / 2))
        delay = min(delay * 2, 30.0)
    raise TransientError(message.account, "gave up after retries")  # pragma: no cover


def _commit_message(kind: str, items: list[Item], outcomes: list[Outcome] | None = None) -> str:
    if kind == "intent":
        head = f"publisher: about to publish {len(items)} post(s)"
        lines = [f"- {i.post.path} -> {i.account}" for i in items]
    else:
        head = f"publisher: published {len(items)} post(s)"
        lines = []
        for o in outcomes or []:
            url = next((r.url for r in o.receipts if r.url), "")
            lines.append(f"- {o.item.post.path} -> {o.item.account}: {o.status}"
                         + (f" {url}" if url else "") + (f" ({o.reason})" if o.reason else ""))
    return head + "\n\n" + "\n".join(lines) + "\n"


def lateness(item: Item, now: datetime) -> timedelta | None:
    return now - item.post.date if item.post.date else None


__all__ = ["LedgerError", "Report", "Runtime", "checkpoint", "load", "publish"]
