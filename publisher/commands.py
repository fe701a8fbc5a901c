"""The commands behind the CLI, each a plain function of parsed arguments and settings.
Imported only after argument parsing, so `publisher --help` stays cheap."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path

from publisher import actions, report
from publisher.config import Settings
from publisher.errors import ConfigError
from publisher.ledger import Ledger, Record
from publisher.pipeline import Runtime, collect_problems, load, publish
from publisher.posts import Problem, relpath

Emit = Callable[[str], None]
NowFn = Callable[[str | None], datetime]


def run_publish(args: argparse.Namespace, settings: Settings, env: Mapping[str, str],
                emit: Emit, now_fn: NowFn) -> int:
    now = now_fn(args.now)
    scrub: Callable[[str], str] = getattr(args, "scrub", str)
    if not args.dry_run:
        refusal = actions.publish_refusal(env)
        if refusal:
            emit(f"error: {refusal}")
            actions.write_summary(env, scrub(f"## publisher: refused to publish\n\n{refusal}\n"))
            return 1
    runtime = Runtime(environ=env, clock=lambda: datetime.now(UTC), sleep=args.sleep,
                      progress=getattr(args, "progress", None),
                      emit=emit, credentials_file=args.credentials,
                      on_outcome=lambda outcome: emit(report.outcome_line(outcome)))
    result = publish(settings, now, runtime, dry_run=args.dry_run, push=not args.no_push,
                     catch_up=args.catch_up)
    for problem in result.problems:
        emit(str(problem))
    lines = (report.render_dry_run(result, settings) if args.dry_run
             else report.render_run(result, settings, streamed=True))
    for line in lines:
        emit(line)
    for error in [*result.warnings, *result.errors]:
        emit(f"error: {error}")
    hint = actions.catch_up_hint(result.items) if actions.in_actions(env) else None
    if hint:
        emit(f"note: {hint}")
    summary = result.summary()
    if args.dry_run:
        due = result.count("due")
        summary = f"dry run: would publish {due}, " + summary.split(", ", 1)[1]
    emit(summary)
    if actions.in_actions(env):
        warning = actions.inactivity_warning(result.items, settings.root)
        markdown = report.render_summary(result, settings, summary, dry_run=args.dry_run,
                                         warning=warning)
        actions.write_summary(env, scrub(markdown))
    return 0 if result.ok else 1


def run_check(args: argparse.Namespace, settings: Settings, env: Mapping[str, str], emit: Emit,
              now_fn: NowFn) -> int:
    now = now_fn(args.now)
    paths = [Path(p).resolve() for p in args.paths] if args.paths else None
    if paths:
        missing = [p for p in paths if not p.is_file()]
        if missing:
            raise ConfigError(f"{missing[0]}: no such file")
    check_cache = None
    if not args.no_cache:
        import time

        from publisher.checkcache import CheckCache

        # The clock file systems stamp files with, for the cache's racy rule; not `now`.
        check_cache = CheckCache.open(settings, env, time.time_ns())
    _, posts, items = load(settings, now, compose_all=True, paths=paths, check_cache=check_cache)
    if check_cache is not None:
        if paths is None:
            check_cache.forget_others({str(post.file) for post in posts})
        check_cache.save()
    problems = collect_problems(posts, items)
    problems += _published_warnings(items)
    problems += _x_duplicate_warnings(items)
    for problem in problems:
        emit(_format_problem(problem, args.format))
    errors = sum(1 for p in problems if p.severity == "error")
    warnings = len(problems) - errors
    emit(f"checked {len(posts)} post(s): {errors} error(s), {warnings} warning(s)")
    return 1 if errors else 0


def _published_warnings(items: list) -> list[Problem]:  # type: ignore[type-arg]
    out: list[Problem] = []
    for item in items:
        if item.state == "published" and item.changed:
            out.append(Problem(item.post.path, item.post.line("date"), "warning",
                               f"{item.account}: already published; this edit will not go out "
                               "(to post it again, make it a new post with a new date)"))
        elif item.changed and item.entry is not None and item.entry.published and (
                item.composed is not None and item.composed.message is not None):
            # A thread edited after some parts went out resumes after them.
            sent = sorted(item.entry.published)
            rest = [n for n in range(len(item.composed.message.parts)) if n not in sent]
            out.append(Problem(item.post.path, item.post.line("date"), "warning",
                               f"{item.account}: {_parts(sent)} published before this edit; "
                               "a change to them will not go out"
                               + (f" ({_parts(rest, '')} go out as the file has them now)"
                                  if rest else "")))
    return out


def _parts(numbers: list[int], verb: str = "were") -> str:
    """`parts 1-2 were`, `part 3 was` (0-based numbers, shown 1-based)."""
    first, last = numbers[0] + 1, numbers[-1] + 1
    if first == last:
        text = f"part {first}" + (" was" if verb else "")
    else:
        sep = "-" if last - first + 1 == len(numbers) else "..."
        text = f"parts {first}{sep}{last}" + (f" {verb}" if verb else "")
    return text


def _x_duplicate_warnings(items: list) -> list[Problem]:  # type: ignore[type-arg]
    """X refuses a post whose text it has seen before: warn before the run finds out."""
    out: list[Problem] = []
    seen: dict[tuple[str, str], tuple[str, int]] = {}  # (account, text) -> (post, part)
    for item in items:  # oldest first
        message = item.composed.message if item.composed else None
        if message is None or message.platform != "x" or item.state in ("draft", "invalid"):
            continue
        for n, part in enumerate(message.parts):
            key = (item.account, part.text.strip())
            earlier = seen.get(key)
            if earlier is not None and item.state != "published":
                where = f"part {n + 1}: " if len(message.parts) > 1 else ""
                same = earlier[0] == item.post.path
                other = f"part {earlier[1] + 1} of this thread" if same else earlier[0]
                out.append(Problem(
                    item.post.path, item.post.line(message.platform) or item.post.body_line,
                    "warning", f"{item.account}: {where}text identical to {other}; X refuses "
                    "duplicate content, so change the text for X"))
            elif part.text.strip():
                seen[key] = (item.post.path, n)
    return out


def _format_problem(problem: Problem, fmt: str) -> str:
    if fmt == "github":
        kind = "error" if problem.severity == "error" else "warning"
        line = f",line={problem.line}" if problem.line else ""
        message = problem.message.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
        return f"::{kind} file={problem.path}{line}::{message}"
    return str(problem)


def run_plan(args: argparse.Namespace, settings: Settings, env: Mapping[str, str], emit: Emit,
             now_fn: NowFn) -> int:
    """Posts in date order with their state; rendering lives in `planview`."""
    from publisher import planview

    now = now_fn(args.now)
    _, posts, items = load(settings, now, compose_all=True)
    problems = collect_problems(posts, items) + _published_warnings(items)
    problems += _x_duplicate_warnings(items)
    changed = None if args.changed is None else [_repo_path(settings, p) for p in args.changed]
    views = planview.build(items, problems, changed or ())
    # GitHub's 60-day rule. JSON and ics keep their shape: the warning goes to stdout when
    # they are written to a file.
    warning = actions.inactivity_warning(items, settings.root)
    if args.format == "ics":
        data = planview.render_ics(views, settings, now)
        if args.output:
            Path(args.output).write_bytes(data)
            if warning:
                emit(f"warning: {warning}")
        else:
            for line in data.decode("utf-8").split("\r\n")[:-1]:
                emit(line + "\r")  # the line break that follows makes it CRLF, as RFC 5545 asks
        return 0
    if args.format == "markdown":
        lines = planview.render_markdown(views, settings, now, changed)
        lines += ["", f"> **Warning:** {warning}"] if warning else []
    elif args.format == "json":
        lines = planview.render_json(views, settings, now)
    else:
        lines = planview.render_text(views, settings, now)
        lines += [f"warning: {warning}"] if warning else []
    if args.output:
        Path(args.output).write_text("\n".join(lines) + "\n", encoding="utf-8")
        if warning:
            emit(f"warning: {warning}")
    else:
        for line in lines:
            emit(line)
    return 0


def _repo_path(settings: Settings, name: str) -> str:
    """A path as given on the command line (relative to here or to the repository) as the
    repository-relative path posts are known by."""
    path = Path(name)
    if not path.is_absolute() and not path.exists():
        path = settings.root / path
    return relpath(settings, path)


def run_resolve(args: argparse.Namespace, settings: Settings, env: Mapping[str, str],
                emit: Emit, now_fn: NowFn) -> int:
    """A person decides the part of a post whose outcome is unknown (uncertain, or an intent
    with no result): `published` (it went out) or `retry`. With `--rest` (and `published`)
    the person posted every part still missing by hand, as a stopped X thread asks."""
    from publisher.lock import RunLock

    account = settings.account(args.platform).name
    rest = getattr(args, "rest", False)
    if rest and args.decision != "published":
        raise ConfigError("--rest goes with --as published (the parts you posted by hand)")
    target = Path(args.post).resolve()
    with RunLock(settings.root):
        ledger = Ledger.read(settings.log_path)
        rel = target.relative_to(settings.root).as_posix() if target.is_relative_to(
            settings.root) else args.post
        now = datetime.now(UTC)
        records = []
        for entry in ledger.entries():
            if entry.account != account or entry.post != rel or entry.is_complete:
                continue
            if rest:
                parts = [n for n in range(entry.parts) if n not in entry.published]
            else:
                # Parts go out in order, so only the first undecided one can have been sent.
                open_parts = sorted(set(entry.uncertain) | set(entry.open_intents))
                parts = open_parts[:1]
            event = "published" if args.decision == "published" else "resolved"
            records += [Record(event, rel, account, entry.digest, now, part=part,  # type: ignore[arg-type]
                               parts=entry.parts, kind="manual",
                               reason=f"resolved by a person as {args.decision}")
                        for part in parts]
        if not records:
            what = ("no part is missing" if rest else
                    "no part is uncertain or left open by an interrupted run")
            raise ConfigError(f"{rel} -> {account}: nothing to decide: {what} "
                              f"(see {settings.log})")
        ledger.append(records)
    emit(f"{rel} -> {account}: recorded as {args.decision}; commit {settings.log} to keep it")
    return 0
