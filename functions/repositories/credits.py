"""Credits booked from outside the money path (welcome, grant, purchase and its take-back): one
ledger entry and the balance, in one transaction, at most once per entry id."""

from __future__ import annotations

from google.cloud import firestore
from google.cloud.firestore_v1.transaction import Transaction

from core.errors import NotFoundError
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
        entry_ref = user_ref.collection(TRANSACTIONS).document(entry.id)

        def run(tx: Transaction) -> Booked:
            user = to_model(user_ref.get(transaction=tx), UserRecord)
            if user is None:
                raise NotFoundError(
                    f"No account for uid {entry.user_id}", error="account_not_found"
                )
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

        return self._transactions.run(self._db, run, key=f"user:{entry.user_id}")
