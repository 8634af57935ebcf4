"""Small shared Firestore helpers for the repositories."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import math
import os
import random
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

from google.api_core import exceptions as gexc
from google.cloud import firestore
from google.cloud.firestore_v1.base_document import DocumentSnapshot
from google.cloud.firestore_v1.transaction import Transaction
from pydantic import BaseModel

from core.errors import ConflictError, ContentionError

# Requests for one user contend on its user document. The client retries an aborted commit at
# once, which under heavy contention (and on the emulator, which does not keep a retried
# transaction's place in line) can starve; we retry with jittered exponential backoff instead.
TRANSACTION_ATTEMPTS = 25
# A lock conflict on the emulator costs a ~2 s lock timeout and often aborts both sides, so the
# retry window must be wide enough (relative to a ~20 ms transaction) to desynchronise them.
BACKOFF_START_SECONDS = 0.1
BACKOFF_MAX_SECONDS = 3.0

USERS = "users"
TRANSACTIONS = "transactions"
GENERATION_REQUESTS = "generation_requests"
IDEMPOTENCY_KEYS = "idempotency_keys"
STYLES = "styles"
COLORS = "colors"
SIZES = "sizes"
REPORTS = "reports"


def to_model[M: BaseModel](snapshot: DocumentSnapshot, model: type[M]) -> M | None:
    """Snapshot -> pydantic record (with its id), or None when the document does not exist."""
    if not snapshot.exists:
        return None
    data: dict[str, Any] = snapshot.to_dict() or {}
    return model.model_validate({**data, "id": snapshot.id})


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


LOCAL_LOCKS = HostLocks()
# A request that keeps losing gives up well inside the 60 s function timeout (clean 503).
TRANSACTION_DEADLINE_SECONDS = 20.0


def run_transaction[T](
    db: firestore.Client,
    body: Callable[[Transaction], T],
    *,
    lock_key: str | None = None,
    attempts: int = TRANSACTION_ATTEMPTS,
    deadline_seconds: float = TRANSACTION_DEADLINE_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Run `body` in a Firestore transaction, retrying contention with backoff.

    `lock_key` names the contended document (e.g. the user whose balance changes) so that
    this host runs one such transaction at a time. Typed errors raised by `body` (e.g.
    insufficient credits) roll back and propagate at once. Exhausted retries or deadline raise
    ContentionError (503 busy); nothing of the transaction was written. A create() clash is no
    contention and is not retried: ConflictError.
    """
    transactional = firestore.transactional(body)
    delay = BACKOFF_START_SECONDS
    give_up_at = time.monotonic() + deadline_seconds
    for _ in range(attempts):
        if time.monotonic() > give_up_at:
            break
        try:
            with LOCAL_LOCKS.hold(lock_key, give_up_at):
                return transactional(db.transaction(max_attempts=1))
        except gexc.AlreadyExists:
            # A document created with create() exists already: a fact, not contention.
            raise ConflictError(error="already_exists") from None
        except gexc.Aborted:
            pass
        except ValueError as error:  # the client's "Failed to commit transaction in 1 attempts"
            if not isinstance(error.__cause__, gexc.Aborted):
                raise
        sleep(random.uniform(0, delay))
        delay = min(delay * 2, BACKOFF_MAX_SECONDS)
    raise ContentionError()
