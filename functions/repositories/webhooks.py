"""Webhook signing secrets (`webhook_secrets/{uid}`) and the delivery state of each request's
event (the `webhook` map of `generation_requests/{id}`, set `pending` by the settle), with its
owner's count of undelivered events (`users/{uid}.pending_webhooks`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from google.api_core import exceptions as gexc
from google.cloud import firestore
from google.cloud.firestore_v1.transaction import Transaction

from core.firestore_client import request_deadline
from repositories.firestore_helpers import GENERATION_REQUESTS, USERS, TransactionRunner
from schemas.documents import WebhookDelivery, WebhookState
from schemas.store import StaleDelivery

# One document per user, named by its uid; no client may read it (firestore.rules).
WEBHOOK_SECRETS = "webhook_secrets"
# On the user document: its requests with a webhookUrl whose event is not delivered, stopped or
# given up yet. +1 by the charge, -1 by the attempt that ends the delivery.
PENDING_WEBHOOKS = "pending_webhooks"


class WebhookSecretRepository:
    def __init__(self, db: firestore.Client) -> None:
        self._db = db

    def get(self, user_id: str) -> str | None:
        snap = self._ref(user_id).get(**request_deadline())
        secret = (snap.to_dict() or {}).get("secret") if snap.exists else None
        return secret if isinstance(secret, str) else None

    def create(self, user_id: str, secret: str, now: datetime) -> str:
        """Store `secret` unless the user has one already; the secret that is stored. create()
        fails when the document exists, so two first calls at once agree on one secret."""
        try:
            self._ref(user_id).create({"secret": secret, "created_at": now, "rotated_at": None})
        except gexc.AlreadyExists:
            existing = self.get(user_id)
            if existing is None:
                raise
            return existing
        return secret

    def replace(self, user_id: str, secret: str, now: datetime) -> None:
        self._ref(user_id).set({"secret": secret, "created_at": now, "rotated_at": now})

    def _ref(self, user_id: str) -> firestore.DocumentReference:
        return self._db.collection(WEBHOOK_SECRETS).document(user_id)


class WebhookDeliveryRepository:
    def __init__(self, db: firestore.Client, transactions: TransactionRunner) -> None:
        self._db = db
        self._transactions = transactions

    def record_attempt(
        self,
        request_id: str,
        now: datetime,
        *,
        state: WebhookState,
        status_code: int | None,
        error: str | None,
    ) -> WebhookDelivery | None:
        """Count one attempt and its outcome, and move the delivery to `state`; only while it
        is still `pending` (None otherwise, and nothing is written: another attempt finished
        it). One small transaction on the request document, never the money path's; the one
        that ends the delivery also gives its owner's webhook slot back, so exactly once."""
        try:
            return self._record_attempt(request_id, now, state, status_code, error, True)
        except gexc.NotFound:
            # The blind update of the owner's document failed: the owner no longer exists.
            if self._owner_exists(request_id):
                raise
            return self._record_attempt(request_id, now, state, status_code, error, False)

    def _record_attempt(
        self,
        request_id: str,
        now: datetime,
        state: WebhookState,
        status_code: int | None,
        error: str | None,
        owner_exists: bool,
    ) -> WebhookDelivery | None:
        def run(tx: Transaction) -> WebhookDelivery | None:
            ref = self._requests.document(request_id)
            data = ref.get(transaction=tx).to_dict() or {}
            current = _delivery(data.get("webhook"))
            if current is None or current.state != "pending":
                return None
            updated = current.model_copy(
                update={
                    "state": state,
                    "attempts": current.attempts + 1,
                    "last_status_code": status_code,
                    "last_error": error,
                    "updated_at": now,
                }
            )
            tx.update(ref, {"webhook": updated.model_dump()})
            owner = data.get("user_id")
            if state != "pending" and owner_exists and isinstance(owner, str) and owner:
                # Written blind, as the settle does: no read lock against the owner's charges.
                user_ref = self._db.collection(USERS).document(owner)
                tx.update(user_ref, {PENDING_WEBHOOKS: firestore.Increment(-1)})
            return updated

        return self._transactions.run(self._db, run, f"request:{request_id}")

    def _owner_exists(self, request_id: str) -> bool:
        snap = self._requests.document(request_id).get(**request_deadline())
        owner = (snap.to_dict() or {}).get("user_id") if snap.exists else None
        if not isinstance(owner, str) or not owner:
            return True  # nothing to conclude: let the original error stand
        return bool(self._db.collection(USERS).document(owner).get(**request_deadline()).exists)

    def find_stale(self, updated_before: datetime) -> list[StaleDelivery]:
        """Pending deliveries whose record has not changed since `updated_before`."""
        query = self._requests.where(
            filter=firestore.FieldFilter("webhook.state", "==", "pending")
        ).where(filter=firestore.FieldFilter("webhook.updated_at", "<", updated_before))
        found = []
        for snap in query.select(["webhook"]).stream(**request_deadline()):
            delivery = _delivery(snap.get("webhook"))
            if delivery is not None:
                found.append(StaleDelivery(snap.id, delivery.attempts, delivery.updated_at))
        return found

    @property
    def _requests(self) -> firestore.CollectionReference:
        return self._db.collection(GENERATION_REQUESTS)


def _delivery(value: Any) -> WebhookDelivery | None:
    if not isinstance(value, dict):
        return None
    return WebhookDelivery.model_validate(value)
