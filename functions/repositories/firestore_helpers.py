"""Small shared Firestore helpers for the repositories."""

from __future__ import annotations

import contextlib
import random
import time
from collections.abc import Callable
from typing import Any

from google.api_core import exceptions as gexc
from google.cloud import firestore
from google.cloud.firestore_v1.base_document import DocumentSnapshot
from google.cloud.firestore_v1.transaction import Transaction
from pydantic import BaseModel

from core.errors import ConflictError, ContentionError
from repositories.emulator_host_lock import HostLocks

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
USAGE_DAILY = "usage_daily"  # daily usage rollups (repositories/reports.py)
API_KEYS = "api_keys"
API_KEY_OWNERS = "api_key_owners"


def to_model[M: BaseModel](snapshot: DocumentSnapshot, model: type[M]) -> M | None:
    """Snapshot -> pydantic record (with its id), or None when the document does not exist."""
    if not snapshot.exists:
        return None
    data: dict[str, Any] = snapshot.to_dict() or {}
    return model.model_validate({**data, "id": snapshot.id})


# A request that keeps losing gives up well inside the 60 s function timeout (clean 503).
TRANSACTION_DEADLINE_SECONDS = 20.0


def run_transaction[T](
    db: firestore.Client,
    body: Callable[[Transaction], T],
    *,
    lock_key: str | None = None,
    locks: HostLocks | None = None,
    attempts: int = TRANSACTION_ATTEMPTS,
    deadline_seconds: float = TRANSACTION_DEADLINE_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Run `body` in a Firestore transaction, retrying contention with backoff.

    `lock_key` names the contended document (e.g. the user whose balance changes); with `locks`
    (the emulator workaround) this host runs one such transaction at a time. Typed errors
    raised by `body` (e.g. insufficient credits) roll back and propagate at once. Exhausted
    retries or deadline raise ContentionError (503 busy); nothing of the transaction was
    written. A create() clash is no contention and is not retried: ConflictError.
    """
    transactional = firestore.transactional(body)
    delay = BACKOFF_START_SECONDS
    give_up_at = time.monotonic() + deadline_seconds
    for _ in range(attempts):
        if time.monotonic() > give_up_at:
            break
        try:
            with locks.hold(lock_key, give_up_at) if locks else contextlib.nullcontext():
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
