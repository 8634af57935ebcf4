"""Emulator workaround: same-key transactions on this host wait on a file lock first.

The Firestore emulator locks pessimistically and settles a lock conflict only by a lock timeout,
after which it usually aborts both transactions; with the Functions emulator running concurrent
calls in separate processes, one user's concurrent requests keep deadlocking. Correctness never
depends on the lock (the race tests run with and without it); production does not need it.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import math
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from core.errors import ContentionError
from repositories.firestore_helpers import TransactionRunner


class HostLocks:
    """Per-key advisory flock() locks, which exclude each other across processes and across
    separately opened files of one process.

    One file per key (named by its hash), so unrelated keys never wait on each other; the holder
    removes it on release, and a waiter that then wins the lock of a removed file locks the
    current one instead. Waits poll up to the caller's deadline (flock() cannot time out).
    """

    POLL_START_SECONDS = 0.002
    POLL_MAX_SECONDS = 0.05

    def __init__(self, directory: Path | None = None) -> None:
        self._directory = directory or Path(tempfile.gettempdir()) / "feraset-imagen-locks"
        self._directory_ready = False  # created on first use, not at import

    @contextlib.contextmanager
    def hold(self, key: str, give_up_at: float = math.inf) -> Iterator[None]:
        """Hold the lock of `key`; ContentionError if not had by `give_up_at` (monotonic)."""
        if not self._directory_ready:
            self._directory.mkdir(parents=True, exist_ok=True)
            self._directory_ready = True
        path = self._directory / f"{hashlib.sha256(key.encode()).hexdigest()[:40]}.lock"
        handle = self._acquire(path, give_up_at)
        try:
            yield
        finally:
            path.unlink(missing_ok=True)  # still holding the lock: nobody else owns this file
            fcntl.flock(handle, fcntl.LOCK_UN)
            handle.close()

    def _acquire(self, path: Path, give_up_at: float) -> BinaryIO:
        delay = self.POLL_START_SECONDS
        while True:
            handle = path.open("a+b")
            try:
                while True:
                    try:
                        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                        break
                    except BlockingIOError:
                        if time.monotonic() >= give_up_at:
                            raise ContentionError() from None
                        time.sleep(delay)
                        delay = min(delay * 2, self.POLL_MAX_SECONDS)
                if _same_file(handle, path):
                    return handle
            except BaseException:
                handle.close()
                raise
            handle.close()  # the previous holder removed this file: lock the current one


def _same_file(handle: BinaryIO, path: Path) -> bool:
    try:
        return os.fstat(handle.fileno()).st_ino == path.stat().st_ino
    except FileNotFoundError:
        return False


@dataclass(frozen=True)
class HostLockedTransactions(TransactionRunner):
    """The transaction runner whose every attempt holds the host lock of its key, waiting no
    longer than the transaction's deadline."""

    locks: HostLocks = field(default_factory=HostLocks)

    def attempt[T](self, once: Callable[[], T], key: str, give_up_at: float) -> T:
        with self.locks.hold(key, give_up_at):
            return once()
