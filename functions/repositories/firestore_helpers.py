"""Shared Firestore helpers for the repositories: collection names, snapshot -> model, and the
runner of money-path writes (transactions and guarded commits)."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from google.api_core import exceptions as gexc
from google.cloud import firestore
from google.cloud.firestore_v1.base_document import DocumentSnapshot
from google.cloud.firestore_v1.document import DocumentReference
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


type ReadAll = Callable[[firestore.Client, list[DocumentReference]], list[DocumentSnapshot]]


def read_all(db: firestore.Client, refs: list[DocumentReference]) -> list[DocumentSnapshot]:
    """The documents of `refs`, in that order, in one round trip (no transaction): one batchGet,
    which Firestore answers as of one moment."""
    found = {snap.reference.path: snap for snap in db.get_all(refs)}
    return [found[ref.path] for ref in refs]


def unchanged_since(db: firestore.Client, snapshot: DocumentSnapshot) -> Any:
    """The write option that fails a write (FailedPrecondition) if the document has been
    written since `snapshot` was read."""
    return db.write_option(last_update_time=snapshot.update_time)


@dataclass(frozen=True)
class TransactionRunner:
    """Runs a money-path write, retrying contention with jittered backoff within a deadline
    (the client's own retry is immediate and can starve): `run` as a Firestore transaction,
    `run_guarded` as reads then one conditional commit.

    `key` names the document the writes contend on (e.g. `user:<id>`): this runner ignores
    it, the emulator's (emulator/host_lock.py) queues same-key attempts on it. Typed errors from
    the body propagate (nothing written); exhausted attempts or deadline raise ContentionError
    (503, nothing written); a create() clash raises ConflictError unless retried.
    """

    attempts: int = TRANSACTION_ATTEMPTS
    deadline_seconds: float = TRANSACTION_DEADLINE_SECONDS
    sleep: Callable[[float], None] = time.sleep
    # How a `run_guarded` body reads several documents at once; the emulator's reads need a
    # workaround (emulator/consistent_reads.py).
    read_all: ReadAll = read_all

    def run[T](self, db: firestore.Client, body: Callable[[Transaction], T], key: str) -> T:
        """`body` in a transaction (BeginTransaction, its reads, Commit)."""
        transactional = firestore.transactional(body)

        def once() -> T:
            try:
                return transactional(db.transaction(max_attempts=1))
            except ValueError as error:  # the client's "Failed to commit transaction in 1 attempts"
                if isinstance(error.__cause__, gexc.Aborted):
                    raise error.__cause__ from None
                raise

        return self._retried(once, key, (gexc.Aborted,))

    def run_guarded[T](self, body: Callable[[], T], key: str, *, retry_exists: bool = False) -> T:
        """`body` reads without a transaction, then commits one batch whose writes are guarded
        by preconditions (`unchanged_since` what it read, create()): one round trip fewer than a
        transaction. A failed precondition or an abort runs `body` again; with `retry_exists`,
        so does a create() that finds its document (a concurrent attempt won: the next reads
        it). `body` must not run queries, whose FailedPrecondition (a missing index) this
        would retry."""
        retried: tuple[type[Exception], ...] = (gexc.Aborted, gexc.FailedPrecondition)
        if retry_exists:
            retried += (gexc.AlreadyExists,)
        return self._retried(body, key, retried)

    def _retried[T](
        self, once: Callable[[], T], key: str, retried: tuple[type[Exception], ...]
    ) -> T:
        delay = BACKOFF_START_SECONDS
        give_up_at = time.monotonic() + self.deadline_seconds
        for _ in range(self.attempts):
            if time.monotonic() > give_up_at:
                break
            try:
                return self.attempt(once, key, give_up_at)
            except retried:
                pass
            except gexc.AlreadyExists:
                raise ConflictError(error="already_exists") from None
            self.sleep(random.uniform(0, delay))
            delay = min(delay * 2, BACKOFF_MAX_SECONDS)
        raise ContentionError()

    def attempt[T](self, once: Callable[[], T], key: str, give_up_at: float) -> T:
        """One attempt; runners that guard each attempt override this (`give_up_at` is a
        `time.monotonic()` value)."""
        return once()
