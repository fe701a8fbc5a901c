"""A stateful fake of the X API v2 endpoints the publisher uses (posts, media, users).

Every request must carry a valid OAuth 1.0a HMAC-SHA1 signature over the URL the client
used; it is verified with oauthlib's `SignatureOnlyEndpoint`, with nonce reuse and the
timestamp window checked. Error bodies follow X's problem JSON (RFC 7807 shapes).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import twitter_text
from oauthlib.oauth1 import RequestValidator, SignatureOnlyEndpoint

from tests.fakes.http import (
    JSON,
    FakeServer,
    Request,
    Response,
    image_size,
    json_response,
    sniff_mime,
)

MEDIA_LIMITS = {"tweet_image": 5 * 1024 * 1024, "tweet_gif": 15 * 1024 * 1024}
ALT_TEXT_LIMIT = 1000
DUPLICATE_WINDOW = 24 * 3600.0
INVALID_REQUEST = "https://api.twitter.com/2/problems/invalid-request"
TOO_LONG = (
    "Your Tweet text is too long. For more information on how Twitter determines text "
    "length see https://github.com/twitter/twitter-text."
)
DUPLICATE = "You are not allowed to create a Tweet with duplicate content."
REPLY_NOT_VISIBLE = "You attempted to reply to a Tweet that is deleted or not visible to you."
REPLY_RESTRICTED = (
    "Reply to this conversation is not allowed because you have not been mentioned or "
    "otherwise engaged by the author of the post you are replying to."
)


def problem(status: int, title: str, detail: str) -> Response:
    """X's generic problem JSON, as sent for 401, 403, 404 and 429."""
    body = {"title": title, "type": "about:blank", "status": status, "detail": detail}
    return json_response(status, body)


def invalid_request(message: str) -> Response:
    """X's 400 for a request whose parameters it rejects."""
    return json_response(
        400,
        {
            "errors": [{"message": message}],
            "title": "Invalid Request",
            "detail": "One or more parameters to your request was invalid.",
            "type": INVALID_REQUEST,
        },
    )


@dataclass
class XUser:
    id: str
    username: str
    access_token_secret: str


@dataclass
class XMedia:
    id: str
    data: bytes
    mime: str
    category: str
    user_id: str
    polls_left: int  # STATUS answers in_progress this many more times
    fails: bool = False
    alt_text: str | None = None

    @property
    def state(self) -> str:
        if self.polls_left > 0:
            return "in_progress"
        return "failed" if self.fails else "succeeded"


class _Validator(RequestValidator):  # type: ignore[misc]  # oauthlib is untyped
    """Knows one consumer (app) and the access tokens of the server's users."""

    def __init__(self, server: XServer) -> None:
        super().__init__()
        self.server = server

    enforce_ssl = False  # loopback is plain http
    safe_characters = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_")
    client_key_length = (10, 100)
    access_token_length = (10, 100)
    nonce_length = (8, 100)
    dummy_client = "dummy-consumer-key"
    dummy_access_token = "dummy-access-token"

    def validate_client_key(self, client_key: str, request: Any) -> bool:
        return client_key == self.server.consumer_key

    def get_client_secret(self, client_key: str, request: Any) -> str:
        if client_key == self.server.consumer_key:
            return self.server.consumer_secret
        return "dummy-consumer-secret"

    def get_access_token_secret(self, client_key: str, token: str, request: Any) -> str:
        user = self.server.users.get(token)
        return user.access_token_secret if user else "dummy-access-token-secret"

    def validate_timestamp_and_nonce(
        self,
        client_key: str,
        timestamp: str,
        nonce: str,
        request: Any,
        request_token: str | None = None,
        access_token: str | None = None,
    ) -> bool:
        # oauthlib has already refused timestamps outside `timestamp_lifetime` (600 s)
        key = (client_key, timestamp, nonce)
        if key in self.server.seen_nonces:
            return False
        self.server.seen_nonces.add(key)
        return True


class XServer(FakeServer):
    """Fake X API v2. State: `tweets` (dicts, creation order) and `media` (id -> XMedia)."""

    rate_limit_window = 900.0  # X windows are 15 minutes

    def __init__(
        self,
        *,
        consumer_key: str,
        consumer_secret: str,
        access_token: str,
        access_token_secret: str,
        username: str = "publisher",
        max_weighted_length: int = 280,
        processing_polls: int = 0,
        processing_fails: bool = False,
        rate_limit: int = 300,
    ) -> None:
        super().__init__(rate_limit=rate_limit)
        self.consumer_key = consumer_key
        self.consumer_secret = consumer_secret
        self.max_weighted_length = max_weighted_length
        self.processing_polls = processing_polls
        self.processing_fails = processing_fails
        self.replies_restricted = False  # True: every reply is refused with 403
        self.tweets: list[dict[str, Any]] = []
        self.media: dict[str, XMedia] = {}
        self.users: dict[str, XUser] = {}  # access token -> user
        self.seen_nonces: set[tuple[str, str, str]] = set()
        self._endpoint = SignatureOnlyEndpoint(_Validator(self))
        self._tweet_ids = itertools.count(1_870_000_000_000_000_001)
        self._media_ids = itertools.count(1_880_000_000_000_000_001)
        self.user_id = self.add_user(access_token, access_token_secret, username)

        self.route("POST", r"/2/tweets", self._create_tweet)
        self.route("POST", r"/2/media/upload", self._upload)
        self.route("GET", r"/2/media/upload", self._upload_status)
        self.route("POST", r"/2/media/metadata", self._metadata)
        self.route("GET", r"/2/users/me", self._me)
        self.route("GET", r"/2/users/(?P<id>\d+)/tweets", self._user_tweets)

    def add_user(self, access_token: str, access_token_secret: str, username: str) -> str:
        """Authorise another user of the same app; returns the user id."""
        user_id = str(1_600_000_000_000_000_000 + len(self.users) + 1)
        self.users[access_token] = XUser(user_id, username, access_token_secret)
        return user_id

    # -- FakeServer hooks --------------------------------------------------------------

    def rate_limit_headers(self, limit: int, remaining: int, reset: float) -> dict[str, str]:
        return {
            "x-rate-limit-limit": str(limit),
            "x-rate-limit-remaining": str(remaining),
            "x-rate-limit-reset": str(int(reset)),
        }

    def error_response(self, status: int, message: str) -> Response:
        titles = {
            404: "Not Found Error",
            405: "Method Not Allowed",
            500: "Internal Server Error",
            503: "Service Unavailable",
        }
        return problem(status, titles.get(status, "Error"), message)

    def too_many_requests(self, reset: float) -> Response:
        response = problem(429, "Too Many Requests", "Too Many Requests")
        response.headers.update(self.rate_limit_headers(self.rate_limit, 0, reset))
        return response

    # -- authentication ----------------------------------------------------------------

    def _user_of(self, request: Request) -> XUser | None:
        """The user whose valid OAuth 1.0a signature the request carries, else None."""
        # Only a form-urlencoded body is part of the signature base string (RFC 5849 3.4.1.3)
        signed_body = (
            request.body if request.content_type == "application/x-www-form-urlencoded" else None
        )
        valid, oauth = self._endpoint.validate_request(
            request.url, request.method, signed_body, dict(request.headers)
        )
        if not valid or oauth is None:
            return None
        return self.users.get(oauth.resource_owner_key)

    def _authenticated(self, request: Request) -> XUser | Response:
        user = self._user_of(request)
        if user is None:
            return problem(401, "Unauthorized", "Unauthorized")
        return user

    # -- tweets ------------------------------------------------------------------------

    def _create_tweet(self, request: Request) -> Response:
        user = self._authenticated(request)
        if isinstance(user, Response):
            return user
        body = request.json_object()
        if body is None:
            return invalid_request("Request body must be a JSON object.")
        text = str(body.get("text") or "")
        media_ids = [str(m) for m in (body.get("media") or {}).get("media_ids") or []]
        reply_to = (body.get("reply") or {}).get("in_reply_to_tweet_id")
        poll = body.get("poll")
        problem_response = self._check_tweet(user, text, media_ids, reply_to, poll)
        if problem_response is not None:
            return problem_response
        tweet = {
            "id": str(next(self._tweet_ids)),
            "user_id": user.id,
            "text": text,
            "media_ids": media_ids,
            "in_reply_to_tweet_id": str(reply_to) if reply_to else None,
            "poll": poll,
            "created_at": self.utcnow(),
        }
        self.tweets.append(tweet)
        return json_response(201, {"data": self._tweet_json(tweet)})

    def _check_tweet(
        self, user: XUser, text: str, media_ids: list[str], reply_to: Any, poll: Any
    ) -> Response | None:
        if not text and not media_ids:
            return invalid_request("You must specify a text or media.")
        if twitter_text.parse_tweet(text).weightedLength > self.max_weighted_length:
            return invalid_request(TOO_LONG)
        if media_ids and poll:
            return invalid_request("A Tweet cannot have both media and a poll.")
        if len(media_ids) > 4:
            return invalid_request("Your media IDs are invalid.")
        for media_id in media_ids:
            media = self.media.get(media_id)
            if media is None or media.user_id != user.id or media.state != "succeeded":
                return invalid_request("Your media IDs are invalid.")
        if poll is not None:
            options = poll.get("options") or []
            if not 2 <= len(options) <= 4 or any(len(str(o)) > 25 for o in options):
                return invalid_request("Poll options must be 2 to 4 texts of up to 25 characters.")
            if not 5 <= int(poll.get("duration_minutes") or 0) <= 10080:
                return invalid_request("Poll duration must be between 5 and 10080 minutes.")
        if reply_to is not None:
            if not any(t["id"] == str(reply_to) for t in self.tweets):
                return problem(403, "Forbidden", REPLY_NOT_VISIBLE)
            if self.replies_restricted:
                return problem(403, "Forbidden", REPLY_RESTRICTED)
        recent = self.now() - DUPLICATE_WINDOW
        if text and any(
            t["user_id"] == user.id and t["text"] == text and t["created_at"].timestamp() >= recent
            for t in self.tweets
        ):
            return problem(403, "Forbidden", DUPLICATE)
        return None

    @staticmethod
    def _tweet_json(tweet: dict[str, Any], fields: set[str] = frozenset()) -> JSON:  # type: ignore[assignment]
        data: JSON = {"id": tweet["id"], "text": tweet["text"],
                      "edit_history_tweet_ids": [tweet["id"]]}
        # Optional fields come only when asked for with `tweet.fields`, as on X.
        if "created_at" in fields:
            data["created_at"] = tweet["created_at"].strftime("%Y-%m-%dT%H:%M:%S.000Z")
        if "referenced_tweets" in fields and tweet["in_reply_to_tweet_id"]:
            data["referenced_tweets"] = [{"type": "replied_to",
                                          "id": tweet["in_reply_to_tweet_id"]}]
        return data

    # -- media -------------------------------------------------------------------------

    def _media_json(self, media: XMedia, *, with_size: bool) -> JSON:
        data: JSON = {"id": media.id, "media_key": f"3_{media.id}"}
        if with_size:
            data |= {"size": len(media.data), "expires_after_secs": 86400}
            size = image_size(media.data)
            if size is not None:
                data["image"] = {"image_type": media.mime, "w": size[0], "h": size[1]}
        if media.polls_left > 0:
            data["processing_info"] = {"state": "pending", "check_after_secs": 1}
        return data

    def _upload(self, request: Request) -> Response:
        user = self._authenticated(request)
        if isinstance(user, Response):
            return user
        files = [p for p in request.parts() if p.name == "media"]
        category = (request.form().get("media_category") or ["tweet_image"])[0]
        if not files:
            return invalid_request("The media field is required.")
        if category not in MEDIA_LIMITS:
            return invalid_request(f"Unsupported media_category: {category}.")
        data = files[0].data
        if len(data) > MEDIA_LIMITS[category]:
            return invalid_request(
                f"File size exceeds {MEDIA_LIMITS[category]} bytes for {category}."
            )
        media = XMedia(
            id=str(next(self._media_ids)),
            data=data,
            mime=sniff_mime(data) or files[0].content_type or "application/octet-stream",
            category=category,
            user_id=user.id,
            polls_left=self.processing_polls,
            fails=self.processing_fails,
        )
        self.media[media.id] = media
        return json_response(200, {"data": self._media_json(media, with_size=True)})

    def _upload_status(self, request: Request) -> Response:
        user = self._authenticated(request)
        if isinstance(user, Response):
            return user
        if request.first("command") != "STATUS":
            return invalid_request("command must be STATUS.")
        media = self.media.get(request.first("media_id") or "")
        if media is None or media.user_id != user.id:
            return invalid_request("Your media IDs are invalid.")
        data = self._media_json(media, with_size=False)
        if media.polls_left > 0:
            media.polls_left -= 1
            data["processing_info"] = {
                "state": "in_progress",
                "check_after_secs": 1,
                "progress_percent": 50,
            }
        elif media.fails:
            data["processing_info"] = {
                "state": "failed",
                "progress_percent": 100,
                "error": {"code": 1, "name": "InvalidMedia", "message": "Unsupported media"},
            }
        else:
            data["processing_info"] = {"state": "succeeded", "progress_percent": 100}
        return json_response(200, {"data": data})

    def _metadata(self, request: Request) -> Response:
        user = self._authenticated(request)
        if isinstance(user, Response):
            return user
        body = request.json_object()
        if body is None:
            return invalid_request("Request body must be a JSON object.")
        media = self.media.get(str(body.get("id")))
        if media is None or media.user_id != user.id:
            return invalid_request("Your media IDs are invalid.")
        alt_text = ((body.get("metadata") or {}).get("alt_text") or {}).get("text")
        if not isinstance(alt_text, str) or len(alt_text) > ALT_TEXT_LIMIT:
            return invalid_request(
                f"alt_text.text must be a string of at most {ALT_TEXT_LIMIT} characters."
            )
        media.alt_text = alt_text
        associated = {"alt_text": {"text": alt_text}}
        return json_response(200, {"data": {"id": media.id, "associated_metadata": associated}})

    # -- users -------------------------------------------------------------------------

    def _me(self, request: Request) -> Response:
        user = self._authenticated(request)
        if isinstance(user, Response):
            return user
        return json_response(
            200,
            {
                "data": {
                    "id": user.id,
                    "name": user.username.title(),
                    "username": user.username,
                }
            },
        )

    def _user_tweets(self, request: Request) -> Response:
        user = self._authenticated(request)
        if isinstance(user, Response):
            return user
        max_results = int(request.first("max_results") or 10)
        if not 5 <= max_results <= 100:
            return invalid_request(
                f"The `max_results` query parameter value [{max_results}] is not between 5 and 100"
            )
        fields = set((request.first("tweet.fields") or "").split(","))
        own = [t for t in reversed(self.tweets) if t["user_id"] == request.params["id"]]
        page = own[:max_results]
        if not page:
            return json_response(200, {"meta": {"result_count": 0}})
        return json_response(
            200,
            {
                "data": [self._tweet_json(t, fields) for t in page],
                "meta": {
                    "result_count": len(page),
                    "newest_id": page[0]["id"],
                    "oldest_id": page[-1]["id"],
                },
            },
        )
