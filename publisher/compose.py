"""From a Post to the Message each account receives, and every problem that would make a
platform reject, cut or mis-post it. No network, no credentials: `check`, `plan` and
`publish` all come through here, so the preview is what is sent.
"""

from __future__ import annotations

import hashlib
import re
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from publisher import text as textmod
from publisher.config import PLATFORM_ALIASES, Account, Settings
from publisher.message import Attachment, Message, Options, Part, Poll
from publisher.platforms import limits_for
from publisher.platforms.base import Limits
from publisher.posts import (
    FileSignature,
    MediaRef,
    Post,
    Problem,
    Severity,
    file_signature,
    parse_media,
    real_path,
)

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
    #: Every media file the message was built from (as written, before resolving links),
    #: found or not, with its signature taken before it was read: what a cached check must
    #: find unchanged (`publisher.checkcache`).
    media_files: tuple[tuple[str, FileSignature], ...] = ()

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
    names = _override_names(account)
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

    def line_of(key: str) -> int | None:
        """The line of `key`, in the override that set it when one did."""
        for name in _override_names(account):
            for where in ((name, key), ("social", name, key)):
                if where in post.lines:
                    return post.lines[where]
        return post.line(key)

    override_line = line_of("text") or post.line(account.platform) or post.line(account.name)
    markdown = fields.get("text")
    if markdown is not None and not isinstance(markdown, str):
        bad("text must be text", override_line)
        markdown = None
    markdown = markdown if markdown is not None else post.body
    if markdown.lstrip().startswith(("---", "+++")):
        bad("the text starts with a front-matter delimiter; is the front matter broken?",
            override_line)

    cw = _text_field(fields, "content_warning", bad, line_of, post)
    options = Options(
        content_warning=cw,
        sensitive=_bool_field(fields, "sensitive", bad, line_of),
        visibility=_choice(fields, "visibility", VISIBILITIES, bad, line_of),
        language=_language(fields, bad, post, line_of),
        poll=_poll(fields, account.platform, bad, line_of),
    )
    x_cw: str | None = None
    if account.platform == "x":
        if options.content_warning:
            if settings.x_content_warning == "refuse":
                bad("X has no content warnings: remove content_warning for x (`x: "
                    '{content_warning: null}`) or set x_content_warning = "prepend"',
                    line_of("content_warning"))
            else:
                x_cw = f"CW: {options.content_warning}"
        if options.visibility in ("private", "direct"):
            bad(f"visibility {options.visibility} does not exist on X, where the post would be "
                "public: remove x from platforms or override it (`x: {visibility: public}`)",
                line_of("visibility"))
        elif options.visibility == "unlisted":
            bad("visibility unlisted does not exist on X: the post is public there",
                line_of("visibility"), "warning")
        if options.sensitive:
            bad("sensitive is ignored on X (its API has no such flag for a post; mark "
                "sensitive media in the account's settings)", line_of("sensitive"), "warning")
        if options.poll and options.poll.multiple:
            bad("X polls take one choice only: remove `multiple` or give x its own poll",
                line_of("poll"))
        if options.poll and options.poll.hide_totals:
            bad("hide_totals is ignored on X (X shows totals after voting)", line_of("poll"),
                "warning")
        # X has no CW, visibility or language per post; what remains is sent.
        options = Options(sensitive=options.sensitive, poll=options.poll)

    thread_mode = fields.get("thread")
    if thread_mode not in (None, "auto", False, True):
        bad("thread must be `auto` (split to fit), `false` (never split at `---`) or left out",
            line_of("thread"))
        thread_mode = None
    chunks = textmod.split_thread(markdown) if thread_mode is not False else [markdown]
    parts_md = [c for c in chunks if c.strip()] or [""]

    front_media = _media_refs(fields, post, account, bad)
    consulted: list[tuple[str, FileSignature]] = []
    parts: list[Part] = []
    for index, md in enumerate(parts_md):
        inline = [MediaRef(path, alt, None) for path, alt in textmod.extract_images(md)]
        refs = (list(front_media) if index == 0 else []) + inline
        attachments = tuple(a for a in (_attach(r, post, settings, bad_file, consulted)
                                        for r in refs) if a)
        plain = _map_mentions(textmod.to_plain_text(md), account, settings)
        if index == 0 and x_cw:
            plain = f"{x_cw}\n\n{plain}" if plain else x_cw
        parts.append(Part(plain, attachments))

    if thread_mode == "auto":
        parts = _auto_thread(parts, lim, options.content_warning, settings, bad,
                             line_of("thread"))
    elif settings.thread_numbering and len(parts) > 1:
        total = len(parts)
        parts = [Part(f"{p.text} {i}/{total}", p.media) for i, p in enumerate(parts, 1)]

    message = Message(post.path, account.name, account.platform, post.date, tuple(parts), options)
    problems.extend(check_message(message, lim, post, settings))
    return Composed(message, tuple(problems), tuple(consulted))


def _override_names(account: Account) -> list[str]:
    """Front-matter tables that override fields for `account`, weakest first."""
    names = [account.platform] + [a for a, p in PLATFORM_ALIASES.items() if p == account.platform]
    if account.name != account.platform:
        names.append(account.name)
    return names


def _auto_thread(parts: list[Part], lim: Limits, cw: str | None, settings: Settings, bad: Any,
                 line: int | None) -> list[Part]:
    """`thread: auto`: split each part (written or whole body) to fit, then number them all.
    A part's images stay with its first piece."""
    def fits(text: str) -> bool:
        return lim.fits(text, cw)

    pieces: list[Part] = []
    for part in parts:
        try:
            texts = textmod.auto_split(part.text, fits, numbering=False) or [part.text]
        except ValueError as exc:
            bad(f"thread: auto cannot split this text to fit {lim.platform}: {exc}; break the "
                "long word or URL, or split by hand with a line `---`", line)
            texts = [part.text]
        pieces.extend(Part(t, part.media if i == 0 else ()) for i, t in enumerate(texts))
    if settings.thread_numbering and len(pieces) > 1:
        # Numbering may make a piece too long: split again with the suffix reserved.
        if len(parts) == 1:
            try:
                texts = textmod.auto_split(parts[0].text, fits, numbering=True)
                return [Part(t, parts[0].media if i == 0 else ()) for i, t in enumerate(texts)]
            except ValueError:
                pass
        total = len(pieces)
        pieces = [Part(f"{p.text} {i}/{total}", p.media) for i, p in enumerate(pieces, 1)]
    return pieces


def poll_problems(poll: Poll, lim: Limits) -> list[str]:
    """Why `lim`'s platform would refuse `poll` (options, their length, the duration)."""
    out: list[str] = []
    lo, hi = lim.poll_options
    if not lo <= len(poll.options) <= hi:
        out.append(f"a poll has {lo} to {hi} options on {lim.platform}, not {len(poll.options)}")
    for option in poll.options:
        if len(option) > lim.poll_option_chars:
            out.append(f"poll option {option!r} is {len(option)} characters, over the "
                       f"{lim.poll_option_chars} {lim.platform} allows")
    smin, smax = lim.poll_seconds
    if not smin <= poll.duration_seconds <= smax:
        out.append(f"poll duration {human_duration(poll.duration_seconds)} is outside "
                   f"{human_duration(smin)} to {human_duration(smax)} on {lim.platform}")
    return out


def human_duration(seconds: int) -> str:
    """`300` -> `5m`, `86400` -> `1d`, `5400` -> `90m`; the largest unit that divides it."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    if seconds > 86400:  # instance limits such as 2629746 (a month)
        return f"about {seconds // 86400}d"
    return f"{seconds}s"


def x_fallback_text(texts: list[str], first_url: str) -> str:
    """What `x_thread_fallback = "link"` posts when X refuses a reply: the remaining parts
    as one post, ending with the link to the first (X shows it as a quote)."""
    return "\n\n".join([*texts, first_url])


def check_message(message: Message, lim: Limits, post: Post, settings: Settings) -> list[Problem]:
    """Every reason `lim`'s platform would reject, cut or mis-post the message."""
    out: list[Problem] = []

    def bad(msg: str, line: int | None = None, severity: Severity = "error") -> None:
        out.append(Problem(post.path, line, severity, f"{message.account}: {msg}"))

    text_line = post.line(message.platform) or post.line(message.account)
    body_line = text_line or _body_line(post)
    cw = message.options.content_warning if message.platform == "mastodon" else None
    poll = message.options.poll
    if poll is not None:
        for reason in poll_problems(poll, lim):
            bad(reason, post.line("poll"))
        if not message.parts[0].text.strip():
            bad("a poll needs a question: write the text of the post", post.line("poll"))
    for index, part in enumerate(message.parts):
        where = f"part {index + 1}: " if len(message.parts) > 1 else ""
        if not part.text.strip() and not part.media and not (poll and index == 0):
            bad(f"{where}nothing to post: the text is empty and there are no images", body_line)
            continue
        if message.platform == "x" and textmod.x_has_invalid_characters(part.text):
            bad(f"{where}the text contains characters X refuses", body_line)
        # Mastodon: the content warning goes on every part of a thread and counts each time.
        # Counted exactly only when a cheap bound cannot show that it fits.
        count = 0 if lim.surely_fits(part.text, cw) else lim.length(part.text, cw)
        if count > lim.max_characters:
            extra = " (content warning included)" if cw else ""
            bad(f"{where}text is {count} characters{extra}, over the {lim.max_characters} "
                f"{message.platform} allows; shorten it, add a `{message.platform}: {{text: ...}}` "
                "override, or split it into a thread with a line `---`",
                body_line)
        if len(part.media) > lim.max_images:
            bad(f"{where}{len(part.media)} images, {message.platform} allows {lim.max_images}",
                post.line("media"))
        gifs = [m for m in part.media if m.mime == "image/gif"]
        if lim.gif_alone and gifs and len(part.media) > 1:
            bad(f"{where}X takes one animated GIF or up to 4 photos, not both",
                post.line("media"))
        if index == 0 and part.media and poll:
            bad("a post cannot have both a poll and images: drop the images, move them to a "
                "later part of the thread, or drop the poll", post.line("poll"))
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


def _attach(ref: MediaRef, post: Post, settings: Settings, bad: Any,
            consulted: list[tuple[str, FileSignature]]) -> Attachment | None:
    raw = PurePosixPath(ref.path)
    if raw.is_absolute() or ".." in raw.parts or re.match(r"^[a-z][a-z0-9+.-]*:", ref.path, re.I):
        bad(f"{ref.path}: media paths must be relative to the post and stay inside the "
            "repository (no `..`, absolute paths or URLs)", ref.line)
        return None
    written = post.file.parent / Path(*raw.parts)
    consulted.append((str(written), file_signature(str(written))))  # before it is read
    try:
        file = real_path(written)
    except RuntimeError:  # a symlink loop (Python 3.11, 3.12)
        bad(f"{ref.path}: cannot be resolved (a symlink loop?); point it at an image inside "
            "the repository", ref.line)
        return None
    except OSError as exc:  # e.g. a folder on the way that may not be entered
        bad(f"{ref.path}: cannot be resolved ({exc.strerror or exc}); check the folders' "
            "permissions", ref.line)
        return None
    root = real_path(settings.root)
    if not file.is_relative_to(root):
        bad(f"{ref.path}: resolves outside the repository (a symlink?); keep images inside it",
            ref.line)
        return None
    rel = file.relative_to(root).as_posix()
    try:
        st = file.stat()
    except OSError:
        st = None
    if st is None or not stat.S_ISREG(st.st_mode):
        bad(f"{ref.path}: file not found (looked for {rel})", ref.line)
        return None
    key = (file, st.st_size, st.st_mtime_ns)
    cached = _HASH_CACHE.get(key)
    if cached is None:
        try:
            data = file.read_bytes()
        except OSError as exc:
            bad(f"{ref.path}: cannot be read ({exc.strerror or exc}); check its permissions",
                ref.line)
            return None
        cached = (hashlib.sha256(data).hexdigest(), sniff_mime(data[:16]))
        _HASH_CACHE[key] = cached
    digest, mime = cached
    if mime is None:
        bad(f"{ref.path}: not a PNG, JPEG, GIF or WebP image (judged by its bytes)", ref.line)
    return Attachment(file, rel, ref.alt, mime, st.st_size, digest)


def _map_mentions(text: str, account: Account, settings: Settings) -> str:
    """Replace configured handles (`[mentions]`) by the account's or platform's own."""
    for handle, targets in settings.mentions.items():
        target = targets.get(account.name, targets.get(account.platform))
        if target is not None:
            pattern = rf"(?<![\w@]){re.escape(handle)}(?![\w@.-]*\w)"
            text = re.sub(pattern, target.replace("\\", "\\\\"), text, flags=re.IGNORECASE)
    return text


LineOf = Any  # Callable[[str], int | None]


def _text_field(fields: Mapping[str, Any], key: str, bad: Any, line_of: LineOf,
                post: Post) -> str | None:
    value = fields.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        # A top-level `yes`/`no` is named as a YAML trap by posts.py already.
        if not (isinstance(value, bool) and line_of(key) == post.line(key)):
            bad(f"{key} must be text; quote it: {key}: \"{value}\"", line_of(key))
        return str(value)
    return value.strip() or None


def _bool_field(fields: Mapping[str, Any], key: str, bad: Any, line_of: LineOf) -> bool:
    value = fields.get(key, False)
    if value is None:
        return False
    if not isinstance(value, bool):
        bad(f"{key} must be true or false", line_of(key))
        return False
    return value


def _choice(fields: Mapping[str, Any], key: str, choices: tuple[str, ...], bad: Any,
            line_of: LineOf) -> str | None:
    value = fields.get(key)
    if value is None:
        return None
    if value not in choices:
        bad(f"{key} {value!r} is not one of {', '.join(choices)}", line_of(key))
        return None
    return str(value)


def _language(fields: Mapping[str, Any], bad: Any, post: Post, line_of: LineOf) -> str | None:
    value = fields.get("language")
    if value is None:
        return None
    if isinstance(value, str) and value.lower() in ISO_639_1:
        return value.lower()
    # A bare `no` (read as false) is named as a YAML trap by posts.py before this runs.
    if isinstance(value, str) and re.fullmatch(r"[A-Za-z]{2}[-_][A-Za-z0-9]+", value) \
            and value[:2].lower() in ISO_639_1:
        hint = f" (Mastodon takes the language without a region: {value[:2].lower()!r})"
        shown = value
    else:
        hint, shown = "", str(value)
    bad(f"language {shown!r} is not an ISO 639-1 code such as en, de, ja{hint}",
        line_of("language"))
    return None


_DURATION = re.compile(r"^\s*(\d+)\s*(m|min|minutes?|h|hours?|d|days?)\s*$")
_SECONDS = {"m": 60, "h": 3600, "d": 86400}
_POLL_KEYS = ("options", "duration", "multiple", "hide_totals")


def _poll(fields: Mapping[str, Any], platform: str, bad: Any, line_of: LineOf) -> Poll | None:
    """The poll as written; its limits are checked per platform in `check_message`."""
    value = fields.get("poll")
    if value is None:
        return None
    line = line_of("poll")
    if not isinstance(value, dict) or not isinstance(value.get("options"), list):
        bad('poll needs options: `poll: {options: ["Yes", "No"], duration: 1d}`', line)
        return None
    unknown = [k for k in value if k not in _POLL_KEYS]
    if unknown:
        bad(f"poll: unknown keys {sorted(map(str, unknown))}; allowed: {', '.join(_POLL_KEYS)}",
            line)
    options: list[str] = []
    if any(isinstance(option, bool) for option in value["options"]):
        bad("poll options such as Yes, No, On or Off are read as true/false (YAML 1.1): "
            'quote every option: options: ["Yes", "No"]', line)
    for option in value["options"]:
        if isinstance(option, bool):
            pass
        elif not isinstance(option, str | int) or isinstance(option, float):
            bad(f"poll option {option!r} must be text; quote it", line)
        elif not str(option).strip():
            bad("poll options must not be empty", line)
        options.append(str(option).strip())
    duplicates = sorted({o for o in options if options.count(o) > 1})
    if duplicates:
        bad(f"poll options must differ: {', '.join(map(repr, duplicates))} appears twice", line)
    duration = value.get("duration", "1d")
    m = _DURATION.match(str(duration)) if not isinstance(duration, bool) else None
    if not m:
        bad(f"poll duration {duration!r} is not understood: use e.g. 30m, 6h or 1d", line)
        return None
    flags = {}
    for key in ("multiple", "hide_totals"):
        flag = value.get(key, False)
        if not isinstance(flag, bool):
            bad(f"poll: {key} must be true or false", line)
            flag = False
        flags[key] = flag
    return Poll(tuple(options), int(m.group(1)) * _SECONDS[m.group(2)[0]], flags["multiple"],
                flags["hide_totals"])
