"""api_keys (one document per personal API key, named by the key's SHA-256) and, per owner, the
slots of its active keys (api_key_owners/{uid}/slots/{n}, n < max_active) and of the keys it
created in the window (api_key_owners/{uid}/creations/{n}, n < max_created).

The slots keep both limits exact under concurrency: a key is created in one atomic write with
the two slots it takes, each either created (a free slot) or overwritten with a precondition on
its update time (a lapsed one: an expired key's, a creation older than the window); the write
fails if a concurrent create took either. Revoking deletes the key's active slot. No write
reads a shared document first (a transactional counter livelocks on the emulator).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from google.api_core import exceptions as gexc
from google.cloud import firestore
from google.cloud.firestore_v1.batch import WriteBatch
from google.cloud.firestore_v1.transaction import Transaction

from core.errors import ContentionError, TooManyApiKeysCreatedError, TooManyApiKeysError
from core.firestore_client import request_deadline
from core.logging import warn
from repositories.firestore_helpers import (
    API_KEY_OWNERS,
    API_KEYS,
    TransactionRunner,
    to_model,
)
from schemas.documents import ApiKeyRecord
from schemas.store import ApiKeyLimits

SLOTS = "slots"  # api_key_owners/{uid}/slots/{n}: one document per active key
CREATIONS = "creations"  # api_key_owners/{uid}/creations/{n}: one per key created in the window
# Rounds of (list the slots, try the free ones) before a create gives up with a 503.
CREATE_ROUNDS = 5
# What a lost race on a slot looks like: created meanwhile, or changed or deleted since read.
LOST_RACE = (gexc.AlreadyExists, gexc.FailedPrecondition, gexc.NotFound)

# A slot number and the snapshot of its lapsed document (None: the slot is free).
type Opening = tuple[int, firestore.DocumentSnapshot | None]


class ApiKeyRepository:
    def __init__(self, db: firestore.Client, transactions: TransactionRunner) -> None:
        self._db = db
        self._transactions = transactions

    def create(self, record: ApiKeyRecord, limits: ApiKeyLimits) -> ApiKeyRecord:
        """Store a new key with a free active slot and a free creation slot of its owner: 409
        when `max_active` unexpired keys are active, 429 when `max_created` keys were created
        in the `window` before `record.created_at`."""
        now = record.created_at
        window_start = now - limits.window
        for _ in range(CREATE_ROUNDS):
            active = self._openings(
                self._slots(record.user_id),
                limits.max_active,
                lambda slot: slot.get("expires_at") is not None and slot["expires_at"] <= now,
            )
            if not active:
                raise TooManyApiKeysError(
                    f"At most {limits.max_active} API keys may be active at once; revoke one "
                    "(revokeApiKey) before creating another",
                    error="too_many_api_keys",
                    extra={"maxApiKeys": limits.max_active},
                )
            created = self._openings(
                self._creations(record.user_id),
                limits.max_created,
                lambda slot: slot["created_at"] <= window_start,
            )
            if not created:
                raise self._too_many_created(record.user_id, limits, now)
            for (slot, lapsed), (creation, lapsed_creation) in zip(active, created, strict=False):
                stored = record.model_copy(update={"slot": slot})
                batch = self._db.batch()
                self._claim(
                    batch,
                    self._slots(record.user_id).document(str(slot)),
                    lapsed,
                    {"key_id": record.key_id, "created_at": now, "expires_at": record.expires_at},
                )
                self._claim(
                    batch,
                    self._creations(record.user_id).document(str(creation)),
                    lapsed_creation,
                    {"key_id": record.key_id, "created_at": now},
                )
                batch.create(self._keys.document(record.id), stored.document())
                try:
                    batch.commit()
                except LOST_RACE:
                    if self._keys.document(record.id).get().exists:
                        return stored  # a retry of this very commit: the first one went through
                    continue  # a concurrent create took a slot: nothing was written
                return stored
        raise ContentionError()

    def _openings(
        self,
        slots: firestore.CollectionReference,
        size: int,
        lapsed: Callable[[dict[str, Any]], bool],
    ) -> list[Opening]:
        """The slots below `size` that are free or lapsed, in random order (so concurrent
        creates mostly try different ones)."""
        taken = {snap.id: snap for snap in slots.stream(**request_deadline())}
        openings: list[Opening] = []
        for n in range(size):
            snap = taken.get(str(n))
            if snap is None:
                openings.append((n, None))
            elif lapsed(snap.to_dict() or {}):
                openings.append((n, snap))
        random.shuffle(openings)
        return openings

    def _claim(
        self,
        batch: WriteBatch,
        ref: firestore.DocumentReference,
        lapsed: firestore.DocumentSnapshot | None,
        data: dict[str, Any],
    ) -> None:
        """Take a free slot (create: fails if it exists) or a lapsed one (update: fails unless
        it is exactly as read)."""
        if lapsed is None:
            batch.create(ref, data)
        else:
            batch.update(
                ref, data, option=self._db.write_option(last_update_time=lapsed.update_time)
            )

    def _too_many_created(
        self, user_id: str, limits: ApiKeyLimits, now: datetime
    ) -> TooManyApiKeysCreatedError:
        in_range = {str(n) for n in range(limits.max_created)}
        oldest = min(
            (
                snap.get("created_at")
                for snap in self._creations(user_id).stream(**request_deadline())
                if snap.id in in_range
            ),
            default=now,
        )
        wait = max(1, math.ceil((oldest + limits.window - now).total_seconds()))
        days = limits.window.days
        return TooManyApiKeysCreatedError(
            f"At most {limits.max_created} API keys may be created in {days} days; the next "
            f"can be created in {wait} seconds (Retry-After)",
            retry_after=wait,
            extra={"maxApiKeysCreated": limits.max_created, "windowDays": days},
        )

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
        self, user_id: str, key_id: str, clock: Callable[[], datetime], retention: timedelta
    ) -> ApiKeyRecord | None:
        """Mark the owner's key `key_id` revoked, to be deleted `retention` later, and free its
        slot; a key revoked before is answered as it is (nothing written). None when the owner
        has no such key."""
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
            slot_ref = self._slots(user_id).document(str(record.slot))
            slot = slot_ref.get(transaction=tx) if record.slot is not None else None
            now = clock()
            delete_at = now + retention
            if record.delete_at is not None:  # an expiring key: the earlier of the two
                delete_at = min(delete_at, record.delete_at)
            changes = {"revoked_at": now, "delete_at": delete_at}
            tx.update(key_ref, changes)
            # Its slot, unless a new key took it over after this one expired.
            if slot is not None and slot.exists and slot.get("key_id") == record.key_id:
                tx.delete(slot_ref)
            return record.model_copy(update=changes)

        return self._transactions.run(self._db, run, f"api_key:{key_ref.id}")

    def resolve(
        self, key_hash: str, now: datetime, touch_interval: timedelta
    ) -> ApiKeyRecord | None:
        """The unrevoked key whose hash is `key_hash`, else None. One read; a stale
        `last_used_at` (older than `touch_interval`) of an unexpired key is refreshed by one of
        the calls that saw it (a conditional write), best effort: a failed touch is logged, the
        caller served."""
        snapshot = self._keys.document(key_hash).get()
        record = to_model(snapshot, ApiKeyRecord)
        if record is None or not record.active:
            return None
        if record.expired(now):
            return record
        if record.last_used_at is None or record.last_used_at <= now - touch_interval:
            try:
                snapshot.reference.update(
                    {"last_used_at": now},
                    option=self._db.write_option(last_update_time=snapshot.update_time),
                )
            except Exception as exc:  # a concurrent touch won, or Firestore did not answer
                warn("api key last_used_at not updated", key_id=record.key_id, error=repr(exc))
        return record

    @property
    def _keys(self) -> firestore.CollectionReference:
        return self._db.collection(API_KEYS)

    def _slots(self, user_id: str) -> firestore.CollectionReference:
        return self._db.collection(API_KEY_OWNERS).document(user_id).collection(SLOTS)

    def _creations(self, user_id: str) -> firestore.CollectionReference:
        return self._db.collection(API_KEY_OWNERS).document(user_id).collection(CREATIONS)
