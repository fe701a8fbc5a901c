"""One run at a time on one machine: an exclusive lock on a file beside the repository's git
folder (or the repository root), held for the whole run and released by the OS when the
process dies, so a killed run never leaves a stale lock behind."""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path
from types import TracebackType

from publisher.errors import LockError


class RunLock:
    def __init__(self, root: Path, wait: float = 10.0) -> None:
        git_dir = root / ".git"
        self.path = (git_dir if git_dir.is_dir() else root) / "publisher.lock"
        self.wait = float(os.environ.get("PUBLISHER_LOCK_WAIT", wait))
        self._fd: int | None = None

    def __enter__(self) -> RunLock:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        deadline = time.monotonic() + self.wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    os.close(fd)
                    raise LockError(
                        f"another publisher run holds the lock ({self.path}); "
                        "nothing was done, the next run will pick up where it left"
                    ) from None
                time.sleep(0.2)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
