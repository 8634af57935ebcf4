"""createAccount's one atomic commit: `users/{uid}` made at most once, the welcome entry booked
at most once, both under the user's key."""

from __future__ import annotations

from typing import Any

from google.cloud import firestore

from repositories.firestore_helpers import (
    TRANSACTIONS,
    USERS,
    TransactionRunner,
    to_model,
    unchanged_since,
)
from schemas.documents import TransactionRecord, UserRecord
from schemas.ledger import welcome_id
from schemas.store import OpenedAccount


class AccountRepository:
    def __init__(self, db: firestore.Client, transactions: TransactionRunner) -> None:
        self._db = db
        self._transactions = transactions

    def open(self, new_user: UserRecord, welcome: TransactionRecord | None) -> OpenedAccount:
        """Creates `new_user` unless its document exists, then books `welcome` (if given) when
        the stored user is `welcome_due` and has no welcome entry yet, clearing the flag.

        Both documents are read first (one round trip) and written with create() (an existing
        user: an update guarded by its update time) in one commit, so concurrent calls make one
        account and one entry; a write that loses a race is run again and finds them.
        """
        user_ref = self._db.collection(USERS).document(new_user.id)
        entry_ref = user_ref.collection(TRANSACTIONS).document(welcome_id(new_user.id))

        def attempt() -> OpenedAccount:
            user_snap, entry = self._transactions.read_all(self._db, [user_ref, entry_ref])
            user = to_model(user_snap, UserRecord)
            entry_exists = entry.exists
            batch = self._db.batch()
            created = user is None
            if user is None:
                user = new_user
            grant = welcome is not None and user.welcome_due and not entry_exists
            grant = grant and not user.closed  # a deleted account gets nothing
            changes: dict[str, Any] = {}
            if welcome is not None and grant:
                changes = {
                    "current_credits": user.current_credits + welcome.credits,
                    "welcome_due": False,
                }
                batch.create(entry_ref, welcome.document())
                user = user.model_copy(update=changes)
                changes["updated_at"] = welcome.timestamp
            if created:
                batch.create(user_ref, user.document() | {"updated_at": user.created_at})
            elif changes:
                batch.update(user_ref, changes, option=unchanged_since(self._db, user_snap))
            if len(batch) > 0:
                batch.commit()
            return OpenedAccount(user, created=created, welcome_granted=grant or entry_exists)

        return self._transactions.run_guarded(attempt, f"user:{new_user.id}", retry_exists=True)
