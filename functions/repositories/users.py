"""users and their credit transaction history."""

from __future__ import annotations

from google.cloud import firestore

from core.errors import ValidationError
from core.firestore_client import request_deadline
from repositories.firestore_helpers import TRANSACTIONS, USERS, to_model
from schemas.documents import TransactionRecord, UserRecord


class UserRepository:
    def __init__(self, db: firestore.Client) -> None:
        self._db = db

    def get(self, user_id: str) -> UserRecord | None:
        """The account, or None when it does not exist or is being (or was) deleted."""
        user = to_model(self._db.collection(USERS).document(user_id).get(), UserRecord)
        return None if user is None or user.closed else user

    def list_all(self, limit: int = 500) -> list[UserRecord]:
        query = self._db.collection(USERS).order_by("__name__").limit(limit)
        return [
            u for snap in query.stream(**request_deadline()) if (u := to_model(snap, UserRecord))
        ]

    def transactions_page(
        self, user_id: str, limit: int, cursor: str | None
    ) -> tuple[list[TransactionRecord], str | None]:
        """Newest first. The cursor is the id of the last transaction of the previous page."""
        history = self._db.collection(USERS).document(user_id).collection(TRANSACTIONS)
        query = history.order_by("timestamp", direction=firestore.Query.DESCENDING).order_by(
            "__name__", direction=firestore.Query.DESCENDING
        )
        if cursor:
            anchor = history.document(cursor).get()
            if not anchor.exists:
                raise ValidationError("Invalid cursor", error="invalid_cursor", details=None)
            query = query.start_after(anchor)
        snaps = list(query.limit(limit + 1).stream(**request_deadline()))
        page = [t for snap in snaps[:limit] if (t := to_model(snap, TransactionRecord))]
        next_cursor = page[-1].id if len(snaps) > limit and page else None
        return page, next_cursor
