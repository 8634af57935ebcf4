"""Credits booked from outside the money path (welcome, grant, purchase and its take-back): one
ledger entry and the balance, in one transaction, at most once per entry id."""

from __future__ import annotations

from collections.abc import Callable

from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter
from google.cloud.firestore_v1.document import DocumentReference
from google.cloud.firestore_v1.transaction import Transaction

from core.errors import NotFoundError
from core.firestore_client import request_deadline
from repositories.firestore_helpers import TRANSACTIONS, USERS, TransactionRunner, to_model
from schemas.documents import CREDITS_IN, TransactionRecord, UserRecord
from schemas.store import Booked


class CreditRepository:
    def __init__(self, db: firestore.Client, transactions: TransactionRunner) -> None:
        self._db = db
        self._transactions = transactions

    def book(self, entry: TransactionRecord) -> Booked:
        """Books `entry` on its owner's ledger unless an entry with its id exists.

        A debit never takes the balance below zero: it takes what there is and records the rest
        as `shortfall`. 404 `account_not_found` when the owner has no account.
        """
        user_ref = self._db.collection(USERS).document(entry.user_id)

        def run(tx: Transaction) -> Booked:
            return _book(tx, user_ref, _owner(tx, user_ref), entry)

        return self._transactions.run(self._db, run, key=f"user:{entry.user_id}")

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
        self, bought: TransactionRecord, plan: Callable[[int], TransactionRecord | None]
    ) -> Booked | None:
        """In one transaction: what the take-backs of purchase `bought` took so far (credits and
        shortfalls), `plan(taken)` -> the take-back to book now (None: nothing), booked as
        `book` does. None when nothing was booked."""
        user_ref = self._db.collection(USERS).document(bought.user_id)
        earlier = user_ref.collection(TRANSACTIONS).where(
            filter=FieldFilter("session_id", "==", bought.session_id)
        )

        def run(tx: Transaction) -> Booked | None:
            owner = _owner(tx, user_ref)
            taken = sum(
                record.credits + (record.shortfall or 0)
                for snap in earlier.stream(transaction=tx)
                if (record := to_model(snap, TransactionRecord)) is not None
                and record.type == "purchase_refund"
            )
            entry = plan(taken)
            return None if entry is None else _book(tx, user_ref, owner, entry)

        return self._transactions.run(self._db, run, key=f"user:{bought.user_id}")


def _owner(tx: Transaction, user_ref: DocumentReference) -> UserRecord:
    user = to_model(user_ref.get(transaction=tx), UserRecord)
    if user is None:
        raise NotFoundError(f"No account for uid {user_ref.id}", error="account_not_found")
    return user


def _book(
    tx: Transaction, user_ref: DocumentReference, user: UserRecord, entry: TransactionRecord
) -> Booked:
    entry_ref = user_ref.collection(TRANSACTIONS).document(entry.id)
    stored = to_model(entry_ref.get(transaction=tx), TransactionRecord)
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
    tx.update(user_ref, {"current_credits": balance})
    tx.create(entry_ref, booked.document())
    return Booked(booked, created=True, balance=balance)
