"""One module per network behind one small interface (`base.Platform`). Adding a network
means adding a module here and a name in `config.PLATFORMS`; nothing else imports the
client libraries."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from publisher.platforms.base import Limits


def limits_for(platform: str, **overrides: int) -> Limits:
    """The declared limits of a platform, without importing its client library."""
    from publisher.platforms import base

    return base.default_limits(platform, **overrides)


def adapter_module(platform: str) -> object:
    """The adapter module of a platform (imports its client library: call only to publish)."""
    return importlib.import_module(f"publisher.platforms.{platform}")
