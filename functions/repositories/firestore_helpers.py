"""Small shared Firestore helpers for the repositories."""

from __future__ import annotations

import contextlib
import random
import threading
import time
import zlib
from collections.abc import Callable
from typing import Any

from google.api_core import exceptions as gexc
from google.cloud import firestore
from google.cloud.firestore_v1.base_document import DocumentSnapshot
from google.cloud.firestore_v1.transaction import Transaction
from pydantic import BaseModel

from core.errors import ContentionError

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


class StripedLocks:
    """A fixed set of locks picked by key hash: serialises same-key work within one process.

    Transactions alone keep the data correct across instances. Firestore's server SDK locks
    are pessimistic, so transactions in one instance that read the same document and then
    write it deadlock each other until a lock timeout; queueing them locally first avoids that.
    """

    def __init__(self, stripes: int = 256) -> None:
        self._locks = [threading.Lock() for _ in range(stripes)]

    def hold(self, key: str | None) -> contextlib.AbstractContextManager[object]:
        if key is None:
            return contextlib.nullcontext()
        return self._locks[zlib.crc32(key.encode()) % len(self._locks)]


LOCAL_LOCKS = StripedLocks()


def run_transaction[T](
    db: firestore.Client,
    body: Callable[[Transaction], T],
    *,
    lock_key: str | None = None,
    attempts: int = TRANSACTION_ATTEMPTS,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Run `body` in a Firestore transaction, retrying contention with backoff.

    `lock_key` names the contended document (e.g. the user whose balance changes) so that
    this process runs one such transaction at a time. Typed errors raised by `body` (e.g.
    insufficient credits) roll back and propagate at once. Exhausted retries raise
    ContentionError; nothing of the transaction was written.
    """
    transactional = firestore.transactional(body)
    delay = BACKOFF_START_SECONDS
    for _ in range(attempts):
        try:
            with LOCAL_LOCKS.hold(lock_key):
                return transactional(db.transaction(max_attempts=1))
        except (gexc.Aborted, gexc.Conflict):
            pass
        except ValueError as error:  # the client's "Failed to commit transaction in 1 attempts"
            if not isinstance(error.__cause__, gexc.Aborted):
                raise
        sleep(random.uniform(0, delay))
        delay = min(delay * 2, BACKOFF_MAX_SECONDS)
    raise ContentionError()
