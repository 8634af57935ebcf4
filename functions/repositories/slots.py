"""Per-user concurrency slots of one kind: one lease document per held slot,
`<collection>/{uid}_{slot}` (slot < the limit), e.g. `wait_leases/arda_2`.

A slot is taken with create(), which fails if the document exists, so no transaction is needed
and no shared counter serialises the takers. A lease past its `expires_at` (its holder crashed)
is taken over by an update preconditioned on its update time, so only one taker wins it; the
holder deletes its lease preconditioned the same way, never a lease taken over since. Firestore's
TTL policy on `expires_at` (firestore.indexes.json) removes leftovers.
"""

from __future__ import annotations

import contextlib
import random
import time
from datetime import datetime
from typing import Any

from google.api_core import exceptions as gexc
from google.api_core import retry as retries
from google.cloud import firestore
from google.cloud.firestore_v1.base_document import DocumentSnapshot

from repositories.firestore_helpers import to_model
from schemas.documents import SlotLeaseRecord
from schemas.store import SlotLease

# A take gives up (raises TimeoutError) after this long in all, a release after this long: the
# caller then goes on without the slot. Both count in the waiting functions' timeout.
TAKE_SECONDS = 5.0
RELEASE_SECONDS = 2.0
_ATTEMPT_SECONDS = 1.5

# The other taker got there first: look again.
_LOST = (gexc.AlreadyExists, gexc.FailedPrecondition, gexc.NotFound)


def _deadline(give_up_at: float) -> dict[str, Any]:
    remaining = give_up_at - time.monotonic()
    if remaining <= 0:
        raise TimeoutError("the slot store did not answer in time")
    return {
        "retry": retries.Retry(initial=0.05, maximum=0.5, multiplier=2, timeout=remaining),
        "timeout": min(_ATTEMPT_SECONDS, remaining),
    }


class SlotRepository:
    def __init__(self, db: firestore.Client, collection: str) -> None:
        self._db = db
        self._collection = collection

    def take(self, owner: str, limit: int, now: datetime, expires_at: datetime) -> SlotLease | None:
        give_up_at = time.monotonic() + TAKE_SECONDS
        leases = self._db.collection(self._collection)
        # First a blind create on a random slot (one write when the user holds few); after a
        # clash, read all the slots and try a free or expired one. Every clash means another
        # taker won a slot, so this ends when none is left (or at the deadline).
        slot, seen = random.randrange(limit), None
        while True:
            lease = SlotLeaseRecord(
                id=f"{owner}_{slot}",
                user_id=owner,
                slot=slot,
                acquired_at=now,
                expires_at=expires_at,
            )
            ref = leases.document(lease.id)
            try:
                if seen is None or not seen.exists:
                    written = ref.create(lease.document(), **_deadline(give_up_at))
                else:
                    option = self._db.write_option(last_update_time=seen.update_time)
                    written = ref.update(lease.document(), option=option, **_deadline(give_up_at))
                return SlotLease(owner, slot, written.update_time)
            except _LOST:
                pass
            slots = {f"{owner}_{n}": n for n in range(limit)}
            refs = [leases.document(doc_id) for doc_id in slots]
            open_slots = [
                snap
                for snap in self._db.get_all(refs, **_deadline(give_up_at))
                if not snap.exists or _expired(snap, now)
            ]
            if not open_slots:
                return None
            seen = random.choice(open_slots)
            slot = slots[seen.id]

    def release(self, lease: SlotLease) -> None:
        option = self._db.write_option(last_update_time=lease.version)
        ref = self._db.collection(self._collection).document(f"{lease.owner}_{lease.slot}")
        # FailedPrecondition: expired and taken over (or cleaned up) since, no longer ours.
        with contextlib.suppress(gexc.FailedPrecondition, gexc.NotFound):
            ref.delete(option=option, **_deadline(time.monotonic() + RELEASE_SECONDS))


def _expired(snapshot: DocumentSnapshot, now: datetime) -> bool:
    """A lease past its expiry, or one that does not validate, is free to take over."""
    try:
        lease = to_model(snapshot, SlotLeaseRecord)
    except ValueError:
        return True
    return lease is None or lease.expires_at <= now
