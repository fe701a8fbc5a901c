"""X through tweepy's v2 Client for posts, and our own small v2 media adapter (tweepy 4.17
has no v2 media upload and X retired the v1.1 one): `POST /2/media/upload`, status polling
while processing, then alt text with `POST /2/media/metadata`. Everything is signed with
OAuth 1.0a (requests-oauthlib) and has a timeout. The only module that imports tweepy.

tweepy builds URLs on `https://api.twitter.com`; a Session subclass rewrites that prefix to
`X_API_BASE_URL` before the request is prepared, so the signature covers the real URL.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import requests
import tweepy
from requests_oauthlib import OAuth1

from publisher.config import Credentials
from publisher.errors import (
    AuthError,
    DuplicateError,
    PlatformError,
    RateLimitedError,
    RejectedError,
    ReplyRefusedError,
    TransientError,
    UnknownOutcomeError,
)
from publisher.message import Message, Part, Receipt
from publisher.platforms.base import Limits, default_limits

DEFAULT_BASE_URL = "https://api.x.com"
_TWEEPY_HOST = "https://api.twitter.com"
_MEDIA_CATEGORY = {"image/gif": "tweet_gif"}


class _RebasedSession(requests.Session):
    """Sends tweepy's requests to the configured base URL, with a default timeout."""

    def __init__(self, base_url: str, timeout: float) -> None:
        super().__init__()
        self._base = base_url.rstrip("/")
        self._timeout = timeout

    def request(self, method: str | bytes, url: str | bytes, *args: Any,
                **kwargs: Any) -> requests.Response:
        if isinstance(url, str) and url.startswith(_TWEEPY_HOST):
            url = self._base + url[len(_TWEEPY_HOST):]
        kwargs.setdefault("timeout", self._timeout)
        return super().request(method, url, *args, **kwargs)


class XPlatform:
    name = "x"
    refuses_duplicates = True

    def __init__(self, credentials: Credentials, *, timeout: float, media_timeout: float,
                 fallback: Limits, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], datetime] | None = None) -> None:
        self.account = credentials.account.name
        base = credentials.get("base_url") or DEFAULT_BASE_URL
        if not re.match(r"^https?://", base):
            raise PlatformError(self.account, "X_API_BASE_URL must be a URL such as "
                                f"{DEFAULT_BASE_URL}")
        self._base = base.rstrip("/")
        keys = {k: credentials.get(k) for k in
                ("api_key", "api_secret", "access_token", "access_token_secret")}
        self._client = tweepy.Client(
            consumer_key=keys["api_key"], consumer_secret=keys["api_secret"],
            access_token=keys["access_token"], access_token_secret=keys["access_token_secret"],
            wait_on_rate_limit=False,
        )
        self._session = _RebasedSession(self._base, timeout)
        self._client.session = self._session
        self._auth = OAuth1(keys["api_key"], keys["api_secret"], keys["access_token"],
                            keys["access_token_secret"])
        self._timeout = timeout
        self._media_timeout = media_timeout
        self._limits = fallback
        self._sleep = sleep
        self._clock = clock or (lambda: datetime.now(UTC))
        self._user_id: str | None = None

    def limits(self) -> Limits:
        return self._limits

    # -- publishing ------------------------------------------------------------------------

    def publish(self, message: Message, index: int, part: Part, reply_to: str | None,
                key: str) -> Receipt:
        media_ids = [self._upload(m.file.read_bytes(), m.mime or "image/png", m.alt)
                     for m in part.media]
        poll = message.options.poll if index == 0 else None
        response = self._call(lambda: self._client.create_tweet(
            text=part.text,
            media_ids=media_ids or None,
            in_reply_to_tweet_id=reply_to,
            poll_options=list(poll.options) if poll else None,
            poll_duration_minutes=poll.duration_seconds // 60 if poll else None,
            user_auth=True,
        ), sends=True, replying=reply_to is not None)
        data = response.data or {}
        tweet_id = str(data["id"])
        return Receipt(tweet_id, f"https://x.com/i/web/status/{tweet_id}", self._clock())

    def _upload(self, data: bytes, mime: str, alt: str | None) -> str:
        category = _MEDIA_CATEGORY.get(mime, "tweet_image")
        body = self._request("POST", "/2/media/upload",
                             files={"media": ("media", data, mime)},
                             data={"media_category": category, "media_type": mime})
        info = body.get("data") or {}
        media_id = str(info.get("id") or info.get("media_id_string") or "")
        if not media_id:
            raise TransientError(self.account, "media upload answered without an id")
        self._wait_processed(media_id, info.get("processing_info"))
        if alt:
            self._request("POST", "/2/media/metadata",
                          json={"id": media_id, "metadata": {"alt_text": {"text": alt}}})
        return media_id

    def _wait_processed(self, media_id: str, processing: dict[str, Any] | None) -> None:
        deadline = time.monotonic() + self._media_timeout
        waited = 0.0
        while processing and processing.get("state") not in ("succeeded", None):
            state = processing.get("state")
            if state == "failed":
                error = processing.get("error") or {}
                raise RejectedError(self.account, f"media processing failed: "
                                    f"{error.get('message') or error.get('name') or 'unknown'}")
            wait = float(processing.get("check_after_secs") or 1)
            if time.monotonic() + wait > deadline or waited + wait > self._media_timeout:
                raise TransientError(self.account, f"media {media_id} still processing after "
                                     f"{self._media_timeout:.0f}s; will retry")
            self._sleep(wait)
            waited += wait
            body = self._request("GET", "/2/media/upload",
                                 params={"command": "STATUS", "media_id": media_id})
            processing = (body.get("data") or {}).get("processing_info")

    def find(self, message: Message, index: int, part: Part, *, since: datetime,
             reply_to: str | None, exclude: frozenset[str]) -> Receipt | None:
        """A recent post of this account with the same text (URLs compared loosely, since X
        rewrites them to t.co links)."""
        if self._user_id is None:
            me = self._call(lambda: self._client.get_me(user_auth=True))
            self._user_id = str(me.data["id"])
        recent = self._call(lambda: self._client.get_users_tweets(
            self._user_id, max_results=20, user_auth=True,
            tweet_fields=["created_at", "referenced_tweets"]))
        wanted = _normalise(part.text)
        for tweet in recent.data or []:
            if str(tweet["id"]) in exclude:
                continue
            created = getattr(tweet, "created_at", None)
            if isinstance(created, datetime) and created < since:
                continue
            parents = [str(r.id) for r in (getattr(tweet, "referenced_tweets", None) or [])
                       if r.type == "replied_to"]
            if (parents[0] if parents else None) != (str(reply_to) if reply_to else None):
                continue
            if _normalise(str(tweet["text"])) == wanted:
                tid = str(tweet["id"])
                return Receipt(tid, f"https://x.com/i/web/status/{tid}", self._clock())
        return None

    # -- HTTP and error translation (the one place) ------------------------------------------

    def _request(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        def send() -> dict[str, Any]:
            response = self._session.request(method, self._base + path, auth=self._auth,
                                             timeout=self._timeout, **kwargs)
            if response.status_code >= 400:
                raise tweepy.HTTPException(response)
            body = response.json() if response.content else {}
            return body if isinstance(body, dict) else {}
        result: dict[str, Any] = self._call(send)
        return result

    def _call(self, fn: Callable[[], Any], *, sends: bool = False, replying: bool = False) -> Any:
        try:
            return fn()
        except tweepy.TooManyRequests as exc:
            reset = getattr(exc, "reset_time", None) or _reset_header(exc)
            reset_at = datetime.fromtimestamp(reset, UTC) if reset else None
            raise RateLimitedError(self.account, _detail(exc) or "rate limited",
                                   reset_at=reset_at) from None
        except tweepy.Unauthorized as exc:
            raise AuthError(self.account, _detail(exc) or "unauthorized: check the four X "
                            "keys and that the app has read and write permission",
                            status=401) from None
        except tweepy.Forbidden as exc:
            detail = _detail(exc)
            if "duplicate" in detail.lower():
                raise DuplicateError(self.account, detail, status=403) from None
            if replying and "reply" in detail.lower():
                raise ReplyRefusedError(self.account, f"reply refused: {detail}",
                                        status=403) from None
            raise AuthError(self.account, detail or "forbidden", status=403) from None
        except tweepy.TwitterServerError as exc:
            status = exc.response.status_code
            if sends:
                raise UnknownOutcomeError(self.account, f"server error {status} after sending",
                                          status=status) from None
            raise TransientError(self.account, "server error", status=status) from None
        except tweepy.HTTPException as exc:
            status = exc.response.status_code
            if status == 429:
                reset = _reset_header(exc)
                raise RateLimitedError(self.account, "rate limited", reset_at=(
                    datetime.fromtimestamp(reset, UTC) if reset else None)) from None
            if status == 401:
                raise AuthError(self.account, _detail(exc) or "unauthorized",
                                status=401) from None
            if status >= 500:
                raise TransientError(self.account, "server error", status=status) from None
            raise RejectedError(self.account, _detail(exc) or "refused", status=status) from None
        except requests.exceptions.ConnectTimeout:
            raise TransientError(self.account, "could not reach the server") from None
        except (requests.exceptions.ReadTimeout, requests.exceptions.ChunkedEncodingError,
                requests.exceptions.ConnectionError) as exc:
            if sends and not isinstance(exc.__context__, ConnectionRefusedError) and \
                    "Connection refused" not in str(exc):
                raise UnknownOutcomeError(self.account, "no answer after sending; the post "
                                          "may have been created") from None
            raise TransientError(self.account, "could not reach the server") from None
        except tweepy.TweepyException as exc:
            raise PlatformError(self.account, f"client error: {type(exc).__name__}") from None


def _detail(exc: tweepy.HTTPException) -> str:
    try:
        body = exc.response.json()
    except ValueError:
        return ""
    if isinstance(body, dict):
        # A 400 carries the real reason in errors[]; its "detail" only says "invalid".
        errors = body.get("errors") or []
        if errors and isinstance(errors[0], dict):
            reason = errors[0].get("message") or errors[0].get("detail")
            if reason:
                return str(reason)
        if body.get("detail"):
            return str(body["detail"])
    return ""


def _reset_header(exc: tweepy.HTTPException) -> int | None:
    value = exc.response.headers.get("x-rate-limit-reset")
    return int(value) if value and value.isdigit() else None


def _normalise(text: str) -> str:
    return " ".join(re.sub(r"https?://\S+", "<url>", text).split())


def defaults() -> Limits:
    return default_limits("x")
