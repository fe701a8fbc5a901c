"""pytest fixtures that start a fresh fake Mastodon and fake X server for each test.

Import them into a conftest: `from tests.fakes.fixtures import mastodon_server, x_server`.
The credential constants are the only ones the servers accept. Options such as
`processing_polls` or `takahe` are plain attributes: set them on the fixture's server, or
build one yourself and run it with `with serving(MastodonServer(...)) as server:`.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.mastodon_server import MastodonServer
from tests.fakes.running import MASTODON_TOKEN, X_KEYS, XKeys, serving
from tests.fakes.x_server import XServer

__all__ = ["MASTODON_TOKEN", "X_KEYS", "XKeys", "mastodon_server", "serving", "x_server"]


@pytest.fixture(name="mastodon_server")  # explicit name: the fixture survives `import as`
def mastodon_server() -> Iterator[MastodonServer]:
    with serving(MastodonServer(token=MASTODON_TOKEN)) as server:
        yield server


@pytest.fixture(name="x_server")
def x_server() -> Iterator[XServer]:
    with serving(XServer(**X_KEYS)) as server:
        yield server
