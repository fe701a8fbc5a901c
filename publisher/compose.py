"""From a Post to the Message each account receives, and every problem that would make a
platform reject, cut or mis-post it. No network, no credentials: `check`, `plan` and
`publish` all come through here, so the preview is what is sent.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from publisher import text as textmod
from publisher.config import PLATFORM_ALIASES, Account, Settings
from publisher.message import Attachment, Message, Options, Part, Poll
from publisher.platforms import limits_for
from publisher.platforms.base import Limits
from publisher.posts import MediaRef, Post, Problem, Severity, parse_media

VISIBILITIES = ("public", "unlisted", "private", "direct")
# ISO 639-1 two-letter codes (Mastodon validates `language` against these).
ISO_639_1 = frozenset(
    "aa ab ae af ak am an ar as av ay az ba be bg bh bi bm bn bo br bs ca ce ch co cr cs cu cv "
    "cy da de dv dz ee el en eo es et eu fa ff fi fj fo fr fy ga gd gl gn gu gv ha he hi ho hr "
    "ht hu hy hz ia id ie ig ii ik io is it iu ja jv ka kg ki kj kk kl km kn ko kr ks ku kv kw "
    "ky la lb lg li ln lo lt lu lv mg mh mi mk ml mn mr ms mt my na nb nd ne ng nl nn no nr nv "
    "ny oc oj om or os pa pi pl ps pt qu rm rn ro ru rw sa sc sd se sg si sk sl sm sn so sq sr "
    "ss st su sv sw ta te tg th ti tk tl tn to tr ts tt tw ty ug uk ur uz ve vi vo wa wo xh yi "
    "yo za zh zu".split()
)


@dataclass(frozen=True)
class Composed:
    """A message (None when the post cannot be turned into one) and the problems found."""

    message: Message | None
    problems: tuple[Problem, ...]

    @property
    def ok(self) -> bool:
        return self.message is not None and not any(p.severity == "error" for p in self.problems)


def sniff_mime(head: bytes) -> str | None:
    """The image type by its bytes, not its name."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return None


def limits_of(settings: Settings, platform: str) -> Limits:
    if platform == "mastodon":
        return limits_for("mastodon", max_characters=settings.mastodon_max_characters,
                          max_image_bytes=settings.mastodon_max_image_bytes,
                          max_gif_bytes=settings.mastodon_max_image_bytes)
    return limits_for(platform)


def fields_for(post: Post, account: Account) -> dict[str, Any]:
    """The post's fields with the per-platform (or per-account) overrides applied."""
    meta = post.meta
    merged: dict[str, Any] = {k: meta[k] for k in
                              ("media", "content_warning", "sensitive", "visibility", "language",
                               "poll", "thread") if k in meta}
    social = meta.get("social") if isinstance(meta.get("social"), dict) else {}
    names = [account.platform] + [a for a, p in PLATFORM_ALIASES.items() if p == account.platform]
    if account.name != account.platform:
        names.append(account.name)
    for source in (social, meta):
        for name in names:
            override = source.get(name) if isinstance(source, Mapping) else None
            if isinstance(override, str):
                merged["text"] = override
            elif isinstance(override, dict):
                merged.update(override)
    return merged


def compose(post: Post, account: Account, settings: Settings,
            limits: Limits | None = None) -> Composed:
    """Build the Message `account` would receive for `post`, with all problems found."""
    problems: list[Problem] = []
    lim = limits or limits_of(settings, account.platform)
    label = account.name

    def bad(message: str, line: int | None = None, severity: Severity = "error") -> None:
        problems.append(Problem(post.path, line, severity, f"{label}: {message}"))

    def bad_file(message: str, line: int | None = None) -> None:
        # The same for every platform: without the account, so it is reported once.
        problems.append(Problem(post.path, line, "error", message))

    if post.date is None:
        return Composed(None, ())
    fields = fields_for(post, account)
    override_line = post.line(account.platform) or post.line(account.name)
    markdown = fields.get("text")
    if markdown is not None and not isinstance(markdown, str):
        bad("text must be text", override_line)
        markdown = None
    markdown = markdown if markdown is not None else post.body
    if markdown.lstrip().startswith(("---", "+++")):
        bad("the text starts with a front-matter delimiter; is the front matter broken?",
            override_line)

    cw = _text_field(fields, "content_warning", bad, post)
    options = Options(
        content_warning=cw,
        sensitive=_bool_field(fields, "sensitive", bad, post),
        visibility=_choice(fields, "visibility", VISIBILITIES, bad, post),
        language=_language(fields, bad, post),
        poll=_poll(fields, lim, bad, post),
    )
    if account.platform == "x":
        if options.content_warning:
            if settings.x_content_warning == "refuse":
                bad("X has no content warnings: remove content_warning for x or set "
                    'x_content_warning = "prepend"', post.line("content_warning"))
            else:
                markdown = f"CW: {options.content_warning}\n\n{markdown}"
        for key in ("visibility", "language"):
            if key in fields:
                bad(f"{key} is ignored on X", post.line(key), "warning")
        options = Options(sensitive=options.sensitive, poll=options.poll)

    chunks = textmod.split_thread(markdown)
    parts_md = [c for c in chunks if c.strip()] or [""]
    thread_mode = fields.get("thread")
    if thread_mode not in (None, "auto", False, True):
        bad("thread must be `auto` (or leave it out)", post.line("thread"))

    front_media = _media_refs(fields, post, account, bad)
    parts: list[Part] = []
    for index, md in enumerate(parts_md):
        inline = [MediaRef(path, alt, None) for path, alt in textmod.extract_images(md)]
        refs = (list(front_media) if index == 0 else []) + inline
        attachments = tuple(a for a in (_attach(r, post, settings, bad_file) for r in refs)
                            if a)
        plain = _map_mentions(textmod.to_plain_text(md), account.platform, settings)
        parts.append(Part(plain, attachments))

    if thread_mode == "auto" and len(parts) == 1:
        first = parts[0]
        pieces = textmod.auto_split(first.text, lambda t: lim.fits(t, options.content_warning),
                                    numbering=settings.thread_numbering)
        parts = [Part(t, first.media if i == 0 else ()) for i, t in enumerate(pieces)]
    elif settings.thread_numbering and len(parts) > 1:
        total = len(parts)
        parts = [Part(f"{p.text} {i}/{total}", p.media) for i, p in enumerate(parts, 1)]

    message = Message(post.path, account.name, account.platform, post.date, tuple(parts), options)
    problems.extend(check_message(message, lim, post, settings))
    return Composed(message, tuple(problems))


def check_message(message: Message, lim: Limits, post: Post, settings: Settings) -> list[Problem]:
    """Every reason `lim`'s platform would reject, cut or mis-post the message."""
    out: list[Problem] = []

    def bad(msg: str, line: int | None = None, severity: Severity = "error") -> None:
        out.append(Problem(post.path, line, severity, f"{message.account}: {msg}"))

    text_line = post.line(message.platform) or post.line(message.account)
    body_line = text_line or _body_line(post)
    cw = message.options.content_warning if message.platform == "mastodon" else None
    for index, part in enumerate(message.parts):
        where = f"part {index + 1}: " if len(message.parts) > 1 else ""
        if not part.text.strip() and not part.media and not message.options.poll:
            bad(f"{where}nothing to post: the text is empty and there are no images", body_line)
            continue
        if message.platform == "x":
            measured = textmod.x_length(part.text, lim.max_characters)
            if measured.has_invalid_characters:
                bad(f"{where}the text contains characters X refuses", body_line)
        count = lim.length(part.text, cw if index == 0 else None)
        if count > lim.max_characters:
            extra = " (content warning included)" if cw and index == 0 else ""
            bad(f"{where}text is {count} characters{extra}, over the {lim.max_characters} "
                f"{message.platform} allows; shorten it, add a `{message.platform}: {{text: ...}}` "
                "override, or split it into a thread with a line `---`", body_line)
        if len(part.media) > lim.max_images:
            bad(f"{where}{len(part.media)} images, {message.platform} allows {lim.max_images}",
                post.line("media"))
        gifs = [m for m in part.media if m.mime == "image/gif"]
        if lim.gif_alone and gifs and len(part.media) > 1:
            bad(f"{where}X takes one animated GIF or up to 4 photos, not both",
                post.line("media"))
        if part.media and message.options.poll:
            bad("a post cannot have both a poll and images", post.line("poll"))
        for m in part.media:
            line = _media_line(post, m)
            if m.mime is None:
                continue  # reported once by _attach
            if m.mime not in lim.image_types:
                bad(f"{m.path}: {m.mime} is not accepted by {message.platform}", line)
            cap = lim.max_gif_bytes if m.mime == "image/gif" else lim.max_image_bytes
            if m.size > cap:
                bad(f"{m.path}: {m.size / 1048576:.1f} MB, over the {cap / 1048576:.0f} MB "
                    f"{message.platform} accepts; make it smaller", line)
            if not m.alt or not m.alt.strip():
                if not settings.allow_missing_alt:
                    bad(f"{m.path}: no alt text; describe the image with `alt:` "
                        "(or set allow_missing_alt = true)", line)
            elif len(m.alt) > lim.max_alt:
                bad(f"{m.path}: alt text is {len(m.alt)} characters, over the {lim.max_alt} "
                    f"{message.platform} accepts; shorten it or give this platform its own "
                    "media list", line)
    if message.platform == "x":
        texts = " ".join(p.text for p in message.parts)
        for handle in re.findall(r"(?<![\w@])@\w+@[\w.-]+\w", texts):
            bad(f"{handle} is a fediverse handle; map it for X under [mentions] in "
                "publisher.toml", body_line, "warning")
    return out


def _body_line(post: Post) -> int | None:
    return post.body_line


def _media_line(post: Post, media: Attachment) -> int | None:
    for i, ref in enumerate(post.media):
        if ref.line and media.path.endswith(PurePosixPath(ref.path).name):
            return post.line("media", i, "alt") if not media.alt else ref.line
    return post.line("media")


def _media_refs(fields: Mapping[str, Any], post: Post, account: Account,
                bad: Any) -> list[MediaRef]:
    value = fields.get("media")
    if value is None:
        return []
    if value is post.meta.get("media"):
        return list(post.media)
    # An override's media list gets the same checks as the top-level one, with its lines.
    tables = (account.name, account.platform, "twitter" if account.platform == "x" else "")
    key = next(((t, "media") for t in tables
                if isinstance(post.meta.get(t), dict) and "media" in post.meta[t]), ("media",))
    return list(parse_media(value, key, bad, post.lines))


_HASH_CACHE: dict[tuple[Path, int, int], tuple[str, str | None]] = {}


def _attach(ref: MediaRef, post: Post, settings: Settings, bad: Any) -> Attachment | None:
    raw = PurePosixPath(ref.path)
    if raw.is_absolute() or ".." in raw.parts or re.match(r"^[a-z][a-z0-9+.-]*:", ref.path, re.I):
        bad(f"{ref.path}: media paths must be relative to the post and stay inside the "
            "repository (no `..`, absolute paths or URLs)", ref.line)
        return None
    file = (post.file.parent / Path(*raw.parts)).resolve()
    root = settings.root.resolve()
    if not file.is_relative_to(root):
        bad(f"{ref.path}: resolves outside the repository (a symlink?); keep images inside it",
            ref.line)
        return None
    if not file.is_file():
        bad(f"{ref.path}: file not found (looked for {file.relative_to(root).as_posix()})",
            ref.line)
        return None
    st = file.stat()
    key = (file, st.st_size, st.st_mtime_ns)
    cached = _HASH_CACHE.get(key)
    if cached is None:
        data = file.read_bytes()
        cached = (hashlib.sha256(data).hexdigest(), sniff_mime(data[:16]))
        _HASH_CACHE[key] = cached
    digest, mime = cached
    if mime is None:
        bad(f"{ref.path}: not a PNG, JPEG, GIF or WebP image (judged by its bytes)", ref.line)
    return Attachment(file, file.relative_to(root).as_posix(), ref.alt, mime, st.st_size, digest)


def _map_mentions(text: str, platform: str, settings: Settings) -> str:
    if not settings.mentions:
        return text
    for handle, targets in settings.mentions.items():
        if platform in targets:
            text = re.sub(rf"(?<![\w@]){re.escape(handle)}(?![\w@.-]*\w)", targets[platform], text)
    return text


def _text_field(fields: Mapping[str, Any], key: str, bad: Any, post: Post) -> str | None:
    value = fields.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        bad(f"{key} must be text; quote it", post.line(key))
        return str(value)
    return value.strip() or None


def _bool_field(fields: Mapping[str, Any], key: str, bad: Any, post: Post) -> bool:
    value = fields.get(key, False)
    if not isinstance(value, bool):
        bad(f"{key} must be true or false", post.line(key))
        return False
    return value


def _choice(fields: Mapping[str, Any], key: str, choices: tuple[str, ...], bad: Any,
            post: Post) -> str | None:
    value = fields.get(key)
    if value is None:
        return None
    if value not in choices:
        bad(f"{key} must be one of {', '.join(choices)}", post.line(key))
        return None
    return str(value)


def _language(fields: Mapping[str, Any], bad: Any, post: Post) -> str | None:
    value = fields.get("language")
    if value is None:
        return None
    if not isinstance(value, str) or value.lower() not in ISO_639_1:
        shown = str(value).lower() if isinstance(value, bool) else value
        hint = ' (YAML read `no` as false: quote it, language: "no")' if value is False else ""
        bad(f"language {shown!r} is not an ISO 639-1 code such as en, de, ja{hint}",
            post.line("language"))
        return None
    return value.lower()


_DURATION = re.compile(r"^\s*(\d+)\s*(m|min|minutes?|h|hours?|d|days?)\s*$")
_SECONDS = {"m": 60, "h": 3600, "d": 86400}


def _poll(fields: Mapping[str, Any], lim: Limits, bad: Any, post: Post) -> Poll | None:
    value = fields.get("poll")
    if value is None:
        return None
    line = post.line("poll")
    if not isinstance(value, dict) or not isinstance(value.get("options"), list):
        bad('poll needs options: `poll: {options: ["Yes", "No"], duration: 1d}`', line)
        return None
    for option in value["options"]:
        if isinstance(option, bool) or not isinstance(option, str):
            # YAML 1.1 reads Yes/No/On/Off as booleans: the poll would say "True".
            bad(f"poll option {option!r} was read as {type(option).__name__}, not text "
                '(YAML 1.1 reads Yes/No as true/false); quote it: options: ["Yes", "No"]', line)
    options = [str(o) for o in value["options"]]
    lo, hi = lim.poll_options
    if not lo <= len(options) <= hi:
        bad(f"a poll has {lo} to {hi} options on {lim.platform}, not {len(options)}", line)
    for option in options:
        if len(option) > lim.poll_option_chars:
            bad(f"poll option {option!r} is longer than {lim.poll_option_chars} characters", line)
    duration = value.get("duration", "1d")
    m = _DURATION.match(str(duration))
    if not m:
        bad(f"poll duration {duration!r} is not understood: use e.g. 30m, 6h or 1d", line)
        return None
    seconds = int(m.group(1)) * _SECONDS[m.group(2)[0]]
    smin, smax = lim.poll_seconds
    if not smin <= seconds <= smax:
        bad(f"poll duration {duration} is outside {smin // 60} minutes to "
            f"{smax // 86400} days on {lim.platform}", line)
    unknown = set(value) - {"options", "duration", "multiple", "hide_totals"}
    if unknown:
        bad(f"poll: unknown keys {sorted(unknown)}", line)
    return Poll(tuple(options), seconds, bool(value.get("multiple", False)),
                bool(value.get("hide_totals", False)))
