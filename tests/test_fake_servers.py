"""The loopback fakes answer like Mastodon and X when driven by the real client libraries.

Mastodon.py and tweepy are used unmodified; tweepy's hard-coded host is redirected to the
loopback server by a `requests.Session` subclass, so its OAuth signature covers that URL.
The `mastodon_server` and `x_server` fixtures come from tests/fakes/fixtures.py via conftest.
"""

from __future__ import annotations

import io
import struct
import time
import zlib
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest
import requests
import tweepy
from mastodon import (
    Mastodon,
    MastodonAPIError,
    MastodonInternalServerError,
    MastodonNetworkError,
    MastodonNotFoundError,
    MastodonRatelimitError,
    MastodonUnauthorizedError,
)
from requests_oauthlib import OAuth1

from tests.fakes.fixtures import MASTODON_TOKEN, X_KEYS, serving
from tests.fakes.http import Fault
from tests.fakes.mastodon_server import NOT_PROCESSED, MastodonServer, mastodon_length
from tests.fakes.x_server import DUPLICATE, REPLY_NOT_VISIBLE, REPLY_RESTRICTED, XServer

TWITTER_HOST = "https://api.twitter.com"


def png(width: int = 2, height: int = 1) -> bytes:
    """A real (tiny, grey) PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    pixels = zlib.compress(b"".join(b"\x00" + b"\x80" * width for _ in range(height)))
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


# -- clients ---------------------------------------------------------------------------


def mastodon_client(server: MastodonServer, timeout: float = 5, **kwargs: Any) -> Mastodon:
    # An explicit version with mode "created" skips the version lookup (COMPAT-01) and
    # selects the v2 media endpoint; mode "none" with a version would fall back to v1.
    return Mastodon(
        access_token=kwargs.pop("access_token", MASTODON_TOKEN),
        api_base_url=server.base_url,
        mastodon_version="4.0.0",
        version_check_mode="created",
        ratelimit_method="throw",
        request_timeout=timeout,
        **kwargs,
    )


class LoopbackSession(requests.Session):
    """Rewrites tweepy's hard-coded host before the request is prepared and signed."""

    def __init__(self, base_url: str) -> None:
        super().__init__()
        self.base_url = base_url

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> Any:
        if isinstance(url, str) and url.startswith(TWITTER_HOST):
            url = self.base_url + url.removeprefix(TWITTER_HOST)
        return super().request(method, url, *args, **kwargs)


def x_client(server: XServer, **overrides: str) -> tweepy.Client:
    client = tweepy.Client(**(dict(X_KEYS) | overrides))
    client.session = LoopbackSession(server.base_url)
    return client


def x_auth(**overrides: str) -> OAuth1:
    keys = dict(X_KEYS) | overrides
    return OAuth1(
        keys["consumer_key"],
        keys["consumer_secret"],
        keys["access_token"],
        keys["access_token_secret"],
    )


def x_upload(server: XServer, data: bytes, category: str = "tweet_image") -> requests.Response:
    return requests.post(
        f"{server.base_url}/2/media/upload",
        files={"media": ("image.png", data, "image/png")},
        data={"media_category": category},
        auth=x_auth(),
        timeout=5,
    )


def x_alt_text(server: XServer, media_id: str, text: str) -> requests.Response:
    body = {"id": media_id, "metadata": {"alt_text": {"text": text}}}
    return requests.post(f"{server.base_url}/2/media/metadata", json=body, auth=x_auth(), timeout=5)


def x_media_status(server: XServer, media_id: str) -> requests.Response:
    params = {"command": "STATUS", "media_id": media_id}
    return requests.get(
        f"{server.base_url}/2/media/upload", params=params, auth=x_auth(), timeout=5
    )


def api_error_code(excinfo: pytest.ExceptionInfo[MastodonAPIError]) -> tuple[int, str]:
    """(HTTP status, server's error string) of a Mastodon.py error."""
    _, status, _, message = excinfo.value.args
    return status, message


# -- Mastodon ----------------------------------------------------------------------------


def test_mastodon_upload_with_description_then_post_with_media(
    mastodon_server: MastodonServer,
) -> None:
    client = mastodon_client(mastodon_server)
    media = client.media_post(io.BytesIO(png()), mime_type="image/png", description="A rocket")
    status = client.status_post(
        "We are live!\nRead it at https://example.org/launch",
        media_ids=[media],
        spoiler_text="launch",
        visibility="unlisted",
        language="en",
    )

    assert status.content == "<p>We are live!<br />Read it at https://example.org/launch</p>"
    assert status.url == f"https://social.example/@publisher/{status.id}"
    assert isinstance(status.created_at, datetime)
    assert [m.description for m in status.media_attachments] == ["A rocket"]
    stored = mastodon_server.media[str(media.id)]
    assert (stored.data, stored.mime, stored.description) == (png(), "image/png", "A rocket")
    [record] = mastodon_server.statuses
    assert record["text"] == "We are live!\nRead it at https://example.org/launch"
    assert record["media_ids"] == [str(media.id)]
    assert (record["spoiler_text"], record["visibility"], record["language"]) == (
        "launch",
        "unlisted",
        "en",
    )
    assert mastodon_server.count("POST", "/api/v2/media") == 1


def test_mastodon_media_processing_answers_202_then_206_then_200(
    mastodon_server: MastodonServer,
) -> None:
    mastodon_server.processing_polls = 1
    headers = {"Authorization": f"Bearer {MASTODON_TOKEN}"}
    upload = requests.post(
        f"{mastodon_server.base_url}/api/v2/media",
        files={"file": ("a.png", png(), "image/png")},
        headers=headers,
        timeout=5,
    )
    assert (upload.status_code, upload.json()["url"]) == (202, None)
    poll_url = f"{mastodon_server.base_url}/api/v1/media/{upload.json()['id']}"
    first, second = (requests.get(poll_url, headers=headers, timeout=5) for _ in range(2))
    assert (first.status_code, first.json()["url"]) == (206, None)
    assert second.status_code == 200
    assert second.json()["url"].endswith("/original.png")
    missing = requests.get(f"{poll_url}999", headers=headers, timeout=5)
    assert (missing.status_code, missing.json()) == (404, {"error": "Record not found"})


def test_mastodon_refuses_unprocessed_media_with_422(mastodon_server: MastodonServer) -> None:
    mastodon_server.processing_polls = 2
    client = mastodon_client(mastodon_server)
    media = client.media_post(io.BytesIO(png()), mime_type="image/png", description="alt")
    assert media.url is None

    with pytest.raises(MastodonAPIError) as refused:
        client.status_post("too early", media_ids=[media])
    assert api_error_code(refused) == (422, NOT_PROCESSED)
    assert client.media(media).url is None  # 206
    assert client.media(media).url is None  # 206
    assert client.media(media).url is not None  # 200
    client.status_post("now", media_ids=[media])
    assert [s["text"] for s in mastodon_server.statuses] == ["now"]


def test_mastodon_media_must_exist_belong_to_the_account_and_be_unattached(
    mastodon_server: MastodonServer,
) -> None:
    mastodon_server.add_account("other-token", "other")
    theirs = mastodon_client(mastodon_server, access_token="other-token").media_post(
        io.BytesIO(png()), mime_type="image/png"
    )
    client = mastodon_client(mastodon_server)
    mine = client.media_post(io.BytesIO(png()), mime_type="image/png")
    client.status_post("first", media_ids=[mine])

    for media_ids in ([theirs.id], ["404"], [mine.id]):
        with pytest.raises(MastodonAPIError) as refused:
            client.status_post("again", media_ids=media_ids)
        assert api_error_code(refused) == (422, f"Media with ID(s) {media_ids[0]} was not found")


def test_mastodon_media_description_and_size_limits(mastodon_server: MastodonServer) -> None:
    mastodon_server.image_size_limit = 100
    client = mastodon_client(mastodon_server)
    with pytest.raises(MastodonAPIError) as too_long:
        client.media_post(io.BytesIO(png()), mime_type="image/png", description="x" * 1501)
    assert api_error_code(too_long)[0] == 422
    with pytest.raises(MastodonAPIError) as too_big:
        client.media_post(io.BytesIO(png(100, 100)), mime_type="image/png")
    assert api_error_code(too_big)[0] == 422
    assert mastodon_server.media == {}


def test_mastodon_idempotency_key_returns_the_same_status_for_an_hour(
    mastodon_server: MastodonServer,
) -> None:
    client = mastodon_client(mastodon_server)
    first = client.status_post("once", idempotency_key="post-1")
    again = client.status_post("once", idempotency_key="post-1")
    assert again.id == first.id
    assert len(mastodon_server.statuses) == 1
    assert mastodon_server.statuses[0]["idempotency_key"] == "post-1"

    mastodon_server.advance(3601)
    later = client.status_post("once", idempotency_key="post-1")
    assert later.id != first.id
    assert len(mastodon_server.statuses) == 2


def test_mastodon_counts_length_like_the_server(mastodon_server: MastodonServer) -> None:
    url_text = "a" * 476 + " http://" + "b" * 30 + ".com/example"  # TT03-01: 500
    mention = "a" * 475 + " @editor@" + "b" * 30 + ".com"  # TT03-02: 483
    glued = "a" * 476 + "http://" + "b" * 30 + ".com/example"  # TT03-03: 525
    flags = "🏳️‍⚧️" * 500  # TT03-06: one grapheme each
    assert [mastodon_length(t) for t in (url_text, mention, glued, flags)] == [500, 483, 525, 500]
    assert mastodon_length("b" * 251, spoiler_text="a" * 250) == 501

    client = mastodon_client(mastodon_server)
    client.status_post(url_text)
    with pytest.raises(MastodonAPIError) as refused:
        client.status_post("b" * 251, spoiler_text="a" * 250)
    assert api_error_code(refused) == (
        422,
        "Validation failed: Text character limit of 500 exceeded",
    )
    with pytest.raises(MastodonAPIError) as blank:
        client.status_post("  ")
    assert api_error_code(blank) == (422, "Validation failed: Text can't be blank")
    assert len(mastodon_server.statuses) == 1


def test_mastodon_replies_and_polls(mastodon_server: MastodonServer) -> None:
    client = mastodon_client(mastodon_server)
    parent = client.status_post("part 1")
    poll = client.make_poll(["yes", "no"], expires_in=3600, multiple=True, hide_totals=True)
    reply = client.status_post("part 2", in_reply_to_id=parent, poll=poll)  # sent as JSON
    assert reply.in_reply_to_id == parent.id
    assert [o.title for o in reply.poll.options] == ["yes", "no"]
    with pytest.raises(MastodonNotFoundError):
        client.status_post("orphan", in_reply_to_id="12345")

    form = {  # the form-encoded shape of a poll, as other clients send it
        "status": "form poll",
        "poll[options][]": ["a", "b", "c"],
        "poll[expires_in]": "300",
        "poll[multiple]": "false",
    }
    answer = requests.post(
        f"{mastodon_server.base_url}/api/v1/statuses",
        data=form,
        headers={"Authorization": f"Bearer {MASTODON_TOKEN}"},
        timeout=5,
    )
    assert answer.status_code == 200
    polls = [s["poll"] for s in mastodon_server.statuses]
    assert polls[1] == {
        "options": ["yes", "no"],
        "expires_in": 3600,
        "multiple": True,
        "hide_totals": True,
        "id": polls[1]["id"],
    }
    assert polls[2]["options"] == ["a", "b", "c"]
    assert not polls[2]["multiple"]
    assert mastodon_server.statuses[1]["in_reply_to_id"] == str(parent.id)


def test_mastodon_recent_statuses_newest_first(mastodon_server: MastodonServer) -> None:
    client = mastodon_client(mastodon_server)
    posted = [client.status_post(f"post {n}").id for n in range(3)]
    me = client.account_verify_credentials()
    assert me.username == "publisher"
    recent = client.account_statuses(me, limit=2)
    assert [s.id for s in recent] == posted[:0:-1]


def test_mastodon_rejects_a_wrong_token(mastodon_server: MastodonServer) -> None:
    with pytest.raises(MastodonUnauthorizedError) as refused:
        mastodon_client(mastodon_server, access_token="wrong").status_post("hi")
    assert api_error_code(refused) == (401, "The access token is invalid")
    assert mastodon_server.statuses == []


def test_mastodon_rate_limit_headers_and_injected_429(mastodon_server: MastodonServer) -> None:
    client = mastodon_client(mastodon_server)
    client.status_post("fine")
    assert client.ratelimit_remaining == 299
    mastodon_server.inject_rate_limit("POST", "/api/v1/statuses", reset_in=120)

    with pytest.raises(MastodonRatelimitError):
        client.status_post("throttled")
    assert client.ratelimit_reset == pytest.approx(time.time() + 120, abs=5)
    answer = requests.post(
        f"{mastodon_server.base_url}/api/v1/statuses",
        data={"status": "after the fault"},
        headers={"Authorization": f"Bearer {MASTODON_TOKEN}"},
        timeout=5,
    )
    assert answer.status_code == 200
    assert datetime.fromisoformat(answer.headers["X-RateLimit-Reset"]).tzinfo is not None
    assert [s["text"] for s in mastodon_server.statuses] == ["fine", "after the fault"]


def test_mastodon_runs_out_of_requests_until_the_window_resets() -> None:
    with serving(MastodonServer(token=MASTODON_TOKEN, rate_limit=2)) as server:
        client = mastodon_client(server)
        client.status_post("one")
        client.status_post("two")
        with pytest.raises(MastodonRatelimitError):
            client.status_post("three")
        server.advance(301)
        client.status_post("three")
        assert len(server.statuses) == 3


@pytest.mark.parametrize(
    ("fault", "error", "stored"),
    [
        (Fault("POST", "^/api/v1/statuses$", status=500), MastodonInternalServerError, 0),
        (Fault("POST", "^/api/v1/statuses$", when="after"), MastodonInternalServerError, 1),
        (Fault("POST", "statuses", when="after", status=None, delay=1.0), MastodonNetworkError, 1),
        (Fault("POST", "statuses", when="after", drop=True), MastodonNetworkError, 1),
        (Fault("*", ".*", drop=True), MastodonNetworkError, 0),
    ],
    ids=["500-before", "500-after", "timeout-after", "dropped-after", "dropped-before"],
)
def test_mastodon_faults_before_and_after_storing(
    mastodon_server: MastodonServer, fault: Fault, error: type[Exception], stored: int
) -> None:
    client = mastodon_client(mastodon_server, timeout=0.3)
    mastodon_server.inject(fault)
    with pytest.raises(error):
        client.status_post("hello", idempotency_key="k")
    assert len(mastodon_server.statuses) == stored
    assert mastodon_server.faults == []

    retried = client.status_post("hello", idempotency_key="k")  # the fault was used up
    assert len(mastodon_server.statuses) == 1
    assert mastodon_server.statuses[0]["id"] == str(retried.id)
    assert mastodon_server.count("POST", "/api/v1/statuses") == 2


def test_mastodon_takahe_mode() -> None:
    with serving(MastodonServer(token=MASTODON_TOKEN, takahe=True, processing_polls=3)) as server:
        v1 = requests.get(f"{server.base_url}/api/v1/instance", timeout=5)
        v2 = requests.get(f"{server.base_url}/api/v2/instance", timeout=5)
        assert v1.json()["version"] == "takahe/0.11.0"
        assert v1.json()["configuration"]["statuses"]["max_characters"] == 500
        assert v2.status_code == 500
        assert v2.headers["Content-Type"].startswith("text/html")

        client = mastodon_client(server)
        media = client.media_post(io.BytesIO(png()), mime_type="image/png", description="d")
        assert media.url is not None  # no processing step
        client.status_post("twice", idempotency_key="same", media_ids=[media])
        client.status_post("twice", idempotency_key="same")  # the key is ignored
        assert len(server.statuses) == 2


# -- X -----------------------------------------------------------------------------------


def test_x_upload_alt_text_then_post_with_media(x_server: XServer) -> None:
    upload = x_upload(x_server, png(3, 2))
    assert upload.status_code == 200
    data = upload.json()["data"]
    assert data["media_key"] == f"3_{data['id']}"
    assert (data["size"], data["image"]) == (
        len(png(3, 2)),
        {"image_type": "image/png", "w": 3, "h": 2},
    )
    assert "processing_info" not in data
    metadata = x_alt_text(x_server, data["id"], "A rocket")
    assert metadata.json() == {
        "data": {"id": data["id"], "associated_metadata": {"alt_text": {"text": "A rocket"}}}
    }

    created = x_client(x_server).create_tweet(text="We are live!", media_ids=[data["id"]])
    assert created.data["text"] == "We are live!"
    assert created.data["edit_history_tweet_ids"] == [created.data["id"]]
    [tweet] = x_server.tweets
    assert (tweet["text"], tweet["media_ids"]) == ("We are live!", [data["id"]])
    stored = x_server.media[data["id"]]
    assert (stored.data, stored.mime, stored.alt_text) == (png(3, 2), "image/png", "A rocket")


def test_x_media_processing_status(x_server: XServer) -> None:
    x_server.processing_polls = 1
    media_id = x_upload(x_server, png(), "tweet_gif").json()["data"]["id"]
    with pytest.raises(tweepy.BadRequest):
        x_client(x_server).create_tweet(text="too early", media_ids=[media_id])

    states = [
        x_media_status(x_server, media_id).json()["data"]["processing_info"]["state"]
        for _ in range(2)
    ]
    assert states == ["in_progress", "succeeded"]
    x_client(x_server).create_tweet(text="now", media_ids=[media_id])
    assert [t["text"] for t in x_server.tweets] == ["now"]


def test_x_media_limits(x_server: XServer) -> None:
    assert x_upload(x_server, png() + b"\0" * (5 * 1024 * 1024)).status_code == 400
    media_id = x_upload(x_server, png()).json()["data"]["id"]
    assert x_alt_text(x_server, media_id, "x" * 1001).status_code == 400
    assert x_alt_text(x_server, media_id, "x" * 1000).status_code == 200


@pytest.mark.parametrize(
    "bad_key",
    [
        {"consumer_secret": "wrong-secret"},
        {"access_token_secret": "wrong-secret"},
        {"consumer_key": "someone-elses-key"},
        {"access_token": "unknown-access-token"},
    ],
)
def test_x_rejects_a_bad_signature(x_server: XServer, bad_key: dict[str, str]) -> None:
    with pytest.raises(tweepy.Unauthorized) as refused:
        x_client(x_server, **bad_key).create_tweet(text="hello")
    assert refused.value.response.json() == {
        "title": "Unauthorized",
        "type": "about:blank",
        "status": 401,
        "detail": "Unauthorized",
    }
    assert x_upload(x_server, png()).status_code == 200  # the right keys still work
    assert x_server.tweets == []


def test_x_signature_covers_form_bodies_and_refuses_replays(x_server: XServer) -> None:
    url = f"{x_server.base_url}/2/media/upload"
    signed = requests.Request("POST", url, data={"media_category": "tweet_image"}, auth=x_auth())
    prepared = signed.prepare()
    with requests.Session() as session:
        # signature valid (the form body is signed): refused only for the missing file
        assert session.send(prepared, timeout=5).status_code == 400
        assert session.send(prepared, timeout=5).status_code == 401  # nonce replayed
        tampered = signed.prepare()
        tampered.body = "media_category=tweet_video"  # same length
        assert session.send(tampered, timeout=5).status_code == 401


def test_x_refuses_a_stale_timestamp(x_server: XServer) -> None:
    stale = str(int(time.time()) - 3600)
    auth = OAuth1(
        X_KEYS["consumer_key"],
        X_KEYS["consumer_secret"],
        X_KEYS["access_token"],
        X_KEYS["access_token_secret"],
        timestamp=stale,
    )
    answer = requests.get(f"{x_server.base_url}/2/users/me", auth=auth, timeout=5)
    assert answer.status_code == 401


def test_x_duplicate_content_is_forbidden(x_server: XServer) -> None:
    client = x_client(x_server)
    client.create_tweet(text="same words")
    with pytest.raises(tweepy.Forbidden) as refused:
        client.create_tweet(text="same words")
    assert refused.value.response.json() == {
        "detail": DUPLICATE,
        "type": "about:blank",
        "title": "Forbidden",
        "status": 403,
    }
    x_server.advance(25 * 3600)
    client.create_tweet(text="same words")
    assert len(x_server.tweets) == 2


def test_x_weighted_length(x_server: XServer) -> None:
    client = x_client(x_server)
    client.create_tweet(text="今" * 140)  # weight 280
    with pytest.raises(tweepy.BadRequest) as refused:
        client.create_tweet(text="今" * 141)
    assert "Your Tweet text is too long" in refused.value.api_messages[0]
    assert len(x_server.tweets) == 1


def test_x_replies(x_server: XServer) -> None:
    client = x_client(x_server)
    first = client.create_tweet(text="1/2")
    client.create_tweet(text="2/2", in_reply_to_tweet_id=first.data["id"])
    assert x_server.tweets[1]["in_reply_to_tweet_id"] == first.data["id"]

    with pytest.raises(tweepy.Forbidden) as unknown:
        client.create_tweet(text="orphan", in_reply_to_tweet_id="1")
    assert unknown.value.api_messages == [REPLY_NOT_VISIBLE]
    x_server.replies_restricted = True
    with pytest.raises(tweepy.Forbidden) as restricted:
        client.create_tweet(text="3/2", in_reply_to_tweet_id=first.data["id"])
    assert restricted.value.api_messages == [REPLY_RESTRICTED]
    assert len(x_server.tweets) == 2


def test_x_polls(x_server: XServer) -> None:
    client = x_client(x_server)
    client.create_tweet(text="Which?", poll_options=["a", "b"], poll_duration_minutes=60)
    assert x_server.tweets[0]["poll"] == {"options": ["a", "b"], "duration_minutes": 60}
    with pytest.raises(tweepy.BadRequest):
        client.create_tweet(text="Too long", poll_options=["x" * 26, "b"], poll_duration_minutes=60)


def test_x_media_of_another_user_is_refused(x_server: XServer) -> None:
    x_server.add_user("1600000000000000002-other-token", "other-token-secret", "other")
    theirs = x_client(
        x_server,
        access_token="1600000000000000002-other-token",
        access_token_secret="other-token-secret",
    )
    their_media = x_upload(x_server, png()).json()["data"]["id"]  # uploaded by "publisher"
    with pytest.raises(tweepy.BadRequest):
        theirs.create_tweet(text="not mine", media_ids=[their_media])


def test_x_me_and_recent_tweets_newest_first(x_server: XServer) -> None:
    client = x_client(x_server)
    ids = [client.create_tweet(text=f"post {n}").data["id"] for n in range(6)]
    me = client.get_me(user_auth=True).data
    assert (me.id, me.username) == (int(x_server.user_id), "publisher")
    recent = client.get_users_tweets(me.id, max_results=5, user_auth=True)
    assert [t.id for t in recent.data] == [int(i) for i in ids[:0:-1]]
    assert recent.meta["newest_id"] == ids[-1]


def test_x_rate_limit_headers_and_injected_429(x_server: XServer) -> None:
    client = x_client(x_server)
    ok = client.create_tweet(text="fine")
    assert ok.data["id"]  # tweepy returns no headers, so check them raw:
    answer = requests.get(f"{x_server.base_url}/2/users/me", auth=x_auth(), timeout=5)
    assert answer.headers["x-rate-limit-remaining"] == "298"
    assert int(answer.headers["x-rate-limit-reset"]) > time.time()

    x_server.inject_rate_limit("POST", "/2/tweets", reset_in=60)
    with pytest.raises(tweepy.TooManyRequests) as limited:
        client.create_tweet(text="throttled")
    assert limited.value.reset_time == pytest.approx(time.time() + 60, abs=5)
    assert limited.value.response.json()["title"] == "Too Many Requests"
    assert len(x_server.tweets) == 1


def test_x_response_lost_after_storing_then_retry_is_duplicate(x_server: XServer) -> None:
    client = x_client(x_server)
    x_server.inject(Fault("POST", "^/2/tweets$", when="after", status=503))
    with pytest.raises(tweepy.TwitterServerError):
        client.create_tweet(text="exactly once")
    with pytest.raises(tweepy.Forbidden):
        client.create_tweet(text="exactly once")  # the first attempt went out
    assert [t["text"] for t in x_server.tweets] == ["exactly once"]
    assert x_server.count("POST", "/2/tweets") == 2


# -- the shared base ---------------------------------------------------------------------


def test_faults_match_method_and_path_and_are_used_up(x_server: XServer) -> None:
    x_server.inject(Fault("POST", "^/2/tweets$", status=503, times=2, body={"detail": "busy"}))
    x_server.inject(Fault("GET", "/users/me", status=500, body="<html>oops</html>"))
    client = x_client(x_server)
    send: Callable[[], Any] = lambda: client.create_tweet(text="hello")  # noqa: E731

    assert x_upload(x_server, png()).status_code == 200  # POST, other path: untouched
    for _ in range(2):
        with pytest.raises(tweepy.TwitterServerError):
            send()
    send()
    me = requests.get(f"{x_server.base_url}/2/users/me", auth=x_auth(), timeout=5)
    assert (me.status_code, me.text) == (500, "<html>oops</html>")
    assert x_server.faults == []
    assert x_server.count() == 5
    assert x_server.count("POST", "/2/tweets") == 3
    assert x_server.requests[-1] == ("GET", "/2/users/me", "")
