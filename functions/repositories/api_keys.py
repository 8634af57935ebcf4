"""api_keys (one document per personal API key, named by the key's SHA-256) and the slots of
each owner's active keys (api_key_owners/{uid}/slots/{n}, n < the limit).

The slots keep the limit race-free: a key is created in one write with the slot it takes, which
fails if a concurrent create took the slot; revoking deletes the slot with the key's revocation.
No write reads a shared document first (a transactional counter would serialise creates).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime, timedelta

from google.api_core import exceptions as gexc
from google.cloud import firestore
from google.cloud.firestore_v1.transaction import Transaction

from core.errors import ContentionError, TooManyApiKeysError
from core.firestore_client import request_deadline
from core.logging import warn
from repositories.firestore_helpers import (
    API_KEY_OWNERS,
    API_KEYS,
    TransactionRunner,
    to_model,
)
from schemas.documents import ApiKeyRecord

SLOTS = "slots"  # api_key_owners/{uid}/slots/{n}: one document per active key
# Rounds of (list the slots, try each free one) before a create gives up with a 503.
CREATE_ROUNDS = 5


class ApiKeyRepository:
    def __init__(self, db: firestore.Client, transactions: TransactionRunner) -> None:
        self._db = db
        self._transactions = transactions

    def create(self, record: ApiKeyRecord, max_active: int) -> ApiKeyRecord:
        """Store a new key in a free slot of its owner; 409 when all `max_active` are taken."""
        slots = self._slots(record.user_id)
        for _ in range(CREATE_ROUNDS):
            taken = {snap.id for snap in slots.select([]).stream(**request_deadline())}
            if len(taken) >= max_active:
                raise TooManyApiKeysError(
                    f"At most {max_active} API keys may be active at once; revoke one "
                    "(revokeApiKey) before creating another",
                    error="too_many_api_keys",
                    extra={"maxApiKeys": max_active},
                )
            free = [n for n in range(max_active) if str(n) not in taken]
            random.shuffle(free)  # concurrent creates mostly try different slots
            for slot in free:
                stored = record.model_copy(update={"slot": slot})
                batch = self._db.batch()
                batch.create(
                    slots.document(str(slot)),
                    {"key_id": record.key_id, "created_at": record.created_at},
                )
                batch.create(self._keys.document(record.id), stored.document())
                try:
                    batch.commit()
                except gexc.AlreadyExists:
                    if self._keys.document(record.id).get().exists:
                        return stored  # a retry of this very commit: the first one went through
                    continue  # a concurrent create took this slot: nothing was written
                return stored
        raise ContentionError()

    def list_for_owner(self, user_id: str, limit: int) -> list[ApiKeyRecord]:
        """The owner's keys, active and revoked, newest first."""
        query = (
            self._keys.where(filter=firestore.FieldFilter("user_id", "==", user_id))
            .order_by("created_at", direction=firestore.Query.DESCENDING)
            .limit(limit)
        )
        return [
            k for snap in query.stream(**request_deadline()) if (k := to_model(snap, ApiKeyRecord))
        ]

    def revoke(
        self, user_id: str, key_id: str, clock: Callable[[], datetime]
    ) -> ApiKeyRecord | None:
        """Mark the owner's key `key_id` revoked and free its slot; a key revoked before is
        answered as it is (nothing written). None when the owner has no such key."""
        found = (
            self._keys.where(filter=firestore.FieldFilter("user_id", "==", user_id))
            .where(filter=firestore.FieldFilter("key_id", "==", key_id))
            .limit(1)
            .get(**request_deadline())
        )
        if not found:
            return None
        key_ref = self._keys.document(found[0].id)

        def run(tx: Transaction) -> ApiKeyRecord | None:
            record = to_model(key_ref.get(transaction=tx), ApiKeyRecord)
            if record is None or record.user_id != user_id:
                return None
            if not record.active:
                return record
            now = clock()
            tx.update(key_ref, {"revoked_at": now})
            if record.slot is not None:  # held by this key since it was created with it
                tx.delete(self._slots(user_id).document(str(record.slot)))
            return record.model_copy(update={"revoked_at": now})

        return self._transactions.run(self._db, run, f"api_key:{key_ref.id}")

    def resolve(self, key_hash: str, now: datetime, touch_interval: timedelta) -> str | None:
        """The owner of the active key whose hash is `key_hash`, else None. One read; a stale
        `last_used_at` (older than `touch_interval`) is refreshed by one of the calls that saw
        it (a conditional write), best effort: a failed touch is logged, the caller served."""
        snapshot = self._keys.document(key_hash).get()
        record = to_model(snapshot, ApiKeyRecord)
        if record is None or not record.active:
            return None
        if record.last_used_at is None or record.last_used_at <= now - touch_interval:
            try:
                snapshot.reference.update(
                    {"last_used_at": now},
                    option=self._db.write_option(last_update_time=snapshot.update_time),
                )
            except Exception as exc:  # a concurrent touch won, or Firestore did not answer
                warn("api key last_used_at not updated", key_id=record.key_id, error=repr(exc))
        return record.user_id

    @property
    def _keys(self) -> firestore.CollectionReference:
        return self._db.collection(API_KEYS)

    def _slots(self, user_id: str) -> firestore.CollectionReference:
        return self._db.collection(API_KEY_OWNERS).document(user_id).collection(SLOTS)
