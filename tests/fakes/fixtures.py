"""pytest fixtures that start a fresh fake Mastodon and fake X server for each test.

Import them into a conftest: `from tests.fakes.fixtures import mastodon_server, x_server`.
The credential constants are the only ones the servers accept. Options such as
`processing_polls` or `takahe` are plain attributes: set them on the fixture's server, or
build one yourself and run it with `with serving(MastodonServer(...)) as server:`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TypedDict, TypeVar

import pytest

from tests.fakes.http import FakeServer
from tests.fakes.mastodon_server import MastodonServer
from tests.fakes.x_server import XServer


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


@pytest.fixture(name="mastodon_server")  # explicit name: the fixture survives `import as`
def mastodon_server() -> Iterator[MastodonServer]:
    with serving(MastodonServer(token=MASTODON_TOKEN)) as server:
        yield server


@pytest.fixture(name="x_server")
def x_server() -> Iterator[XServer]:
    with serving(XServer(**X_KEYS)) as server:
        yield server
