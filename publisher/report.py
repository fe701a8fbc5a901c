"""Human-readable output of a run: the exact preview of each due message, each outcome, and
the one summary line. Plain text without colours, so cron logs stay readable."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from publisher.compose import limits_of
from publisher.config import Settings
from publisher.message import Message
from publisher.pipeline import Report
from publisher.schedule import Item


def when(dt: datetime | None, zone: ZoneInfo | None) -> str:
    if dt is None:
        return "no date"
    utc = dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    if zone is None:
        return utc
    return f"{dt.astimezone(zone):%Y-%m-%d %H:%M} {zone.key} = {utc}"


def preview(message: Message, settings: Settings, indent: str = "  ") -> list[str]:
    """The exact text and media a platform receives, one part after another."""
    lim = limits_of(settings, message.platform)
    lines: list[str] = []
    opts = message.options
    if opts.content_warning:
        lines.append(f"{indent}content warning: {opts.content_warning}")
    for label, value in (("visibility", opts.visibility), ("language", opts.language)):
        if value:
            lines.append(f"{indent}{label}: {value}")
    if opts.sensitive:
        lines.append(f"{indent}media marked sensitive")
    for n, part in enumerate(message.parts, 1):
        cw = opts.content_warning if n == 1 and message.platform == "mastodon" else None
        count = lim.length(part.text, cw)
        head = f"part {n}/{len(message.parts)}, " if len(message.parts) > 1 else ""
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
            choice = "several choices" if opts.poll.multiple else "one choice"
            lines.append(f"{indent}poll ({choice}, {opts.poll.duration_seconds // 60} min): "
                         + " / ".join(opts.poll.options))
    return lines


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
    return [f"{item.post.path} -> {item.account} (due {when(item.post.date, settings.zone)})"
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
            out.append(f"{label}: {item.post.path} -> {item.account}{note}")
    if out:
        out.insert(0, "")
    return out


def render_run(report: Report, settings: Settings) -> list[str]:
    out: list[str] = []
    for outcome in report.outcomes:
        item = outcome.item
        target = f"{item.post.path} -> {item.account}"
        if outcome.status == "published":
            urls = ", ".join(r.url or r.remote_id or "(id unknown)" for r in outcome.receipts)
            late = f" [{item.note}]" if item.note else ""
            out.append(f"published {target}: {urls}{late}")
        elif outcome.status == "skipped":
            out.append(f"skipped {target}: {outcome.reason}; stays pending")
        elif outcome.status == "uncertain":
            out.append(f"UNCERTAIN {target}: {outcome.reason}. It will not be posted again "
                       f"until you run `publisher resolve {item.post.path} --platform "
                       f"{item.account} --as published|retry`")
        else:
            out.append(f"failed {target}: {outcome.reason}")
    out.extend(_other_states(report, settings))
    out.extend(report.notes)
    return out
