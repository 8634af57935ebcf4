"""Shared Firestore helpers for the repositories: collection names, snapshot -> model, and the
transaction runner."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from google.api_core import exceptions as gexc
from google.cloud import firestore
from google.cloud.firestore_v1.base_document import DocumentSnapshot
from google.cloud.firestore_v1.transaction import Transaction
from pydantic import BaseModel

from core.errors import ConflictError, ContentionError

TRANSACTION_ATTEMPTS = 25
# A request that keeps losing gives up well inside the 60 s function timeout (a clean 503).
TRANSACTION_DEADLINE_SECONDS = 20.0
# Wide enough to desynchronise two transactions that a lock timeout aborted together.
BACKOFF_START_SECONDS = 0.1
BACKOFF_MAX_SECONDS = 3.0

USERS = "users"
TRANSACTIONS = "transactions"
GENERATION_REQUESTS = "generation_requests"
IDEMPOTENCY_KEYS = "idempotency_keys"
STYLES = "styles"
COLORS = "colors"
SIZES = "sizes"
CREDIT_PACKS = "credit_packs"  # sold through Stripe Checkout (services/payments.py)
REPORTS = "reports"
USAGE_DAILY = "usage_daily"  # daily usage rollups (repositories/reports.py)
API_KEYS = "api_keys"
API_KEY_OWNERS = "api_key_owners"
WAIT_LEASES = "wait_leases"  # per-user `Prefer: wait` slots (repositories/slots.py)
STREAM_LEASES = "stream_leases"  # per-user open status streams (the same repository)


def to_model[M: BaseModel](snapshot: DocumentSnapshot, model: type[M]) -> M | None:
    """Snapshot -> pydantic record (with its id), or None when the document does not exist."""
    if not snapshot.exists:
        return None
    data: dict[str, Any] = snapshot.to_dict() or {}
    return model.model_validate({**data, "id": snapshot.id})


@dataclass(frozen=True)
class TransactionRunner:
    """Runs `body` in a Firestore transaction, retrying contention with jittered backoff (the
    client's own retry is immediate and can starve).

    `key` names the document the transaction contends on (e.g. `user:<id>`): this runner ignores
    it, the emulator's (emulator/host_lock.py) queues same-key attempts on it. Typed errors from
    `body` roll back and propagate; exhausted attempts or deadline raise ContentionError (503,
    nothing written); a create() clash raises ConflictError and is not retried.
    """

    attempts: int = TRANSACTION_ATTEMPTS
    deadline_seconds: float = TRANSACTION_DEADLINE_SECONDS
    sleep: Callable[[float], None] = time.sleep

    def run[T](self, db: firestore.Client, body: Callable[[Transaction], T], key: str) -> T:
        transactional = firestore.transactional(body)
        delay = BACKOFF_START_SECONDS
        give_up_at = time.monotonic() + self.deadline_seconds
        for _ in range(self.attempts):
            if time.monotonic() > give_up_at:
                break
            try:
                return self.attempt(
                    lambda: transactional(db.transaction(max_attempts=1)), key, give_up_at
                )
            except gexc.AlreadyExists:
                raise ConflictError(error="already_exists") from None
            except gexc.Aborted:
                pass
            except ValueError as error:  # the client's "Failed to commit transaction in 1 attempts"
                if not isinstance(error.__cause__, gexc.Aborted):
                    raise
            self.sleep(random.uniform(0, delay))
            delay = min(delay * 2, BACKOFF_MAX_SECONDS)
        raise ContentionError()

    def attempt[T](self, once: Callable[[], T], key: str, give_up_at: float) -> T:
        """One attempt; runners that guard each attempt override this (`give_up_at` is a
        `time.monotonic()` value)."""
        return once()
