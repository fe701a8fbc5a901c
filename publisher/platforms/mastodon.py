"""Mastodon (and servers speaking its client API: Takahē, GoToSocial, Pleroma, ...) through
Mastodon.py. The only module that imports it.

Choices, with reasons:
- `version_check_mode="created"` with `mastodon_version="4.0.0"`: never ask the server for
  its version (Takahē's `takahe/0.11.0` sends Mastodon.py's version check into endless
  recursion) while still choosing the v2 media endpoint.
- `ratelimit_method="throw"` and an explicit timeout: the library would otherwise sleep
  through rate limits and wait 300 s per request inside a CI job.
- `debug_requests=False`, stated rather than left to the default: the library's debug mode
  prints request headers, the access token included.
- media: upload with its description, then poll `GET /api/v1/media/:id` with a deadline
  (never `synchronous=True`, which polls forever), then post with an idempotency key.
"""

from __future__ import annotations

import html
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import requests
from mastodon import (
    Mastodon,
    MastodonAPIError,
    MastodonError,
    MastodonNetworkError,
    MastodonNotFoundError,
    MastodonRatelimitError,
    MastodonServerError,
    MastodonUnauthorizedError,
)

from publisher.config import Credentials
from publisher.errors import (
    AuthError,
    PlatformError,
    RateLimitedError,
    RejectedError,
    TransientError,
    UnknownOutcomeError,
)
from publisher.message import Message, Part, Receipt
from publisher.platforms.base import Limits, default_limits

USER_AGENT = "publisher (+https://github.com/) Mastodon.py"
_PROCESSING = "not finished processing"


class MastodonPlatform:
    name = "mastodon"
    refuses_duplicates = False  # Idempotency-Key helps, but Takahē and others ignore it

    def __init__(self, credentials: Credentials, *, timeout: float, media_timeout: float,
                 fallback: Limits, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], datetime] | None = None) -> None:
        self.account = credentials.account.name
        self._base = (credentials.get("base_url") or "").rstrip("/")
        if not re.match(r"^https?://", self._base):
            raise PlatformError(self.account, f"{credentials.account.env['base_url']} must be a "
                                "URL such as https://mastodon.social")
        self._api = Mastodon(
            access_token=credentials.get("access_token"),
            api_base_url=self._base,
            version_check_mode="created",
            mastodon_version="4.0.0",
            ratelimit_method="throw",
            request_timeout=timeout,
            session=requests.Session(),
            user_agent=USER_AGENT,
            # Never on: it prints every request's headers, the Bearer token included (SEC-01).
            debug_requests=False,
        )
        self._media_timeout = media_timeout
        self._fallback = fallback
        self._limits: Limits | None = None
        self._sleep = sleep
        self._clock = clock or (lambda: datetime.now(UTC))
        self._account_id: str | None = None

    # -- limits ----------------------------------------------------------------------------

    def limits(self) -> Limits:
        """From the instance document: v2, else v1, else the configured defaults. A failing
        v2 (Takahē answers 500) is not fatal."""
        if self._limits is None:
            conf: dict[str, Any] = {}
            for fetch in (self._api.instance_v2, self._api.instance_v1):
                try:
                    conf = dict(fetch().get("configuration") or {})
                    break
                except (MastodonError, RecursionError, ValueError, KeyError, AttributeError):
                    continue
            statuses = dict(conf.get("statuses") or {})
            media = dict(conf.get("media_attachments") or {})
            polls = dict(conf.get("polls") or {})
            fb = self._fallback
            self._limits = Limits(
                "mastodon",
                int(statuses.get("max_characters") or fb.max_characters),
                int(statuses.get("max_media_attachments") or fb.max_images),
                fb.image_types,
                int(media.get("image_size_limit") or fb.max_image_bytes),
                int(media.get("image_size_limit") or fb.max_gif_bytes),
                int(media.get("description_limit") or fb.max_alt),
                int(statuses.get("characters_reserved_per_url") or fb.url_weight),
                poll_options=(2, int(polls.get("max_options") or fb.poll_options[1])),
                poll_option_chars=int(polls.get("max_characters_per_option")
                                      or fb.poll_option_chars),
                poll_seconds=(int(polls.get("min_expiration") or fb.poll_seconds[0]),
                              int(polls.get("max_expiration") or fb.poll_seconds[1])),
            )
        return self._limits

    # -- publishing ------------------------------------------------------------------------

    def publish(self, message: Message, index: int, part: Part, reply_to: str | None,
                key: str) -> Receipt:
        uploads = [self._upload(m.file, m.mime or "application/octet-stream", m.alt)
                   for m in part.media]
        media_ids = [media_id for media_id, _ in uploads]
        # A 200 answer carries the file's `url`: processed already, nothing to poll.
        self._wait_processed([media_id for media_id, ready in uploads if not ready])
        opts = message.options
        poll = None
        if opts.poll and index == 0:
            poll = self._call(lambda: self._api.make_poll(
                list(opts.poll.options), expires_in=opts.poll.duration_seconds,  # type: ignore[union-attr]
                multiple=opts.poll.multiple, hide_totals=opts.poll.hide_totals))  # type: ignore[union-attr]
        deadline = time.monotonic() + self._media_timeout
        delay, waited = 1.0, 0.0
        while True:
            try:
                status = self._call(lambda: self._api.status_post(
                    part.text,
                    in_reply_to_id=reply_to,
                    media_ids=media_ids or None,
                    sensitive=opts.sensitive or None,
                    visibility=opts.visibility,
                    # Every part of a thread carries the warning: a reply shown alone
                    # (in a timeline or a search) must not bypass it.
                    spoiler_text=opts.content_warning,
                    language=opts.language,
                    idempotency_key=key,
                    poll=poll,
                ), sends=True)
                break
            except RejectedError as exc:
                if _PROCESSING not in exc.reason:
                    raise
                # Posted too early for the server's media processing: retry with the same key;
                # out of budget it is transient (next run), never a permanent refusal.
                if waited + delay > self._media_timeout or time.monotonic() > deadline:
                    raise TransientError(self.account, f"media still processing after "
                                         f"{self._media_timeout:.0f}s ({exc.reason}); will "
                                         "retry", status=exc.status) from exc
                self._sleep(delay)
                waited += delay
                delay = min(delay * 2, 10.0)
        attached = len(status.get("media_attachments") or [])
        if attached != len(media_ids):
            raise RejectedError(self.account, f"the status went out with {attached} of "
                                f"{len(media_ids)} images attached (id {status['id']})")
        return _receipt(status, self._clock)

    def _upload(self, file: Any, mime: str, alt: str | None) -> tuple[str, bool]:
        """The media id, and whether the server has processed it already (its `url` is set;
        a 202 answer has `url: null` until processing ends)."""
        media = self._call(lambda: self._api.media_post(
            str(file), mime_type=mime, description=alt or None, file_name=file.name))
        return str(media["id"]), bool(media.get("url"))

    def _wait_processed(self, media_ids: list[str]) -> None:
        """Poll each upload until the server has processed it, within media_timeout."""
        # Bounded both by the clock and by the waits themselves (an injected sleep).
        deadline = time.monotonic() + self._media_timeout
        waited = 0.0
        for media_id in media_ids:
            delay = 0.5
            while True:
                info = self._call(lambda mid=media_id: self._api.media(mid))  # type: ignore[misc]
                if info.get("url"):
                    break
                if time.monotonic() + delay > deadline or waited + delay > self._media_timeout:
                    raise TransientError(self.account, f"media {media_id} still processing "
                                         f"after {self._media_timeout:.0f}s; will retry")
                self._sleep(delay)
                waited += delay
                delay = min(delay * 2, 8.0)

    def find(self, message: Message, index: int, part: Part, *, since: datetime,
             reply_to: str | None, exclude: frozenset[str]) -> Receipt | None:
        """A status of this account made since `since`, with the same text and parent, that
        the log does not already hold (after an unknown outcome)."""
        if self._account_id is None:
            me = self._call(self._api.account_verify_credentials)
            self._account_id = str(me["id"])
        statuses = self._call(lambda: self._api.account_statuses(self._account_id, limit=40))
        wanted = _normalise(part.text)
        for status in statuses:
            created = status.get("created_at")
            if str(status["id"]) in exclude:
                continue
            if isinstance(created, datetime) and created.tzinfo and created < since:
                continue
            parent = status.get("in_reply_to_id")
            if (str(parent) if parent else None) != (str(reply_to) if reply_to else None):
                continue
            if _normalise(_html_to_text(str(status.get("content") or ""))) == wanted:
                return _receipt(status, self._clock)
        return None

    # -- error translation (the one place) ---------------------------------------------------

    def _call(self, fn: Callable[[], Any], *, sends: bool = False) -> Any:
        try:
            return fn()
        except MastodonRatelimitError as exc:
            reset = getattr(self._api, "ratelimit_reset", None)
            reset_at = datetime.fromtimestamp(reset, UTC) if reset else None
            raise RateLimitedError(self.account, "rate limited", reset_at=reset_at) from exc
        except MastodonUnauthorizedError as exc:
            raise AuthError(self.account, _reason(exc) or "the access token is invalid",
                            status=401) from exc
        except MastodonNetworkError as exc:
            text = str(exc)
            # A timeout while reading may come after the server stored the status.
            if sends and ("Read timed out" in text or "RemoteDisconnected" in text
                          or "Connection aborted" in text):
                raise UnknownOutcomeError(self.account, "no answer after sending; the post "
                                          "may have been created") from None
            raise TransientError(self.account, "could not reach the server") from None
        except MastodonServerError as exc:
            status = _status(exc)
            if sends:
                raise UnknownOutcomeError(self.account, f"server error {status} after sending",
                                          status=status) from exc
            raise TransientError(self.account, "server error", status=status) from exc
        except MastodonNotFoundError as exc:
            raise RejectedError(self.account, _reason(exc) or "not found", status=404) from exc
        except MastodonAPIError as exc:
            status = _status(exc)
            if status == 403:
                raise AuthError(self.account, _reason(exc) or "forbidden", status=403) from exc
            if status is not None and status >= 500:
                raise TransientError(self.account, "server error", status=status) from exc
            raise RejectedError(self.account, _reason(exc) or "refused", status=status) from exc
        except RecursionError as exc:
            raise PlatformError(self.account, "the client library failed (RecursionError); "
                                "the server may not be Mastodon-compatible") from exc
        except MastodonError as exc:
            raise PlatformError(self.account, f"client error: {type(exc).__name__}") from exc


def _status(exc: Exception) -> int | None:
    args = exc.args
    return args[1] if len(args) > 1 and isinstance(args[1], int) else None


def _reason(exc: Exception) -> str:
    args = exc.args
    return str(args[3]) if len(args) > 3 and args[3] else ""


def _receipt(status: Any, clock: Callable[[], datetime]) -> Receipt:
    created = status.get("created_at")
    at = created if isinstance(created, datetime) and created.tzinfo else clock()
    return Receipt(str(status["id"]), status.get("url") or status.get("uri"), at)


def _html_to_text(content: str) -> str:
    content = re.sub(r"<br\s*/?>", "\n", content)
    content = re.sub(r"</p>\s*<p>", "\n\n", content)
    return html.unescape(re.sub(r"<[^>]+>", "", content))


def _normalise(text: str) -> str:
    return " ".join(text.split())


def defaults() -> Limits:
    return default_limits("mastodon")
