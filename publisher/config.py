"""Settings from `publisher.toml`, accounts, and credentials (with a masked Secret type).

Settings are frozen and typed; unknown keys are errors that name the key. Credentials come
from the environment first, then from an owner-only credentials file; their values never
appear in a repr, a message or a log.
"""

from __future__ import annotations

import difflib
import os
import re
import stat
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from publisher import masking
from publisher.errors import ConfigError

CONFIG_FILE = "publisher.toml"

#: The networks publisher knows; each maps to a module in `publisher.platforms`.
PLATFORMS = ("mastodon", "x")
PLATFORM_ALIASES = {"twitter": "x"}

#: Credential fields per platform and their standard environment variable names.
CREDENTIAL_FIELDS: dict[str, dict[str, str]] = {
    "mastodon": {"base_url": "MASTODON_BASE_URL", "access_token": "MASTODON_ACCESS_TOKEN"},
    "x": {
        "api_key": "X_API_KEY",
        "api_secret": "X_API_SECRET",
        "access_token": "X_ACCESS_TOKEN",
        "access_token_secret": "X_ACCESS_TOKEN_SECRET",
    },
}
#: Optional, non-secret settings read from the environment per platform.
OPTIONAL_FIELDS: dict[str, dict[str, str]] = {
    "mastodon": {},
    "x": {"base_url": "X_API_BASE_URL"},
}
#: Fields that are not secret (URLs); everything else is masked.
PUBLIC_FIELDS = {"base_url"}

DEFAULT_CREDENTIALS_FILE = "~/.config/publisher/credentials"


class Secret:
    """A credential value whose repr and str are masked; `reveal()` is the only way out."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("Secret", self._value))


@dataclass(frozen=True)
class Account:
    """A named target: a platform plus the names of the variables holding its credentials."""

    name: str
    platform: str
    env: Mapping[str, str]  # credential field -> environment variable name

    @property
    def variables(self) -> list[str]:
        return list(self.env.values())


@dataclass(frozen=True)
class Settings:
    root: Path
    posts_dir: str = "posts"
    timezone: str | None = None
    platforms: tuple[str, ...] = ("mastodon", "x")
    log: str = "published.jsonl"
    git_name: str = "publisher"
    git_email: str = "publisher@users.noreply.github.com"
    stale_after: timedelta = timedelta(hours=24)
    max_per_run: int = 10
    mastodon_max_characters: int = 500
    mastodon_max_image_bytes: int = 16 * 1024 * 1024
    allow_missing_alt: bool = False
    request_timeout: float = 30.0
    media_timeout: float = 120.0
    max_rate_limit_wait: float = 60.0
    retries: int = 3
    thread_numbering: bool = False
    x_thread_fallback: str = "link"
    x_content_warning: str = "prepend"
    extra_keys: tuple[str, ...] = ()
    mentions: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    accounts: Mapping[str, Account] = field(default_factory=dict)

    @property
    def zone(self) -> ZoneInfo | None:
        return ZoneInfo(self.timezone) if self.timezone else None

    @property
    def posts_path(self) -> Path:
        return self.root / self.posts_dir

    @property
    def log_path(self) -> Path:
        return self.root / self.log

    def account(self, name: str) -> Account:
        """The account a post's `platforms` entry names (`twitter` is an alias of `x`)."""
        name = PLATFORM_ALIASES.get(name, name)
        if name in self.accounts:
            return self.accounts[name]
        raise ConfigError(f"unknown platform or account {name!r}: use one of {self.target_names}")

    @property
    def target_names(self) -> list[str]:
        return sorted(self.accounts)


def _default_accounts() -> dict[str, Account]:
    return {
        p: Account(p, p, {**CREDENTIAL_FIELDS[p], **OPTIONAL_FIELDS[p]}) for p in PLATFORMS
    }


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(value: object, key: str) -> timedelta:
    """`90`, `"90s"`, `"15m"`, `"24h"` or `"7d"` as a timedelta."""
    if isinstance(value, bool):
        raise ConfigError(f"{CONFIG_FILE}: {key} must be a duration such as \"24h\"")
    try:
        if isinstance(value, int | float):
            seconds = float(value)
        else:
            m = _DURATION.match(str(value))
            if not m:
                raise ConfigError(
                    f"{CONFIG_FILE}: {key} = {value!r} is not a duration such as \"24h\"")
            seconds = float(m.group(1)) * _UNITS[m.group(2)]
        if not 0 <= seconds <= 10 * 365 * 86400:
            raise OverflowError
        return timedelta(seconds=seconds)
    except (OverflowError, ValueError):
        raise ConfigError(f"{CONFIG_FILE}: {key} = {value!r} must be a duration between 0 and "
                          "ten years") from None


def _suggest(key: str, known: list[str]) -> str:
    close = difflib.get_close_matches(key, known, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


_SIMPLE: dict[str, type | tuple[type, ...]] = {
    "posts_dir": str,
    "timezone": str,
    "log": str,
    "git_name": str,
    "git_email": str,
    "max_per_run": int,
    "mastodon_max_characters": int,
    "mastodon_max_image_bytes": int,
    "allow_missing_alt": bool,
    "request_timeout": (int, float),
    "retries": int,
    "thread_numbering": bool,
    "x_thread_fallback": str,
    "x_content_warning": str,
}
_DURATIONS = {"stale_after", "media_timeout", "max_rate_limit_wait"}
_OTHER = {"platforms", "accounts", "mentions", "extra_keys"}
KNOWN_KEYS = sorted([*_SIMPLE, *_DURATIONS, *_OTHER])


def load_settings(root: Path) -> Settings:
    """Read `publisher.toml` at `root` (optional) into Settings; unknown keys are errors."""
    path = root / CONFIG_FILE
    data: dict[str, Any] = {}
    if not root.is_dir():
        raise ConfigError(f"{root}: no such folder; run publisher in your posts repository "
                          "or point -C at it")
    if path.exists():
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{CONFIG_FILE}: not valid TOML: {exc}") from exc
        except OSError as exc:
            raise ConfigError(f"{CONFIG_FILE}: cannot be read ({exc.strerror})") from exc
    return settings_from_mapping(root, data)


def settings_from_mapping(root: Path, data: Mapping[str, Any]) -> Settings:
    values: dict[str, Any] = {}
    for key, value in data.items():
        if key in _SIMPLE:
            expected = _SIMPLE[key]
            if isinstance(value, bool) and expected is not bool:
                raise ConfigError(f"{CONFIG_FILE}: {key} must not be true/false")
            if not isinstance(value, expected):
                kind = type(value).__name__
                raise ConfigError(f"{CONFIG_FILE}: {key} has the wrong type ({kind})")
            values[key] = float(value) if key == "request_timeout" else value  # type: ignore[arg-type]
        elif key in _DURATIONS:
            seconds = parse_duration(value, key)
            values[key] = seconds if key == "stale_after" else seconds.total_seconds()
        elif key not in _OTHER:
            raise ConfigError(f"{CONFIG_FILE}: unknown key {key!r}{_suggest(key, KNOWN_KEYS)}")
    tz = values.get("timezone")
    if tz is not None:
        try:
            ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ConfigError(
                f"{CONFIG_FILE}: timezone {tz!r} is not an IANA zone name such as \"Europe/Berlin\""
            ) from exc
    if values.get("x_thread_fallback", "link") not in ("link", "stop"):
        raise ConfigError(f"{CONFIG_FILE}: x_thread_fallback must be \"link\" or \"stop\"")
    if values.get("x_content_warning", "prepend") not in ("prepend", "refuse"):
        raise ConfigError(f"{CONFIG_FILE}: x_content_warning must be \"prepend\" or \"refuse\"")
    accounts = _default_accounts()
    tables = data.get("accounts", {})
    if not isinstance(tables, dict):
        raise ConfigError(f"{CONFIG_FILE}: accounts must be tables: [accounts.NAME]")
    for name, table in tables.items():
        accounts[name] = _account(name, table)
    values["accounts"] = accounts
    if "platforms" in data:
        plats = data["platforms"]
        if not isinstance(plats, list) or not all(isinstance(p, str) for p in plats):
            raise ConfigError(f'{CONFIG_FILE}: platforms must be a list such as ["mastodon", "x"]')
        resolved = tuple(PLATFORM_ALIASES.get(p, p) for p in plats)
        for p in resolved:
            if p not in accounts:
                raise ConfigError(f"{CONFIG_FILE}: platforms: unknown platform or account {p!r}")
        values["platforms"] = resolved
    if "extra_keys" in data:
        extra = data["extra_keys"]
        if not isinstance(extra, list) or not all(isinstance(k, str) for k in extra):
            raise ConfigError(f'{CONFIG_FILE}: extra_keys must be a list such as ["hero"]')
        values["extra_keys"] = tuple(extra)
    if "mentions" in data:
        values["mentions"] = _mentions(data["mentions"], accounts)
    _check_ranges(root, values)
    return Settings(root=root, **values)


def _check_ranges(root: Path, values: Mapping[str, Any]) -> None:
    """Values that would silently mean "never post" are errors."""
    for key, low in (("max_per_run", 1), ("retries", 0), ("mastodon_max_characters", 1),
                     ("mastodon_max_image_bytes", 1)):
        if key in values and values[key] < low:
            raise ConfigError(f"{CONFIG_FILE}: {key} must be at least {low}")
    timeout = values.get("request_timeout")
    if timeout is not None and not 0 < timeout <= 600:
        raise ConfigError(f"{CONFIG_FILE}: request_timeout must be between 0 and 600 seconds")
    if values.get("stale_after") is not None and values["stale_after"].total_seconds() <= 0:
        raise ConfigError(f"{CONFIG_FILE}: stale_after must be longer than 0")
    if values.get("platforms") == ():
        raise ConfigError(f"{CONFIG_FILE}: platforms is empty: name at least one")
    resolved = root.resolve()
    for key in ("posts_dir", "log"):
        if key in values:
            target = (root / values[key]).resolve()
            if not target.is_relative_to(resolved) or (target == resolved and key == "log"):
                raise ConfigError(f"{CONFIG_FILE}: {key} = {values[key]!r} must be a path "
                                  "inside the repository")


_HANDLE = re.compile(r"@[A-Za-z0-9_]+(?:@[A-Za-z0-9.-]+\.[A-Za-z]{2,})?")
_ACCOUNT_NAME = re.compile(r"[a-z][a-z0-9_-]*")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
#: Front-matter keys an account name would collide with (its override table shares the name).
_RESERVED_NAMES = {
    "date", "platforms", "media", "draft", "published", "id", "thread", "poll",
    "content_warning", "sensitive", "visibility", "language", "social", "text", "title", "tags",
}


def _mentions(mentions: object, accounts: Mapping[str, Account]) -> dict[str, dict[str, str]]:
    """`[mentions]`: `"@ann@social.example" = {x = "@ann"}`; keys of each table are platform
    or account names."""
    example = f'{CONFIG_FILE}: [mentions] maps a handle to a table: "@ann@social.example" = ' \
              '{x = "@ann"}'
    if not isinstance(mentions, dict):
        raise ConfigError(example)
    out: dict[str, dict[str, str]] = {}
    for handle, targets in mentions.items():
        if not _HANDLE.fullmatch(handle):
            raise ConfigError(f"{CONFIG_FILE}: [mentions] {handle!r} is not a handle such as "
                              '"@ann@social.example"')
        if not isinstance(targets, dict):
            raise ConfigError(example)
        table: dict[str, str] = {}
        for target, value in targets.items():
            name = PLATFORM_ALIASES.get(str(target), str(target))
            if name not in accounts:
                hint = _suggest(str(target), [*accounts, *PLATFORM_ALIASES])
                raise ConfigError(f"{CONFIG_FILE}: [mentions] {handle!r}: unknown platform or "
                                  f"account {target!r}{hint}")
            if not isinstance(value, str) or not _HANDLE.fullmatch(value):
                raise ConfigError(f"{CONFIG_FILE}: [mentions] {handle!r}: {target} = {value!r} "
                                  'is not a handle such as "@ann"')
            table[name] = value
        out[handle] = table
    return out


def _account(name: str, table: object) -> Account:
    where = f"{CONFIG_FILE}: [accounts.{name}]"
    if not isinstance(table, dict):
        raise ConfigError(f"{where} must be a table")
    if not _ACCOUNT_NAME.fullmatch(name) or name in _RESERVED_NAMES or name in PLATFORM_ALIASES:
        raise ConfigError(f"{where}: choose another name: lower-case letters, digits, - and _, "
                          "and not a front-matter key or a platform alias")
    platform = PLATFORM_ALIASES.get(str(table.get("platform", "")), str(table.get("platform", "")))
    if name in PLATFORMS and platform != name:
        raise ConfigError(f"{where}: the account named {name!r} must have platform = {name!r}")
    if platform not in PLATFORMS:
        raise ConfigError(f'{where}: platform must be one of {list(PLATFORMS)}, e.g. '
                          'platform = "mastodon"')
    fields = {**CREDENTIAL_FIELDS[platform], **OPTIONAL_FIELDS[platform]}
    env: dict[str, str] = {}
    for key, value in table.items():
        if key == "platform":
            continue
        if not key.endswith("_env") or key[:-4] not in fields:
            known = [f"{f}_env" for f in fields]
            raise ConfigError(f"{where}: unknown key {key!r}{_suggest(key, known)}")
        if not isinstance(value, str) or not _ENV_NAME.fullmatch(value):
            raise ConfigError(f"{where}: {key} names the environment variable holding the "
                              f'value, such as {key} = "NEWS_{key[:-4].upper()}"; not the value')
        env[key[:-4]] = value
    missing = [f"{f}_env" for f in CREDENTIAL_FIELDS[platform] if f not in env]
    if missing:
        raise ConfigError(f"{where}: name the variables holding its credentials: {missing}")
    return Account(name, platform, env)


# --- credentials -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Credentials:
    """Resolved credentials of one account; secrets stay masked."""

    account: Account
    values: Mapping[str, Secret]

    def get(self, field_name: str, default: str | None = None) -> str | None:
        secret = self.values.get(field_name)
        return secret.reveal() if secret is not None else default


def read_credentials_file(path: Path) -> dict[str, str]:
    """Parse a dotenv-style `NAME=value` file that only its owner may read or write."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return {}
    if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(
            f"{path}: readable or writable by others; run `chmod 600 {path}` and try again"
        )
    if hasattr(os, "getuid") and st.st_uid != os.getuid():
        raise ConfigError(
            f"{path}: not owned by the user running publisher; "
            f"run `chown $(id -un) {path} && chmod 600 {path}`"
        )
    values: dict[str, str] = {}
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export ") :].lstrip()
        name, sep, value = line.partition("=")
        name = name.strip()
        if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise ConfigError(f"{path}:{number}: expected NAME=value (the value is not shown)")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[name] = value
    return values


class CredentialStore:
    """Looks credentials up in the environment first, then in the credentials file."""

    def __init__(self, environ: Mapping[str, str], file_values: Mapping[str, str]) -> None:
        self._environ = environ
        self._file = file_values

    @classmethod
    def load(cls, environ: Mapping[str, str], path: str | None) -> CredentialStore:
        explicit = path or environ.get("PUBLISHER_CREDENTIALS")
        chosen = Path(explicit or DEFAULT_CREDENTIALS_FILE).expanduser()
        if explicit and not chosen.exists():
            raise ConfigError(f"{chosen}: credentials file not found")
        return cls(environ, read_credentials_file(chosen))

    def lookup(self, name: str) -> str | None:
        value = self._environ.get(name)
        if value is None or value == "":
            value = self._file.get(name)
        return value or None

    def all_secret_values(self) -> list[str]:
        """Every credential value known, so output can be scrubbed of them."""
        names = {n for fields in CREDENTIAL_FIELDS.values() for n in fields.values()}
        values = [self._environ.get(n) for n in names] + [self._file.get(n) for n in names]
        values += [v for k, v in self._file.items() if k not in names]
        return [v for v in values if v]

    def for_account(self, account: Account) -> Credentials:
        """Credentials of `account`; ConfigError names every missing variable."""
        values: dict[str, Secret] = {}
        missing: list[str] = []
        for field_name, var in account.env.items():
            raw = self.lookup(var)
            required = field_name in CREDENTIAL_FIELDS[account.platform]
            if raw is None:
                if required:
                    missing.append(var)
                continue
            # Refused, not stripped: a pasted token with a trailing line break is a sign the
            # secret was copied wrongly, and HTTP libraries quote such a header value in
            # their exception text (SEC-01). The message never shows the value.
            if any(ch.isspace() for ch in raw) or not raw.isprintable():
                raise ConfigError(
                    f"{var} contains whitespace, a line break or a control character; "
                    "set it again without them (the value is not shown)"
                )
            if field_name not in PUBLIC_FIELDS:
                masking.remember(raw)
            values[field_name] = Secret(raw)
        if missing:
            raise ConfigError(
                f"{account.name}: missing credentials: set {', '.join(missing)} "
                "in the environment or the credentials file"
            )
        return Credentials(account, values)
