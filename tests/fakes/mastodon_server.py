"""A stateful fake of the Mastodon client API (instance, media, statuses, accounts).

Answers like Mastodon 4.x: bodies, status codes and error strings follow the upstream
controllers and validators (`PostStatusService`, `StatusLengthValidator`, `MediaAttachment`).
`takahe=True` turns it into the Takahē 0.11 variant of ../shared/cases/COMPAT-01.
"""

from __future__ import annotations

import html
import itertools
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import regex  # type: ignore[import-untyped]  # installed with twitter-text-parser
import twitter_text

from tests.fakes.http import JSON, FakeServer, Request, Response, json_response, sniff_mime

IDEMPOTENCY_TTL = 3600.0  # Mastodon keeps Idempotency-Key for one hour per account
REMOTE_MENTION = regex.compile(r"(?<![=/\w@])@(\w+)@[\w.-]+\w", regex.IGNORECASE)
SUPPORTED_MIME_TYPES = ["image/jpeg", "image/png", "image/gif", "image/webp", "image/avif"]
NOT_PROCESSED = "Cannot attach files that have not finished processing. Try again in a moment!"


@dataclass
class MastodonMedia:
    id: str
    data: bytes
    mime: str
    description: str | None
    focus: str | None
    account_id: str
    polls_left: int  # GET /api/v1/media/:id answers 206 this many more times
    status_id: str | None = None

    @property
    def is_processed(self) -> bool:
        return self.polls_left <= 0


def mastodon_length(text: str, spoiler_text: str = "", url_weight: int = 23) -> int:
    """Mastodon's StatusLengthValidator: grapheme clusters of CW + text, after rewriting
    auto-linked http(s) URLs to `url_weight` characters and `@user@domain` to `@user`."""
    combined = spoiler_text + text
    entities: list[tuple[int, int, str]] = [
        (u["indices"][0], u["indices"][1], "x" * url_weight)
        for u in twitter_text.extract_urls_with_indices(combined, False)
    ]
    entities += [(m.start(), m.end(), "@" + m.group(1)) for m in REMOTE_MENTION.finditer(combined)]
    out, pos = [], 0
    for start, end, replacement in sorted(entities):
        if start < pos:
            continue  # overlapping entity: the first one wins
        out += [combined[pos:start], replacement]
        pos = end
    out.append(combined[pos:])
    return len(regex.findall(r"\X", "".join(out)))


def _truthy(value: Any) -> bool:
    return value in (True, 1, "1", "true", "True", "on")


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class MastodonServer(FakeServer):
    """Fake Mastodon. State: `statuses` (dicts, creation order) and `media` (id -> record)."""

    rate_limit_window = 300.0  # Mastodon: 300 requests per 5 minutes

    def __init__(
        self,
        *,
        token: str,
        username: str = "publisher",
        domain: str = "social.example",
        max_characters: int = 500,
        characters_reserved_per_url: int = 23,
        max_media_attachments: int = 4,
        image_size_limit: int = 16 * 1024 * 1024,
        description_limit: int = 1500,
        processing_polls: int = 0,
        takahe: bool = False,
        rate_limit: int = 300,
    ) -> None:
        super().__init__(rate_limit=rate_limit)
        self.domain = domain
        self.max_characters = max_characters
        self.characters_reserved_per_url = characters_reserved_per_url
        self.max_media_attachments = max_media_attachments
        self.image_size_limit = image_size_limit
        self.description_limit = description_limit
        self.processing_polls = processing_polls
        self.takahe = takahe
        self.statuses: list[dict[str, Any]] = []
        self.media: dict[str, MastodonMedia] = {}
        self.accounts: dict[str, JSON] = {}  # id -> account JSON
        self._tokens: dict[str, str] = {}  # token -> account id
        self._idempotency: dict[tuple[str, str], tuple[float, str]] = {}
        self._ids = itertools.count(113_000_000_000_000_001)
        self.account_id = self.add_account(token, username)

        self.route("GET", r"/api/v1/instance", self._instance_v1)
        self.route("GET", r"/api/v2/instance", self._instance_v2)
        self.route("POST", r"/api/v2/media", self._media_post)
        self.route("POST", r"/api/v1/media", self._media_post_v1)
        self.route("GET", r"/api/v1/media/(?P<id>\w+)", self._media_get)
        self.route("POST", r"/api/v1/statuses", self._status_post)
        self.route("GET", r"/api/v1/statuses/(?P<id>\w+)", self._status_get)
        self.route("GET", r"/api/v1/accounts/verify_credentials", self._verify_credentials)
        self.route("GET", r"/api/v1/accounts/(?P<id>\w+)/statuses", self._account_statuses)

    # -- set-up and inspection helpers -------------------------------------------------

    def add_account(self, token: str, username: str) -> str:
        """Register another account that `token` authenticates; returns its id."""
        account_id = str(len(self.accounts) + 1)
        self._tokens[token] = account_id
        self.accounts[account_id] = {
            "id": account_id,
            "username": username,
            "acct": username,
            "display_name": username.title(),
            "locked": False,
            "bot": True,
            "created_at": "2024-01-01T00:00:00.000Z",
            "note": "",
            "url": f"https://{self.domain}/@{username}",
            "avatar": f"https://{self.domain}/avatars/original/missing.png",
            "header": f"https://{self.domain}/headers/original/missing.png",
            "followers_count": 0,
            "following_count": 0,
            "statuses_count": 0,
            "emojis": [],
            "fields": [],
        }
        return account_id

    # -- FakeServer hooks --------------------------------------------------------------

    def rate_limit_headers(self, limit: int, remaining: int, reset: float) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(limit),
            "X-RateLimit-Remaining": str(remaining),
            "X-RateLimit-Reset": _iso(datetime.fromtimestamp(reset, UTC)),
        }

    def error_response(self, status: int, message: str) -> Response:
        messages = {404: "Record not found", 500: "Internal Server Error"}
        return json_response(status, {"error": messages.get(status, message)})

    def too_many_requests(self, reset: float) -> Response:
        headers = self.rate_limit_headers(self.rate_limit, 0, reset)
        return json_response(429, {"error": "Too many requests"}, headers)

    # -- helpers -----------------------------------------------------------------------

    def _account_of(self, request: Request) -> str | None:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        return self._tokens.get(token) if scheme == "Bearer" else None

    @staticmethod
    def _unauthorized() -> Response:
        return json_response(401, {"error": "The access token is invalid"})

    @staticmethod
    def _unprocessable(message: str) -> Response:
        return json_response(422, {"error": message})

    def _media_json(self, media: MastodonMedia) -> JSON:
        base = f"https://files.{self.domain}/media_attachments/{media.id}"
        ext = media.mime.rpartition("/")[2]
        url = f"{base}/original.{ext}" if media.is_processed else None
        x, _, y = (media.focus or "0.0,0.0").partition(",")
        return {
            "id": media.id,
            "type": "gifv" if media.mime == "image/gif" else "image",
            "url": url,
            "preview_url": f"{base}/small.{ext}",
            "remote_url": None,
            "preview_remote_url": None,
            "text_url": None,
            "meta": {"focus": {"x": float(x), "y": float(y)}},
            "description": media.description,
            "blurhash": "UFBWY[00M{of~qofWBj[?bt7WBayRjWBayj[",
        }

    # -- instance ----------------------------------------------------------------------

    def _limits(self) -> JSON:
        return {
            "statuses": {
                "max_characters": self.max_characters,
                "max_media_attachments": self.max_media_attachments,
                "characters_reserved_per_url": self.characters_reserved_per_url,
            },
            "media_attachments": {
                "supported_mime_types": SUPPORTED_MIME_TYPES,
                "image_size_limit": self.image_size_limit,
                "image_matrix_limit": 33_177_600,
                "video_size_limit": 103_809_024,
                "video_frame_rate_limit": 120,
                "video_matrix_limit": 8_294_400,
            },
            "polls": {
                "max_options": 4,
                "max_characters_per_option": 50,
                "min_expiration": 300,
                "max_expiration": 2_629_746,
            },
        }

    def _instance_v1(self, request: Request) -> Response:
        return json_response(
            200,
            {
                "uri": self.domain,
                "title": "Takahē" if self.takahe else "Fake Mastodon",
                "short_description": "",
                "description": "",
                "email": "",
                "version": "takahe/0.11.0" if self.takahe else "4.3.2",
                "urls": {} if self.takahe else {"streaming_api": f"wss://{self.domain}"},
                "stats": {"user_count": 1, "status_count": len(self.statuses), "domain_count": 1},
                "languages": ["en"],
                "registrations": False,
                "approval_required": False,
                "invites_enabled": False,
                "configuration": {"accounts": {}, **self._limits()},
                "contact_account": None,
                "rules": [],
            },
        )

    def _instance_v2(self, request: Request) -> Response:
        if self.takahe:
            page = b"<!doctype html><html><body><h1>Server Error (500)</h1></body></html>"
            return Response(500, page, {"Content-Type": "text/html; charset=utf-8"})
        configuration = self._limits()
        configuration["media_attachments"]["description_limit"] = self.description_limit
        configuration["urls"] = {"streaming": f"wss://{self.domain}"}
        configuration["accounts"] = {"max_featured_tags": 10, "max_pinned_statuses": 5}
        configuration["translation"] = {"enabled": False}
        return json_response(
            200,
            {
                "domain": self.domain,
                "title": "Fake Mastodon",
                "version": "4.3.2",
                "source_url": "https://github.com/mastodon/mastodon",
                "description": "",
                "usage": {"users": {"active_month": 1}},
                "thumbnail": {"url": f"https://{self.domain}/thumbnail.png"},
                "languages": ["en"],
                "configuration": configuration,
                "registrations": {"enabled": False, "approval_required": False, "message": None},
                "contact": {"email": "", "account": None},
                "rules": [],
            },
        )

    # -- media -------------------------------------------------------------------------

    def _media_post_v1(self, request: Request) -> Response:
        """The deprecated v1 upload: processes before answering, so always 200."""
        return self._media_post(request, synchronous=True)

    def _media_post(self, request: Request, synchronous: bool = False) -> Response:
        account_id = self._account_of(request)
        if account_id is None:
            return self._unauthorized()
        files = [p for p in request.parts() if p.name == "file"]
        fields = request.form()
        description = fields.get("description", [None])[0]
        if not files:
            return self._unprocessable("Validation failed: File can't be blank")
        upload = files[0]
        mime = sniff_mime(upload.data) or upload.content_type or "application/octet-stream"
        if mime not in SUPPORTED_MIME_TYPES:
            return self._unprocessable("Validation failed: File content type is invalid")
        if len(upload.data) > self.image_size_limit:
            limit_mb = self.image_size_limit // (1024 * 1024)
            return self._unprocessable(
                f"Validation failed: File file size must be less than {limit_mb} MB"
            )
        if description is not None and len(description) > self.description_limit:
            return self._unprocessable(
                "Validation failed: Description is too long "
                f"(maximum is {self.description_limit} characters)"
            )
        polls = 0 if self.takahe or synchronous else self.processing_polls
        media = MastodonMedia(
            id=str(next(self._ids)),
            data=upload.data,
            mime=mime,
            description=description,
            focus=fields.get("focus", [None])[0],
            account_id=account_id,
            polls_left=polls,
        )
        self.media[media.id] = media
        return json_response(200 if media.is_processed else 202, self._media_json(media))

    def _media_get(self, request: Request) -> Response:
        account_id = self._account_of(request)
        if account_id is None:
            return self._unauthorized()
        media = self.media.get(request.params["id"])
        if media is None or media.account_id != account_id:
            return self.error_response(404, "Record not found")
        if not media.is_processed:
            still_processing = json_response(206, self._media_json(media))
            media.polls_left -= 1
            return still_processing
        return json_response(200, self._media_json(media))

    # -- statuses ----------------------------------------------------------------------

    @staticmethod
    def _status_params(request: Request) -> JSON:
        """Normalise the form-encoded or JSON body Mastodon.py sends into one shape."""
        if request.content_type == "application/json":
            body = request.json_object() or {}
            poll = body.get("poll")
            media_ids = body.get("media_ids") or []
        else:
            form = request.form()
            body = {k: v[0] for k, v in form.items()}
            media_ids = form.get("media_ids[]", form.get("media_ids", []))
            poll = None
            if "poll[options][]" in form:
                poll = {
                    "options": form["poll[options][]"],
                    "expires_in": body.get("poll[expires_in]"),
                    "multiple": body.get("poll[multiple]"),
                    "hide_totals": body.get("poll[hide_totals]"),
                }
        if poll is not None:
            poll = {
                "options": [str(o) for o in poll.get("options") or []],
                "expires_in": int(poll.get("expires_in") or 86400),
                "multiple": _truthy(poll.get("multiple")),
                "hide_totals": _truthy(poll.get("hide_totals")),
            }
        return {
            "text": str(body.get("status") or ""),
            "media_ids": [str(m) for m in media_ids],
            "in_reply_to_id": str(body["in_reply_to_id"]) if body.get("in_reply_to_id") else None,
            "spoiler_text": str(body.get("spoiler_text") or ""),
            "sensitive": _truthy(body.get("sensitive")),
            "visibility": body.get("visibility") or "public",
            "language": body.get("language") or None,
            "poll": poll,
        }

    def _validate(self, account_id: str, params: JSON) -> Response | None:
        """PostStatusService's checks, in its order; None when the status may be created."""
        reply_to = params["in_reply_to_id"]
        if reply_to is not None and self._find_status(reply_to) is None:
            return self.error_response(404, "Record not found")
        media_ids: list[str] = params["media_ids"]
        if media_ids:
            if len(media_ids) > self.max_media_attachments or params["poll"] is not None:
                return self._unprocessable(
                    f"Cannot attach more than {self.max_media_attachments} files"
                )
            missing = [
                m
                for m in media_ids
                if m not in self.media
                or self.media[m].account_id != account_id
                or self.media[m].status_id is not None
            ]
            if missing:
                return self._unprocessable(f"Media with ID(s) {', '.join(missing)} was not found")
            if not all(self.media[m].is_processed for m in media_ids):
                return self._unprocessable(NOT_PROCESSED)
        if not params["text"].strip() and not media_ids:
            return self._unprocessable("Validation failed: Text can't be blank")
        length = mastodon_length(
            params["text"], params["spoiler_text"], self.characters_reserved_per_url
        )
        if length > self.max_characters:
            return self._unprocessable(
                f"Validation failed: Text character limit of {self.max_characters} exceeded"
            )
        poll = params["poll"]
        if poll is not None:
            if len(poll["options"]) < 2:
                return self._unprocessable(
                    "Validation failed: Poll options must have more than one item"
                )
            if len(poll["options"]) > 4:
                return self._unprocessable(
                    "Validation failed: Poll options can't contain more than 4 items"
                )
            if not 300 <= poll["expires_in"] <= 2_629_746:
                return self._unprocessable(
                    "Validation failed: Poll expires at is too soon or too far into the future"
                )
        return None

    def _status_post(self, request: Request) -> Response:
        account_id = self._account_of(request)
        if account_id is None:
            return self._unauthorized()
        key = None if self.takahe else request.headers.get("Idempotency-Key")
        now = self.now()
        if key is not None:
            seen = self._idempotency.get((account_id, key))
            if seen is not None and now - seen[0] < IDEMPOTENCY_TTL:
                return json_response(200, self._status_json(self._find_status(seen[1]) or {}))
        params = self._status_params(request)
        problem = self._validate(account_id, params)
        if problem is not None:
            return problem
        status = {
            "id": str(next(self._ids)),
            "account_id": account_id,
            "created_at": self.utcnow(),
            "idempotency_key": request.headers.get("Idempotency-Key"),
            **params,
        }
        if status["poll"] is not None:
            status["poll"]["id"] = str(next(self._ids))
        for media_id in params["media_ids"]:
            self.media[media_id].status_id = status["id"]
        self.statuses.append(status)
        self.accounts[account_id]["statuses_count"] += 1
        if key is not None:
            self._idempotency[(account_id, key)] = (now, status["id"])
        return json_response(200, self._status_json(status))

    def _find_status(self, status_id: str) -> dict[str, Any] | None:
        return next((s for s in self.statuses if s["id"] == status_id), None)

    def _status_get(self, request: Request) -> Response:
        if self._account_of(request) is None:
            return self._unauthorized()
        status = self._find_status(request.params["id"])
        if status is None:
            return self.error_response(404, "Record not found")
        return json_response(200, self._status_json(status))

    def _status_json(self, status: dict[str, Any]) -> JSON:
        account = self.accounts[status["account_id"]]
        parent = self._find_status(status["in_reply_to_id"] or "")
        paragraphs = html.escape(status["text"], quote=False).split("\n\n")
        content = "".join(f"<p>{p.replace(chr(10), '<br />')}</p>" for p in paragraphs)
        return {
            "id": status["id"],
            "created_at": _iso(status["created_at"]),
            "edited_at": None,
            "in_reply_to_id": status["in_reply_to_id"],
            "in_reply_to_account_id": parent["account_id"] if parent else None,
            "sensitive": status["sensitive"],
            "spoiler_text": status["spoiler_text"],
            "visibility": status["visibility"],
            "language": status["language"],
            "uri": f"https://{self.domain}/users/{account['username']}/statuses/{status['id']}",
            "url": f"https://{self.domain}/@{account['username']}/{status['id']}",
            "replies_count": 0,
            "reblogs_count": 0,
            "favourites_count": 0,
            "favourited": False,
            "reblogged": False,
            "muted": False,
            "bookmarked": False,
            "pinned": False,
            "content": content,
            "reblog": None,
            "application": {"name": "publisher", "website": None},
            "account": account,
            "media_attachments": [self._media_json(self.media[m]) for m in status["media_ids"]],
            "mentions": [],
            "tags": [],
            "emojis": [],
            "card": None,
            "poll": self._poll_json(status),
        }

    @staticmethod
    def _poll_json(status: dict[str, Any]) -> JSON | None:
        poll = status["poll"]
        if poll is None:
            return None
        created: datetime = status["created_at"]
        expires = datetime.fromtimestamp(created.timestamp() + poll["expires_in"], UTC)
        return {
            "id": poll["id"],
            "expires_at": _iso(expires),
            "expired": False,
            "multiple": poll["multiple"],
            "votes_count": 0,
            "voters_count": 0 if poll["multiple"] else None,
            "voted": False,
            "own_votes": [],
            "options": [{"title": o, "votes_count": 0} for o in poll["options"]],
            "emojis": [],
        }

    # -- accounts ----------------------------------------------------------------------

    def _verify_credentials(self, request: Request) -> Response:
        account_id = self._account_of(request)
        if account_id is None:
            return self._unauthorized()
        account = self.accounts[account_id]
        source = {"privacy": "public", "sensitive": False, "language": "en", "note": ""}
        return json_response(200, {**account, "source": source})

    def _account_statuses(self, request: Request) -> Response:
        if self._account_of(request) is None:
            return self._unauthorized()
        account_id = request.params["id"]
        if account_id not in self.accounts:
            return self.error_response(404, "Record not found")
        limit = min(int(request.first("limit") or 20), 40)
        own = [s for s in reversed(self.statuses) if s["account_id"] == account_id]
        return json_response(200, [self._status_json(s) for s in own[:limit]])
