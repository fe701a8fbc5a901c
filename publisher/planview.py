"""What `publisher plan` shows: every post in date order with its state, rendered as text,
Markdown (the pull-request preview), JSON (stable; fields documented in the README) or an
iCalendar feed. The per-platform previews come from `report.preview`, the same lines
`publish --dry-run` prints, so the two cannot drift apart.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from publisher import report
from publisher.compose import limits_of
from publisher.config import Settings
from publisher.message import Message
from publisher.posts import Post, Problem
from publisher.schedule import Item, human

JSON_VERSION = 1
#: Post-level states, in the order a reviewer should look at them.
POST_STATES = ("invalid", "uncertain", "failed", "partly published", "due", "deferred",
               "missed", "scheduled", "published", "draft")
UPCOMING = ("due", "deferred", "scheduled")
LABELS = {"due": "due now"}


@dataclass(frozen=True)
class PostView:
    """One post with the state of each of its platforms and the problems found."""

    post: Post
    items: tuple[Item, ...]
    state: str
    changed: bool
    problems: tuple[Problem, ...]

    @property
    def is_upcoming(self) -> bool:
        return any(i.state in UPCOMING for i in self.items)


def build(items: Sequence[Item], problems: Iterable[Problem],
          changed: Iterable[str] = ()) -> list[PostView]:
    """Group the plan's items by post (date order kept) and give each post one state."""
    changed_set = set(changed)
    by_path: dict[str, list[Item]] = {}
    posts: dict[str, Post] = {}
    for item in items:
        by_path.setdefault(item.post.path, []).append(item)
        posts[item.post.path] = item.post
    found: dict[str, list[Problem]] = {}
    for problem in problems:
        found.setdefault(problem.path, []).append(problem)
    return [PostView(posts[path], tuple(group), post_state(group), path in changed_set,
                     tuple(found.get(path, ())))
            for path, group in by_path.items()]


def post_state(items: Sequence[Item]) -> str:
    states = {i.state for i in items}
    if len(states) == 1:
        return next(iter(states))
    if "published" in states and states - {"published", "draft"}:
        return "partly published"
    return min(states, key=POST_STATES.index)


def _urls(item: Item) -> list[str]:
    if item.entry is None:
        return []
    return [r.url or r.remote_id or "" for _, r in sorted(item.entry.published.items())
            if r.url or r.remote_id]


def _account_detail(item: Item, now: datetime, relative: bool = True) -> str:
    """One line on where one platform stands, and why when it is not published."""
    state = item.state
    if state == "published":
        urls = _urls(item)
        return "published " + (" ".join(urls) if urls else "(the log has no link)")
    text = LABELS.get(state, state)
    if state == "scheduled" and item.post.date is not None and relative:
        text += f", in {human(item.post.date - now)}"
    if item.note:
        text += f": {item.note}"
    entry = item.entry
    if entry is not None and state in ("due", "deferred"):
        done = len(entry.published)
        if done:
            text += f" ({done} of {entry.parts} parts published)"
        failure = entry.last_failure
        if failure is not None:
            text += f"; last attempt failed: {failure.reason or failure.kind}"
    if state == "invalid":
        errors = [p for p in item.problems if p.severity == "error"]
        if errors:
            text += f": {errors[0].message}"
        elif item.note.startswith("errors for"):
            text += " (held back: nothing is posted from a file with errors)"
    if state == "uncertain":
        text += (f"; decide with `publisher resolve {item.post.path} --platform {item.account}"
                 " --as published|retry`")
    return text


def _when(post: Post, settings: Settings) -> str:
    return report.when(post.date, settings.zone)


# --- text ------------------------------------------------------------------------------------


def render_text(views: Sequence[PostView], settings: Settings, now: datetime) -> list[str]:
    lines = [f"Plan at {now:%Y-%m-%dT%H:%M:%SZ}: {len(views)} post(s)"]
    for view in views:
        state = LABELS.get(view.state, view.state)
        lines.append(f"{_when(view.post, settings)}  {state}  {view.post.path}")
        for item in view.items:
            if item.account != "-":
                lines.append(f"  {item.account}: {_account_detail(item, now)}")
        lines.extend(f"  {p.severity} line {p.line}: {p.message}" if p.line
                     else f"  {p.severity}: {p.message}" for p in view.problems)
    return lines


# --- markdown --------------------------------------------------------------------------------


def _fence(lines: Sequence[str]) -> str:
    """A code fence longer than any run of backticks inside, so the text shows verbatim."""
    longest = max((len(run) for line in lines for run in re.findall(r"`+", line)), default=0)
    return "`" * max(3, longest + 1)


def _code(text: str) -> str:
    ticks = "`" * (max((len(r) for r in re.findall(r"`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{ticks}{pad}{text}{pad}{ticks}"


def _markdown_post(view: PostView, settings: Settings, now: datetime) -> list[str]:
    post = view.post
    state = LABELS.get(view.state, view.state)
    out = ["", f"#### {_code(post.path)}: {state}", ""]
    if post.date is not None:
        until = post.date - now
        relative = f"in {human(until)}" if until.total_seconds() > 0 else f"{human(-until)} ago"
        out.append(f"**When:** {_when(post, settings)} ({relative})")
    else:
        out.append("**When:** no date")
    if view.problems:
        out.append("")
        out.extend(f"- **{p.severity}**" + (f" (line {p.line})" if p.line else "")
                   + f": {p.message}" for p in view.problems)
    for item in view.items:
        if item.account == "-":
            continue
        message = item.composed.message if item.composed else None
        out += ["", f"**{item.account}**: {_account_detail(item, now, relative=False)}"]
        # An invalid post still shows its text, so the reviewer sees what the errors are about.
        if message is not None and item.state != "published":
            block = report.preview(message, settings, indent="")
            fence = _fence(block)
            out += ["", f"{fence}text", *block, fence]
    return out


def render_markdown(views: Sequence[PostView], settings: Settings, now: datetime,
                    changed: Sequence[str] | None) -> list[str]:
    """The pull-request summary: changed posts first, then the rest of the schedule, then
    whatever needs a person."""
    out = ["## Posting plan", "",
           f"Planned at {now:%Y-%m-%dT%H:%M:%SZ}. In each block, the lines after `| ` are "
           "exactly the text the platform receives; the count is the platform's own, against "
           "its limit."]
    if changed is not None:
        mine = [v for v in views if v.changed]
        out += ["", "### Posts changed in this pull request"]
        if not mine:
            out += ["", "None of the changed files is a post."]
        for view in mine:
            out += _markdown_post(view, settings, now)
    rest = [v for v in views if v.is_upcoming and not v.changed]
    out += ["", "### Upcoming" if changed is None else "### The rest of the upcoming schedule"]
    if not rest:
        out += ["", "Nothing else is scheduled."]
    for view in rest:
        out += _markdown_post(view, settings, now)
    attention = [v for v in views if not v.changed and not v.is_upcoming
                 and v.state in ("invalid", "uncertain", "failed", "missed", "partly published")]
    if attention:
        out += ["", "### Needs attention", ""]
        for view in attention:
            reasons = "; ".join(f"{i.account}: {_account_detail(i, now)}" for i in view.items
                                if i.state != "published" and i.account != "-")
            if not reasons and view.problems:
                reasons = view.problems[0].message
            out.append(f"- {_code(view.post.path)} ({_when(view.post, settings)}): "
                       f"{LABELS.get(view.state, view.state)}; {reasons}")
    return out


# --- json ------------------------------------------------------------------------------------


def _iso(dt: datetime | None) -> str | None:
    return dt.astimezone(UTC).isoformat().replace("+00:00", "Z") if dt else None


def _message_json(message: Message, settings: Settings) -> dict[str, Any]:
    lim = limits_of(settings, message.platform)
    opts = message.options
    parts = []
    for n, part in enumerate(message.parts):
        cw = opts.content_warning if n == 0 and message.platform == "mastodon" else None
        parts.append({
            "text": part.text,
            "length": lim.length(part.text, cw),
            "limit": lim.max_characters,
            "media": [{"path": m.path, "alt": m.alt, "mime": m.mime, "size": m.size}
                      for m in part.media],
        })
    poll = opts.poll
    return {
        "content_warning": opts.content_warning,
        "sensitive": opts.sensitive,
        "visibility": opts.visibility,
        "language": opts.language,
        "poll": {"options": list(poll.options), "duration_seconds": poll.duration_seconds,
                 "multiple": poll.multiple, "hide_totals": poll.hide_totals} if poll else None,
        "parts": parts,
    }


def to_json(views: Sequence[PostView], settings: Settings, now: datetime) -> dict[str, Any]:
    posts = []
    for view in views:
        post = view.post
        local = post.date.astimezone(settings.zone).isoformat() if (
            post.date and settings.zone) else None
        platforms = []
        for item in view.items:
            if item.account == "-":
                continue
            message = item.composed.message if item.composed else None
            platforms.append({
                "account": item.account,
                "platform": settings.account(item.account).platform,
                "state": item.state,
                "note": item.note,
                "links": _urls(item),
                "message": _message_json(message, settings) if message else None,
            })
        posts.append({
            "path": post.path,
            "date": _iso(post.date),
            "local_date": local,
            "seconds_until": int((post.date - now).total_seconds()) if post.date else None,
            "state": view.state,
            "changed": view.changed,
            "problems": [{"line": p.line, "severity": p.severity, "message": p.message}
                         for p in view.problems],
            "platforms": platforms,
        })
    return {"version": JSON_VERSION, "now": _iso(now), "timezone": settings.timezone,
            "posts": posts}


def render_json(views: Sequence[PostView], settings: Settings, now: datetime) -> list[str]:
    text = json.dumps(to_json(views, settings, now), ensure_ascii=False, indent=2)
    return text.split("\n")


# --- iCalendar -------------------------------------------------------------------------------


def event_uid(post: Post) -> str:
    """Stable per post file and date: moving the date makes a new event."""
    raw = f"{post.path}\n{_iso(post.date)}".encode()
    return f"{hashlib.sha256(raw).hexdigest()[:32]}@publisher"


def _summary(text: str, words: int = 8) -> str:
    split = text.split()
    head = " ".join(split[:words])
    return head + (" …" if len(split) > words else "")


def render_ics(views: Sequence[PostView], settings: Settings, now: datetime) -> bytes:
    """One VEVENT per upcoming post, at its UTC instant, describing each platform's text."""
    from icalendar import Calendar, Event

    cal = Calendar()
    cal.add("prodid", "-//publisher//posting plan//EN")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("x-wr-calname", "publisher: upcoming posts")
    for view in views:
        post = view.post
        if not view.is_upcoming or post.date is None:
            continue
        texts: list[str] = []
        for item in view.items:
            message = item.composed.message if item.composed else None
            if message is None or item.state not in UPCOMING:
                continue
            body = "\n\n---\n\n".join(p.text for p in message.parts)
            texts.append(f"{item.account}:\n{body}")
        first = texts[0].split("\n", 1)[1] if texts else post.path
        event = Event()
        event.add("uid", event_uid(post))
        event.add("dtstamp", now.astimezone(UTC))
        event.add("dtstart", post.date.astimezone(UTC))
        event.add("summary", _summary(first) or post.path)
        event.add("description", "\n\n".join([*texts, f"File: {post.path}"]))
        cal.add_component(event)
    data: bytes = cal.to_ical()
    return data
