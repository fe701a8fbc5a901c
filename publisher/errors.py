"""Every exception publisher raises, drawn once here.

    PublisherError                 base; `str()` is a one-line message that says what to do
    ├── ConfigError                publisher.toml or the credentials are wrong
    ├── PostError                  a post file is invalid (carries path and line)
    ├── LedgerError                the published log cannot be read or written
    ├── GitError                   commit or push of the log failed
    ├── LockError                  another run holds the lock
    └── PlatformError              a network refused or failed (carries platform and reason)
        ├── AuthError              401/403: credentials or permissions; permanent
        ├── RejectedError          422/400: the server refused this content; permanent
        │   └── ReplyRefusedError  X refused a reply in a self-thread (API tier rule)
        ├── DuplicateError         X refused a duplicate: an earlier attempt went out
        ├── RateLimitedError       429: carries the reset time
        ├── TransientError         5xx, timeouts before sending, media still processing
        └── UnknownOutcomeError    the request may have reached the server
"""

from __future__ import annotations

from datetime import datetime

from publisher import masking


class PublisherError(Exception):
    """Base of all publisher errors; the CLI prints `str(error)` as one line."""


class ConfigError(PublisherError):
    pass


class PostError(PublisherError):
    def __init__(self, path: str, message: str, line: int | None = None) -> None:
        self.path = path
        self.line = line
        self.message = message
        where = f"{path}:{line}" if line else path
        super().__init__(f"{where}: {message}")


class LedgerError(PublisherError):
    pass


class GitError(PublisherError):
    detail = ""  # git's own (scrubbed) words, for deciding what failed


class LockError(PublisherError):
    pass


class PlatformError(PublisherError):
    """A network's refusal or failure; `reason` is the server's own words (never secrets)."""

    kind = "error"
    permanent = False

    def __init__(self, platform: str, reason: str, *, status: int | None = None) -> None:
        self.platform = platform
        # A server may quote what it received, token included; the reason is printed and
        # kept in the published log, so it is masked here, where every reason passes.
        self.reason = reason = masking.mask(reason)
        self.status = status
        code = f" (HTTP {status})" if status else ""
        super().__init__(f"{platform}: {reason}{code}")


class AuthError(PlatformError):
    kind = "auth"
    permanent = True


class RejectedError(PlatformError):
    kind = "rejected"
    permanent = True


class ReplyRefusedError(RejectedError):
    """X refuses replies for some API tiers, even to the account's own posts."""


class DuplicateError(PlatformError):
    kind = "duplicate"
    permanent = True


class RateLimitedError(PlatformError):
    kind = "rate_limited"

    def __init__(
        self, platform: str, reason: str, *, reset_at: datetime | None, status: int | None = 429
    ) -> None:
        self.reset_at = reset_at
        super().__init__(platform, reason, status=status)


class TransientError(PlatformError):
    kind = "transient"


class UnknownOutcomeError(PlatformError):
    kind = "unknown"
