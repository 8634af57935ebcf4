"""Emulator workaround: serialise same-key transactions on this host with file locks.

Why: the Firestore emulator locks pessimistically and resolves a lock conflict only by a lock
timeout (about 2 s), after which it usually aborts *both* transactions. Two transactions that
read one user document and then write it therefore deadlock, and the Functions emulator runs
concurrent calls in separate worker processes, so concurrent requests of one user hit this
constantly (4 processes x 10 charges for one user took 25-63 s instead of about 1 s). Queueing
same-key transactions on a host-wide file lock first avoids the conflict.

Only the composition root (container.py) wires this in, and only on the emulator: correctness
never depends on it (the race tests run with and without it), and production Firestore does
not need it.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import math
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from core.errors import ContentionError


class HostLocks:
    """Per-key advisory file locks: serialise same-key transactions on this host.

    Transactions alone keep the data correct. But Firestore's server-SDK locking is
    pessimistic: two transactions that read the same document and then write it deadlock until
    a lock timeout (about 2 s on the emulator, where both usually abort). Requests for one user
    arrive concurrently in threads of one instance and, on the Functions emulator, in separate
    worker processes; queueing them on a file lock first avoids the deadlock. flock() locks
    exclude each other across processes and across separately opened files within a process.

    One file per key (named by its hash), so unrelated users never wait behind each other; the
    holder removes it on release, so files do not accumulate. A waiter that then wins the lock
    on a removed file sees that the path no longer names it and locks the current one instead.
    Waiting is bounded by the caller's deadline (polling, as flock() itself cannot time out).
    """

    POLL_START_SECONDS = 0.002
    POLL_MAX_SECONDS = 0.05

    def __init__(self, directory: Path | None = None) -> None:
        self._directory = directory or Path(tempfile.gettempdir()) / "feraset-imagen-locks"
        self._directory_ready = False  # created on first use, not at import

    @contextlib.contextmanager
    def hold(self, key: str | None, give_up_at: float = math.inf) -> Iterator[None]:
        """Hold the lock of `key` (None: no lock); ContentionError if not had by `give_up_at`
        (a `time.monotonic()` value)."""
        if key is None:
            yield
            return
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
