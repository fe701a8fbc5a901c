"""Human-readable output of a run: the exact preview of each due message, each outcome, and
the one summary line. Plain text without colours, so cron logs stay readable."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from publisher.config import Settings
from publisher.pipeline import Outcome, Report
from publisher.schedule import Item

if TYPE_CHECKING:
    from publisher.message import Message, Poll


def when(dt: datetime | None, zone: ZoneInfo | None) -> str:
    if dt is None:
        return "no date"
    utc = dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    if zone is None:
        return utc
    return f"{dt.astimezone(zone):%Y-%m-%d %H:%M} {zone.key} = {utc}"


def preview(message: Message, settings: Settings, indent: str = "  ") -> list[str]:
    """Exactly what a platform receives: options, then each part's text, media and poll, in
    the order they are posted (each part after the first replies to the one before)."""
    from publisher.compose import limits_of  # a run with nothing due previews nothing

    lim = limits_of(settings, message.platform)
    lines: list[str] = []
    opts = message.options
    total = len(message.parts)
    if opts.content_warning:
        # Mastodon counts it in each part's length, which the counts below include.
        each = " (on every part)" if total > 1 else ""
        lines.append(f"{indent}content warning{each}: {opts.content_warning}")
    for label, value in (("visibility", opts.visibility), ("language", opts.language)):
        if value:
            lines.append(f"{indent}{label}: {value}")
    if opts.sensitive and message.platform == "mastodon":
        lines.append(f"{indent}media marked sensitive")
    if total > 1:
        lines.append(f"{indent}thread of {total} parts, each replying to the one before")
    for n, part in enumerate(message.parts, 1):
        cw = opts.content_warning if message.platform == "mastodon" else None
        count = lim.length(part.text, cw)
        head = f"part {n}/{total}, " if total > 1 else ""
        lines.append(f"{indent}{head}text ({count}/{lim.max_characters}):")
        lines.extend(f"{indent}| {line}" if line else f"{indent}|"
                     for line in part.text.split("\n"))
        for i, media in enumerate(part.media, 1):
            size = f"{media.size / 1024:.1f} KB"
            lines.append(f"{indent}image {i}: {media.path} ({media.mime or 'unknown type'}, "
                         f"{size})")
            alt = (media.alt or "(no alt text)").split("\n")
            lines.append(f"{indent}  alt: {alt[0]}")
            lines.extend(f"{indent}       {more}" for more in alt[1:])
        if n == 1 and opts.poll:
            lines.append(f"{indent}{_poll_line(opts.poll, message.platform)}")
    if total > 1 and message.platform == "x":
        lines.append(f"{indent}{_x_fallback_line(message, settings)}")
    return lines


def _poll_line(poll: Poll, platform: str) -> str:
    from publisher.compose import human_duration

    details = [human_duration(poll.duration_seconds)]
    if platform == "mastodon":
        details.append("several choices" if poll.multiple else "one choice")
        if poll.hide_totals:
            details.append("totals hidden until it ends")
    return f"poll ({', '.join(details)}): " + " / ".join(poll.options)


def _x_fallback_line(message: Message, settings: Settings) -> str:
    """What happens if X refuses the replies (known only when posting)."""
    if settings.x_thread_fallback == "stop":
        return 'if X refuses a reply: the thread stops there (x_thread_fallback = "stop")'
    from publisher.compose import limits_of, x_fallback_text

    lim = limits_of(settings, "x")
    # Any X post URL weighs 23, so the length is exact before the first part exists.
    worst = x_fallback_text([p.text for p in message.parts[1:]], "https://x.com/i/web/status/1")
    length = lim.length(worst)
    verdict = "fits" if lim.fits(worst) else "too long: the thread would stop there"
    return (f"if X refuses a reply: the remaining parts go out as one post linking part 1 "
            f"(from part 2: {length}/{lim.max_characters}, {verdict})")


def render_dry_run(report: Report, settings: Settings) -> list[str]:
    due = [i for i in report.items if i.state == "due"]
    out = [f"Dry run at {report.now:%Y-%m-%dT%H:%M:%SZ}: nothing is sent, nothing is written."]
    if not due:
        out.append("Nothing is due.")
    for item in due:
        out.append("")
        out.extend(_item_head(item, settings))
        assert item.composed is not None and item.composed.message is not None
        out.extend(preview(item.composed.message, settings))
    out.extend(_other_states(report, settings))
    return out


def _item_head(item: Item, settings: Settings) -> list[str]:
    note = f" [{item.note}]" if item.note else ""
    account = settings.accounts.get(item.account)
    target = item.account
    if account is not None and account.platform != account.name:
        target = f"{item.account} ({account.platform})"
    return [f"{item.post.path} -> {target} (due {when(item.post.date, settings.zone)})"
            f"{note}"]


def _other_states(report: Report, settings: Settings) -> list[str]:
    out: list[str] = []
    labels = {
        "missed": "missed (not posted)",
        "deferred": "deferred to the next run",
        "uncertain": "UNCERTAIN: decide with `publisher resolve`",
        "failed": "refused earlier (edit the post to retry)",
        "draft": "draft (never posted)",
    }
    for state, label in labels.items():
        for item in (i for i in report.items if i.state == state):
            note = f": {item.note}" if item.note else ""
            if state == "uncertain":
                note += (f"; run `publisher resolve {item.post.path} --platform "
                         f"{item.account} --as published|retry`")
            out.append(f"{label}: {item.post.path} -> {item.account}{note}")
    if out:
        out.insert(0, "")
    return out


def outcome_line(outcome: Outcome) -> str:
    """The line printed the moment a (post, account) is done."""
    item = outcome.item
    target = f"{item.post.path} -> {item.account}"
    if outcome.status == "published":
        urls = ", ".join(r.url or r.remote_id or "(id unknown)" for r in outcome.receipts)
        late = f" [{item.note}]" if item.note else ""
        how = f" ({outcome.reason})" if outcome.reason else ""
        return f"published {target}: {urls}{late}{how}"
    if outcome.status == "skipped":
        return f"skipped {target}: {outcome.reason}; stays pending"
    if outcome.status == "uncertain":
        return (f"UNCERTAIN {target}: {outcome.reason}. It will not be posted again "
                f"until you run `publisher resolve {item.post.path} --platform "
                f"{item.account} --as published|retry`")
    return f"failed {target}: {outcome.reason}"


def render_run(report: Report, settings: Settings, *, streamed: bool = False) -> list[str]:
    """The run's output; `streamed` when the outcome lines were printed as they happened."""
    out = [] if streamed else [outcome_line(o) for o in report.outcomes]
    out.extend(_other_states(report, settings))
    out.extend(report.notes)
    return out


# --- the GitHub Actions job summary ------------------------------------------------------------


def _md(text: str) -> str:
    """Text safe inside a Markdown list item: no line breaks, no HTML."""
    return " ".join(text.split()).replace("<", "&lt;").replace(">", "&gt;")


def _target(item: Item) -> str:
    return f"`{item.post.path}` → **{item.account}**"


def render_summary(report: Report, settings: Settings, summary: str, *, dry_run: bool,
                   warning: str | None = None, limit: int = 5) -> str:
    """The job summary in Markdown: what was published (with links), what failed and why,
    and what is next (upcoming posts, and what a person has to decide)."""
    title = "publisher: dry run, nothing was sent" if dry_run else "publisher"
    out = [f"## {title}", "", f"**{summary}**", ""]
    if warning:
        out += [f"> **Warning:** {_md(warning)}", ""]

    if dry_run:
        due = [i for i in report.items if i.state == "due"]
        if due:
            out += ["### Would publish", ""]
            out += [f"- {_target(i)} (due {when(i.post.date, settings.zone)})" for i in due]
            out.append("")

    published = [o for o in report.outcomes if o.status == "published"]
    if published:
        out += ["### Published", ""]
        for o in published:
            links = [f"[{_link_label(n, len(o.receipts))}]({r.url})" if r.url
                     else f"id {r.remote_id or 'unknown'}" for n, r in enumerate(o.receipts, 1)]
            out.append(f"- {_target(o.item)}: {', '.join(links) or 'already there'}")
        out.append("")

    failed = [o for o in report.outcomes if o.status != "published"]
    invalid = [p for p in report.problems if p.severity == "error"]
    if failed or invalid or report.errors or report.warnings:
        out += ["### Failed", ""]
        for o in failed:
            why = {"skipped": "not tried", "uncertain": "UNCERTAIN"}.get(o.status, "failed")
            hint = _HINTS.get(o.kind, "")
            out.append(f"- {_target(o.item)}: {why}: {_md(o.reason)}{hint}")
        out += [f"- `{p.path}`{f' line {p.line}' if p.line else ''}: {_md(p.message)}"
                for p in invalid]
        out += [f"- {_md(error)}" for error in [*report.warnings, *report.errors]]
        out.append("")

    out += ["### Next", ""]
    out += _next_steps(report, settings, limit)
    return "\n".join(out).rstrip("\n") + "\n"


#: What to do, by the kind of failure (publisher.errors).
_HINTS = {
    "auth": " (check this account's credentials: the secrets, or the credentials file)",
    "rejected": " (the platform refused this content: edit the post)",
    "duplicate": " (the platform refused this content: edit the post)",
    "rate_limited": " (the next run continues)",
    "transient": " (the next run retries)",
}


def _link_label(n: int, total: int) -> str:
    return "post" if total == 1 else f"part {n}"


def _next_steps(report: Report, settings: Settings, limit: int) -> list[str]:
    out: list[str] = []
    states = {s: [i for i in report.items if i.state == s]
              for s in ("uncertain", "missed", "deferred", "scheduled")}
    uncertain = states["uncertain"] + [o.item for o in report.outcomes
                                       if o.status == "uncertain"]
    for item in uncertain:
        out.append(f"- Decide {_target(item)}: did it go out? Run `publisher resolve "
                   f"{item.post.path} --platform {item.account} --as published|retry`.")
    if states["missed"]:
        # The summary exists only in Actions, so say how to catch up from there first.
        out.append(f"- {len(states['missed'])} post(s) were due more than `stale_after` ago "
                   "and were not sent; send them with a manual run (Actions tab → publish → "
                   "**Run workflow** with `catch_up` ticked, or `publisher publish --catch-up` "
                   "elsewhere) or leave them:")
        out += [f"  - {_target(i)} (was due {when(i.post.date, settings.zone)})"
                for i in states["missed"][:limit]]
        out += _more(len(states["missed"]), limit)
    if states["deferred"]:
        out.append(f"- {len(states['deferred'])} due post(s) wait for the next run "
                   "(`max_per_run`).")
    if any(o.status in ("failed", "skipped") for o in report.outcomes) or report.errors \
            or report.warnings:
        out.append("- Failed posts stay pending (except posts a platform refused for their "
                   "content: edit them): fix the cause above and the next run retries.")
    upcoming = states["scheduled"]
    if upcoming:
        out.append("- Coming up:")
        out += [f"  - {when(i.post.date, settings.zone)}: {_target(i)}"
                for i in upcoming[:limit]]
        out += _more(len(upcoming), limit)
    else:
        out.append("- Nothing else is scheduled.")
    return out


def _more(total: int, limit: int) -> list[str]:
    return [f"  - and {total - limit} more (`publisher plan` lists them)"] if total > limit else []
