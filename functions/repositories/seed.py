"""Seeding writes: replace only the documents the seeder owns, never anything else.

Every document the seeder writes carries `seeded: true`; a reseed deletes or overwrites only
documents with that mark, never unmarked ones (real users and their data, hand-made catalog
entries), even when their id is one the seeder would use.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter
from google.cloud.firestore_v1.transaction import Transaction

from repositories.firestore_helpers import (
    GENERATION_REQUESTS,
    SIZES,
    TRANSACTIONS,
    USAGE_DAILY,
    USERS,
    TransactionRunner,
    to_model,
)
from schemas.documents import CREDITS_OUT, GenerationRecord, GenerationStatus
from schemas.store import SeededUser, StoredImage

SEEDED = "seeded"  # the field that marks a document as the seeder's own
IMAGES_PER_TRANSACTION = 200  # a transaction holds at most 500 writes


class SeedRepository:
    def __init__(self, db: firestore.Client) -> None:
        self._db = db
        self._transactions = TransactionRunner()

    def replace_owned(self, collection: str, documents: dict[str, dict[str, Any]]) -> int:
        """In one transaction: delete the collection's seeded documents that are not in
        `documents`, and write each of `documents` whose id is free or seeded. Returns how many
        were written (an unmarked document with the same id is kept, not counted)."""
        ref = self._db.collection(collection)

        def run(transaction: Transaction) -> int:
            existing = {snap.id: snap for snap in ref.stream(transaction=transaction)}  # read all
            for doc_id, snap in existing.items():
                if doc_id not in documents and _is_seeded(snap):
                    transaction.delete(snap.reference)
            written = 0
            for doc_id, data in documents.items():
                current = existing.get(doc_id)
                if current is None or _is_seeded(current):
                    transaction.set(ref.document(doc_id), data | {SEEDED: True})
                    written += 1
            return written

        return self._transactions.run(self._db, run, f"seed:{collection}")

    def forget_rollups(self) -> int:
        """Delete every daily usage rollup (derived from the history a reseed replaces; the next
        report recomputes them). How many documents were deleted."""
        return self._db.recursive_delete(self._db.collection(USAGE_DAILY))

    def replace_user(
        self,
        user_id: str,
        user: dict[str, Any],
        requests: dict[str, dict[str, Any]],
        transactions: dict[str, dict[str, Any]],
    ) -> SeededUser | None:
        """Reseed one user in one transaction; None (nothing done) for an unmarked user.

        Earlier seeded requests and transactions are replaced; unmarked ones (made through the
        API since) stay, as do fields the seeder does not write (the in-flight counter).
        `initial_credits` absorbs the kept transactions' net, keeping the ledger invariant.
        """
        user_ref = self._db.collection(USERS).document(user_id)
        history = user_ref.collection(TRANSACTIONS)
        owned_requests = (
            self._db.collection(GENERATION_REQUESTS)
            .where(filter=FieldFilter("user_id", "==", user_id))
            .where(filter=FieldFilter(SEEDED, "==", True))
        )

        def run(transaction: Transaction) -> SeededUser | None:
            # Every read before the first write: a transaction refuses reads after writes.
            snap = user_ref.get(transaction=transaction)
            if snap.exists and not _is_seeded(snap):
                return None
            ledger = list(history.stream(transaction=transaction))
            old_requests = list(owned_requests.stream(transaction=transaction))
            kept_net = 0
            kept = 0
            for tx in ledger:
                if _is_seeded(tx):
                    if tx.id not in transactions:
                        transaction.delete(tx.reference)
                    continue
                data = tx.to_dict() or {}
                credits = int(data.get("credits", 0))
                kept_net += credits if data.get("type") in CREDITS_OUT else -credits
                kept += 1
            for request in old_requests:
                if request.id not in requests:
                    transaction.delete(request.reference)
            for request_id, data in requests.items():
                transaction.set(
                    self._db.collection(GENERATION_REQUESTS).document(request_id),
                    data | {SEEDED: True},
                )
            for tx_id, data in transactions.items():
                transaction.set(history.document(tx_id), data | {SEEDED: True})
            initial = int(user["initial_credits"]) + kept_net
            # merge: fields the seeder does not write keep describing the documents that stay.
            transaction.set(user_ref, user | {"initial_credits": initial, SEEDED: True}, merge=True)
            return SeededUser(len(requests), len(transactions), kept)

        return self._transactions.run(self._db, run, f"user:{user_id}")

    def seeded_at(self) -> datetime | None:
        query = self._db.collection(SIZES).where(filter=FieldFilter(SEEDED, "==", True))
        for snap in query.limit(1).stream():
            created_at = snap.get("created_at")
            return created_at if isinstance(created_at, datetime) else None
        return None

    def completed_without_image(self) -> list[GenerationRecord]:
        query = (
            self._db.collection(GENERATION_REQUESTS)
            .where(filter=FieldFilter(SEEDED, "==", True))
            .where(filter=FieldFilter("status", "==", GenerationStatus.COMPLETED.value))
        )
        records = (to_model(snap, GenerationRecord) for snap in query.stream())
        return [r for r in records if r is not None and r.image_url is None]

    def attach_images(self, images: Mapping[str, StoredImage]) -> int:
        """Each in a transaction with its neighbours, only on a request that is still seeded,
        completed and without an image (a reseed or a user may have changed it since)."""
        ref = self._db.collection(GENERATION_REQUESTS)
        ids = sorted(images)
        chunks = [
            ids[i : i + IMAGES_PER_TRANSACTION] for i in range(0, len(ids), IMAGES_PER_TRANSACTION)
        ]

        def attach(chunk: list[str]) -> int:
            def run(transaction: Transaction) -> int:
                snaps = transaction.get_all([ref.document(i) for i in chunk])
                attached = 0
                for snap in snaps:
                    data = snap.to_dict() or {}
                    if (
                        not snap.exists
                        or data.get(SEEDED) is not True
                        or data.get("status") != GenerationStatus.COMPLETED.value
                        or data.get("image_url") is not None
                    ):
                        continue
                    image = images[snap.id]
                    transaction.update(
                        snap.reference,
                        {
                            "image_url": image.url,
                            "image_path": image.path,
                            "image_token": image.token,
                        },
                    )
                    attached += 1
                return attached

            return self._transactions.run(self._db, run, "seed:images")

        return sum(attach(chunk) for chunk in chunks)


def _is_seeded(snap: firestore.DocumentSnapshot) -> bool:
    return (snap.to_dict() or {}).get(SEEDED) is True
