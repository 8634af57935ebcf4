"""Bulk writes for seeding: replace whole collections, clear generated history."""

from __future__ import annotations

from typing import Any

from google.cloud import firestore

from repositories.firestore_helpers import (
    GENERATION_REQUESTS,
    IDEMPOTENCY_KEYS,
    TRANSACTIONS,
    USERS,
)


class SeedRepository:
    def __init__(self, db: firestore.Client) -> None:
        self._db = db

    def clear_history(self) -> None:
        """Delete requests, every user's transactions and idempotency records."""
        self._delete_query(self._db.collection(GENERATION_REQUESTS))
        self._delete_query(self._db.collection_group(TRANSACTIONS))
        self._delete_query(self._db.collection(IDEMPOTENCY_KEYS))

    def replace_collection(self, collection: str, documents: dict[str, dict[str, Any]]) -> None:
        """Make `collection` hold exactly `documents` (ids -> data)."""
        ref = self._db.collection(collection)
        writer = self._db.bulk_writer()
        for snap in ref.select([]).stream():
            if snap.id not in documents:
                if collection == USERS:
                    self._delete_query(snap.reference.collection(TRANSACTIONS))
                writer.delete(snap.reference)
        for doc_id, data in documents.items():
            writer.set(ref.document(doc_id), data)
        writer.close()

    def write(self, collection: str, documents: dict[str, dict[str, Any]]) -> None:
        writer = self._db.bulk_writer()
        for doc_id, data in documents.items():
            writer.set(self._db.collection(collection).document(doc_id), data)
        writer.close()

    def write_transactions(self, ledgers: dict[str, dict[str, dict[str, Any]]]) -> None:
        """Write `users/{userId}/transactions/{txId}` documents (user id -> tx id -> data)."""
        writer = self._db.bulk_writer()
        for user_id, documents in ledgers.items():
            history = self._db.collection(USERS).document(user_id).collection(TRANSACTIONS)
            for tx_id, data in documents.items():
                writer.set(history.document(tx_id), data)
        writer.close()

    def _delete_query(self, query: firestore.Query | firestore.CollectionReference) -> None:
        writer = self._db.bulk_writer()
        for snap in query.select([]).stream():
            writer.delete(snap.reference)
        writer.close()
