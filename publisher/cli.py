"""Command line: parses arguments, wires the pieces, prints, and maps errors to exit codes.
No logic of its own. Every line printed passes through the secret scrubber.

Exit codes: 0 all good, 1 something failed (the summary says what), 2 usage or configuration.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from publisher import __version__
from publisher.errors import ConfigError, PublisherError

if TYPE_CHECKING:
    from publisher.config import Settings


class Scrubber:
    """Replaces every known credential value in output with ********."""

    def __init__(self, values: Sequence[str]) -> None:
        self._values = sorted({v.strip() for v in values if len(v.strip()) >= 4}, key=len,
                              reverse=True)

    def __call__(self, text: str) -> str:
        for value in self._values:
            if value in text:
                text = text.replace(value, "********")
        return text


class Progress:
    """A status line on a terminal's stderr, redrawn in place. Only made when stderr is a
    terminal: under cron or in a CI log there are no redraws and no escape codes."""

    def __init__(self, stream: TextIO, scrub: Callable[[str], str]) -> None:
        self._stream = stream
        self._scrub = scrub

    def __call__(self, text: str) -> None:
        width = shutil.get_terminal_size().columns - 1
        # \r back to the line start, ESC[K erases what a longer previous status left.
        self._stream.write("\r\x1b[K" + self._scrub(text)[:width])
        self._stream.flush()


def _secret_values(environ: Mapping[str, str], settings: Settings | None,
                   credentials: str | None) -> list[str]:
    from publisher.config import CREDENTIAL_FIELDS, CredentialStore

    names = {n for fields in CREDENTIAL_FIELDS.values() for n in fields.values()}
    if settings is not None:
        for account in settings.accounts.values():
            names.update(v for k, v in account.env.items() if k != "base_url")
    values = [environ[n] for n in names if environ.get(n)]
    with contextlib.suppress(PublisherError):
        values += CredentialStore.load(environ, credentials).all_secret_values()
    return values


def _now(value: str | None) -> datetime:
    if value is None:
        return datetime.now(UTC)
    text = value.strip().replace("z", "Z")
    try:
        parsed = datetime.fromisoformat(text)
        parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        raise ConfigError(f"--now {value!r} is not an ISO 8601 time such as "
                          "2026-12-05T09:00:00Z") from None
    if parsed.tzinfo is None:
        raise ConfigError(f"--now {value!r} needs a zone: add Z or an offset such as +01:00")
    return parsed.astimezone(UTC)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="publisher",
        description="Publish scheduled Markdown posts from a git repository to Mastodon and "
                    "X, exactly once.")
    parser.add_argument("--version", action="version", version=f"publisher {__version__}")
    parser.add_argument("-C", "--repo", default=None, metavar="DIR",
                        help="the repository holding publisher.toml and the posts (default: "
                             "the nearest folder up from here holding publisher.toml or .git)")
    parser.add_argument("--posts-dir", metavar="DIR",
                        help="override posts_dir from publisher.toml")
    # The same two options after the command too (`publisher publish --posts-dir X`, as
    # action.yml passes them). There they default to SUPPRESS, so a value given before the
    # command is not overwritten by the subcommand's default.
    common = argparse.ArgumentParser(add_help=False, argument_default=argparse.SUPPRESS)
    common.add_argument("-C", "--repo", metavar="DIR",
                        help="the repository holding publisher.toml and the posts (default: "
                             "the nearest folder up from here holding publisher.toml or .git)")
    common.add_argument("--posts-dir", metavar="DIR",
                        help="override posts_dir from publisher.toml")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add_command(name: str, text: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=text, parents=[common])

    pub = add_command("publish", "publish every due post that is not yet published")
    pub.add_argument("--dry-run", action="store_true",
                     help="send nothing, write nothing; print exactly what would be sent")
    pub.add_argument("--now", metavar="ISO8601", help="evaluate what is due at this instant")
    pub.add_argument("--no-push", action="store_true", help="commit the log but do not push")
    pub.add_argument("--catch-up", action="store_true",
                     help="also publish posts due longer ago than stale_after")
    pub.add_argument("--credentials", metavar="FILE",
                     help="credentials file (default $PUBLISHER_CREDENTIALS or "
                          "~/.config/publisher/credentials)")

    chk = add_command("check", "validate posts with no network and no credentials")
    chk.add_argument("paths", nargs="*", metavar="PATH", help="only these files")
    chk.add_argument("--format", choices=("text", "github"), default="text")
    chk.add_argument("--now", metavar="ISO8601", help="the instant to check against")
    chk.add_argument("--no-cache", action="store_true",
                     help="read and check every post again, ignoring what the last check "
                          "kept of unchanged files ($XDG_CACHE_HOME/publisher, by default "
                          "~/.cache/publisher)")

    pln = add_command("plan", "list posts in date order with their state")
    pln.add_argument("--format", choices=("text", "markdown", "json", "ics"), default="text")
    pln.add_argument("--now", metavar="ISO8601", help="the instant to plan at")
    pln.add_argument("--changed", nargs="*", default=None, metavar="PATH",
                     help="show these posts first (the ones a pull request adds or changes)")
    pln.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of stdout")

    res = add_command("resolve", "decide an uncertain post: published or retry")
    res.add_argument("post", metavar="POST", help="the post file")
    res.add_argument("--platform", required=True, help="the platform or account")
    res.add_argument("--as", dest="decision", choices=("published", "retry"), required=True)
    res.add_argument("--rest", action="store_true",
                     help="with --as published: you posted every part still missing by hand "
                          "(a thread X stopped)")
    return parser


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None,
         out: Callable[[str], None] | None = None,
         sleep: Callable[[float], None] | None = None) -> int:
    """Run the CLI. `environ`, `out` and `sleep` default to the real ones (tests pass theirs)."""
    env = dict(os.environ if environ is None else environ)
    parser = build_parser()
    args = parser.parse_args(argv)
    args.sleep = sleep or time.sleep
    write = out or (lambda line: print(line, flush=True))
    scrub = Scrubber(_secret_values(env, None, getattr(args, "credentials", None)))

    def emit(line: str) -> None:
        write(scrub(line))

    # For text that leaves by another way than `emit` (the Actions job summary file).
    args.scrub = lambda text: scrub(text)
    args.progress = Progress(sys.stderr, args.scrub) if sys.stderr.isatty() else None

    try:
        from publisher.config import load_settings  # after parsing: `--help` stays cheap

        root = Path(args.repo).resolve() if args.repo else find_root(Path.cwd())
        settings = load_settings(root)
        if args.posts_dir:
            settings = _with(settings, posts_dir=args.posts_dir)
        scrub = Scrubber(_secret_values(env, settings, getattr(args, "credentials", None)))
        from publisher import commands

        handler = getattr(commands, f"run_{args.command}")
        code: int = handler(args, settings, env, emit, _now)
        return code
    except ConfigError as exc:
        emit(f"error: {exc}")
        return 2
    except PublisherError as exc:
        emit(f"error: {exc}")
        return 1
    except KeyboardInterrupt:
        emit("interrupted")
        return 130
    except BrokenPipeError:
        # `publisher plan | head`: the reader went away; say nothing more.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141


def find_root(start: Path) -> Path:
    """The repository a command run without `-C` works on: the nearest folder from `start`
    up holding publisher.toml or .git (so `cd posts && publisher resolve a.md` reads the
    root's log), else `start` itself."""
    here = start.resolve()
    for folder in (here, *here.parents):
        if (folder / "publisher.toml").is_file() or (folder / ".git").exists():
            return folder
    return here


def _with(settings: Settings, **changes: object) -> Settings:
    from dataclasses import replace

    return replace(settings, **changes)  # type: ignore[arg-type]


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
