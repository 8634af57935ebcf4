"""Credits booked from outside the money path (welcome, grant, purchase and its take-back): one
ledger entry and the balance, in one atomic commit, at most once per entry id."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from google.cloud import firestore
from google.cloud.firestore_v1.base_document import DocumentSnapshot
from google.cloud.firestore_v1.base_query import FieldFilter
from google.cloud.firestore_v1.batch import WriteBatch
from google.cloud.firestore_v1.document import DocumentReference
from google.cloud.firestore_v1.transaction import Transaction

from core.errors import NotFoundError
from core.firestore_client import request_deadline
from repositories.firestore_helpers import (
    TRANSACTIONS,
    USERS,
    TransactionRunner,
    to_model,
    unchanged_since,
)
from schemas import ledger
from schemas.documents import CREDITS_IN, GrantRecord, TransactionRecord, UserRecord
from schemas.store import Booked, GrantBooking

# grants/{grantId}: every operator grant's terms, so a grantId is used once across all users.
GRANTS = "grants"


class CreditRepository:
    def __init__(self, db: firestore.Client, transactions: TransactionRunner) -> None:
        self._db = db
        self._transactions = transactions

    def book(self, entry: TransactionRecord) -> Booked:
        """Books `entry` on its owner's ledger unless an entry with its id exists.

        A debit never takes the balance below zero: it takes what there is and records the rest
        as `shortfall`. 404 `account_not_found` when the owner has no account. One read (user
        and entry) and one commit guarded by the user's update time, retried on a lost race.
        """
        user_ref = self._db.collection(USERS).document(entry.user_id)
        entry_ref = user_ref.collection(TRANSACTIONS).document(entry.id)

        def attempt() -> Booked:
            user, stored = self._transactions.read_all(self._db, [user_ref, entry_ref])
            batch = self._db.batch()
            guard = unchanged_since(self._db, user)
            booked = _book(batch, user_ref, _owner(user_ref, user), stored, entry, guard)
            if booked.created:
                batch.commit()
            return booked

        return self._transactions.run_guarded(attempt, f"user:{entry.user_id}", retry_exists=True)

    def find_purchase(self, payment_intent: str) -> TransactionRecord | None:
        """The purchase paid by Stripe PaymentIntent `payment_intent`, on whichever ledger
        (a collection-group query; its index is in firestore.indexes.json)."""
        query = (
            self._db.collection_group(TRANSACTIONS)
            .where(filter=FieldFilter("payment_intent", "==", payment_intent))
            .limit(5)
        )
        for snap in query.stream(**request_deadline()):
            record = to_model(snap, TransactionRecord)
            if record is not None and record.type == "purchase":
                return record
        return None

    def take_back(
        self, bought: TransactionRecord, plan: Callable[[int, int], TransactionRecord | None]
    ) -> Booked | None:
        """In one transaction: what the take-backs of purchase `bought` took so far (credits
        with shortfalls, and money), `plan(taken, refunded)` -> the take-back to book now (None:
        nothing), booked as `book` does. None when nothing was booked."""
        user_ref = self._db.collection(USERS).document(bought.user_id)
        earlier = user_ref.collection(TRANSACTIONS).where(
            filter=FieldFilter("session_id", "==", bought.session_id)
        )

        def run(tx: Transaction) -> Booked | None:
            owner = _owner(user_ref, user_ref.get(transaction=tx))
            taken = refunded = 0
            for snap in earlier.stream(transaction=tx):
                record = to_model(snap, TransactionRecord)
                if record is not None and record.type == "purchase_refund":
                    taken += record.credits + (record.shortfall or 0)
                    refunded += record.amount or 0
            entry = plan(taken, refunded)
            if entry is None:
                return None
            stored = user_ref.collection(TRANSACTIONS).document(entry.id).get(transaction=tx)
            return _book(tx, user_ref, owner, stored, entry)

        # A transaction: its query of the earlier take-backs cannot be guarded by a precondition.
        return self._transactions.run(self._db, run, key=f"user:{bought.user_id}")

    def book_grant(self, grant: GrantRecord) -> GrantBooking:
        """Claims `grants/{grantId}` and books the grant's entry and balance, in one atomic commit.

        A grantId used before books nothing and returns the stored grant (compared by the
        caller). 404 `account_not_found` when the user has no account; nothing written.
        """
        grant_ref = self._db.collection(GRANTS).document(grant.id)
        entry = ledger.grant(grant)
        user_ref = self._db.collection(USERS).document(entry.user_id)
        entry_ref = user_ref.collection(TRANSACTIONS).document(entry.id)

        def attempt() -> GrantBooking:
            claimed, user, stored_entry = self._transactions.read_all(
                self._db, [grant_ref, user_ref, entry_ref]
            )
            stored = to_model(claimed, GrantRecord)
            if stored is not None:
                if stored.user_id != user_ref.id:  # the grantId was used for another user
                    user = self._db.collection(USERS).document(stored.user_id).get()
                owner = to_model(user, UserRecord)
                balance = owner.current_credits if owner is not None else 0
                return GrantBooking(stored, created=False, balance=balance)
            batch = self._db.batch()
            owner = _owner(user_ref, user)
            guard = unchanged_since(self._db, user)
            booked = _book(batch, user_ref, owner, stored_entry, entry, guard)
            batch.create(grant_ref, grant.document())
            batch.commit()
            return GrantBooking(grant, created=True, balance=booked.balance)

        # Same-grantId calls contend on the grants document, whichever user they name; a
        # create() that loses the race runs again and finds the stored grant.
        return self._transactions.run_guarded(attempt, f"grant:{grant.id}", retry_exists=True)


def _owner(user_ref: DocumentReference, snapshot: DocumentSnapshot) -> UserRecord:
    user = to_model(snapshot, UserRecord)
    if user is None:
        raise NotFoundError(f"No account for uid {user_ref.id}", error="account_not_found")
    return user


def _book(
    writes: WriteBatch,
    user_ref: DocumentReference,
    user: UserRecord,
    stored_entry: DocumentSnapshot,
    entry: TransactionRecord,
    guard: Any = None,
) -> Booked:
    """Books `entry` in `writes` unless `stored_entry` exists; `guard` is the balance update's
    write option (a precondition on the user's update time)."""
    stored = to_model(stored_entry, TransactionRecord)
    if stored is not None:
        return Booked(stored, created=False, balance=user.current_credits)
    booked = entry
    if entry.type not in CREDITS_IN and entry.credits > user.current_credits:
        booked = entry.model_copy(
            update={
                "credits": user.current_credits,
                "shortfall": entry.credits - user.current_credits,
            }
        )
    balance = user.current_credits + booked.signed_credits
    writes.update(user_ref, {"current_credits": balance}, option=guard)
    writes.create(user_ref.collection(TRANSACTIONS).document(entry.id), booked.document())
    return Booked(booked, created=True, balance=balance)
