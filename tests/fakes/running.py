"""Running a fake server for a block, and the only credentials the fakes accept. Free of
pytest, so bench/ can use the servers too (`tests.fakes.fixtures` holds the fixtures)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TypedDict, TypeVar

from tests.fakes.http import FakeServer


class XKeys(TypedDict):
    consumer_key: str
    consumer_secret: str
    access_token: str
    access_token_secret: str


MASTODON_TOKEN = "test-mastodon-token"
X_KEYS: XKeys = {
    "consumer_key": "test-x-consumer-key",
    "consumer_secret": "test-x-consumer-secret",
    "access_token": "1600000000000000001-test-x-access-token",
    "access_token_secret": "test-x-access-token-secret",
}

S = TypeVar("S", bound=FakeServer)


@contextmanager
def serving(server: S) -> Iterator[S]:
    """Run `server` for the block; fail if one of its handlers raised (a bug in the fake)."""
    server.start()
    try:
        yield server
    finally:
        server.stop()
    assert not server.errors, f"fake server raised: {server.errors!r}"
