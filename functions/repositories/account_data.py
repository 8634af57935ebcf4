"""deleteAccount and exportAccountData: everything stored for one uid, read in pages, and the
writes that remove its personal data. Each write is idempotent, so a run stopped halfway is
finished by a repeat."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pydantic
from google.cloud import firestore
from google.cloud.firestore_v1.transaction import Transaction

from core.firestore_client import request_deadline
from repositories.firestore_helpers import (
    GENERATION_REQUESTS,
    TRANSACTIONS,
    USERS,
    TransactionRunner,
    to_model,
)
from repositories.webhooks import WEBHOOK_SECRETS
from schemas.documents import (
    DELETED_REQUEST_CHANGES,
    IN_FLIGHT,
    GenerationRecord,
    TransactionRecord,
    UserRecord,
)
from schemas.store import StoredRequest

# Documents read per query while walking a user's requests or ledger (no cap on the total).
PAGE_SIZE = 300
# A request of a deleted account is deleted as deleteGenerationRequest deletes one, and its
# webhook target goes too.
SCRUBBED = DELETED_REQUEST_CHANGES | {"webhook_url": None}


class AccountDataRepository:
    def __init__(self, db: firestore.Client, transactions: TransactionRunner) -> None:
        self._db = db
        self._transactions = transactions

    def profile(self, user_id: str) -> UserRecord | None:
        """users/{uid} as stored, deleted or not."""
        return to_model(self._user(user_id).get(**request_deadline()), UserRecord)

    def begin_deletion(self, user_id: str, now: datetime) -> UserRecord | None:
        """Mark the account `deleting_at` (kept from an earlier run), None when it does not
        exist. From this commit on no request is charged to it: the charge reads the marker in
        its own transaction on the same document."""
        ref = self._user(user_id)

        def run(tx: Transaction) -> UserRecord | None:
            user = to_model(ref.get(transaction=tx), UserRecord)
            if user is None:
                return None
            if user.deleting_at is None:
                tx.update(ref, {"deleting_at": now, "updated_at": now})
                user = user.model_copy(update={"deleting_at": now})
            return user

        return self._transactions.run(self._db, run, f"user:{user_id}")

    def in_flight_ids(self, user_id: str) -> list[str]:
        """The user's requests queued or processing (at most MAX_IN_FLIGHT_PER_USER)."""
        query = self._requests.where(filter=firestore.FieldFilter("user_id", "==", user_id)).where(
            filter=firestore.FieldFilter("status", "in", [s.value for s in IN_FLIGHT])
        )
        return [snap.id for snap in query.select([]).stream(**request_deadline())]

    def requests(self, user_id: str) -> Iterator[StoredRequest]:
        """Every request of the user, in pages of PAGE_SIZE by document id; `record` is None for
        a document that does not validate (it is still there to scrub)."""
        for snap in self._pages(
            self._requests.where(filter=firestore.FieldFilter("user_id", "==", user_id))
        ):
            data = snap.to_dict() or {}
            try:
                record = to_model(snap, GenerationRecord)
            except pydantic.ValidationError:
                record = None
            webhook = data.get("webhook")
            path = data.get("image_path")
            yield StoredRequest(
                id=snap.id,
                record=record,
                image_path=path if isinstance(path, str) else None,
                webhook_pending=isinstance(webhook, dict) and webhook.get("state") == "pending",
                scrubbed=data.get("deleted") is True and data.get("webhook_url") is None,
            )

    def scrub_request(self, request_id: str, now: datetime) -> None:
        """Remove what the request asked for and where its picture was; keeps the first
        `deleted_at`."""
        ref = self._requests.document(request_id)

        def run(tx: Transaction) -> None:
            data = ref.get(transaction=tx).to_dict()
            if data is None:
                return
            changes: dict[str, Any] = dict(SCRUBBED)
            if data.get("deleted_at") is None:
                changes["deleted_at"] = now
            tx.update(ref, changes)

        self._transactions.run(self._db, run, f"request:{request_id}")

    def ledger(self, user_id: str) -> Iterator[TransactionRecord]:
        """The user's whole ledger, oldest first, in pages of PAGE_SIZE."""
        history = self._user(user_id).collection(TRANSACTIONS).order_by("timestamp")
        for snap in self._pages(history):
            entry = to_model(snap, TransactionRecord)
            if entry is not None:
                yield entry

    def delete_webhook_secret(self, user_id: str) -> None:
        self._db.collection(WEBHOOK_SECRETS).document(user_id).delete(**request_deadline())

    def finish_deletion(self, user_id: str, now: datetime) -> None:
        """Empty the personal fields and mark the account inactive and `deleted_at` (the first
        run's time is kept). The balance and counters stay: the ledger still adds up."""
        ref = self._user(user_id)

        def run(tx: Transaction) -> None:
            user = to_model(ref.get(transaction=tx), UserRecord)
            if user is None:
                return
            tx.update(
                ref,
                {
                    "name": "",
                    "email": "",
                    "is_active": False,
                    "welcome_due": False,
                    "deleted_at": user.deleted_at or now,
                    "updated_at": now,
                },
            )

        self._transactions.run(self._db, run, f"user:{user_id}")

    def _pages(self, query: Any) -> Iterator[firestore.DocumentSnapshot]:
        query = query.order_by("__name__")
        last = None
        while True:
            page = query.start_after(last) if last is not None else query
            snaps = list(page.limit(PAGE_SIZE).stream(**request_deadline()))
            yield from snaps
            if len(snaps) < PAGE_SIZE:
                return
            last = snaps[-1]

    def _user(self, user_id: str) -> firestore.DocumentReference:
        return self._db.collection(USERS).document(user_id)

    @property
    def _requests(self) -> firestore.CollectionReference:
        return self._db.collection(GENERATION_REQUESTS)
