"""Idempotency-Key for createGenerationRequest: claim, request hash, replay and expiry.

A key's record, `idempotency_keys/{sha256(user, key)}`, is read with the user and written in the
charging commit, so a request and its claim commit together. It holds the accepted answer
(202), marked `done` once the task is enqueued; if enqueueing fails and the charge is refunded,
the failure answer (503) replaces it for the key's lifetime, so a retry never charges again.
Keys expire after KEY_TTL (reads treat expired as absent; a TTL policy on `expires_at`
deletes them).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from google.cloud import firestore
from google.cloud.firestore_v1.base_document import DocumentSnapshot
from google.cloud.firestore_v1.batch import WriteBatch

from core.errors import IdempotencyInFlightError, IdempotencyMismatchError
from repositories.firestore_helpers import IDEMPOTENCY_KEYS, unchanged_since
from schemas.store import IdempotencyClaim, Replay

KEY_TTL = timedelta(hours=24)
# A record still in flight this long after its commit belongs to an invocation that died
# between commit and enqueue; replaying its accepted answer beats answering 409 for a day.
IN_FLIGHT_GRACE = timedelta(seconds=30)


class IdempotencyStore:
    def __init__(self, db: firestore.Client) -> None:
        self._db = db

    def check(
        self, snap: DocumentSnapshot, claim: IdempotencyClaim, user_id: str, now: datetime
    ) -> Replay | None:
        """Given the key's record as the charge read it (`ref`): the answer to replay, None for
        a new (or expired) key; 422 for the key with another body, 409 while its first request
        is in flight."""
        if not snap.exists:
            return None
        data = snap.to_dict() or {}
        expires_at = data.get("expires_at")
        if expires_at is not None and expires_at <= now:
            return None  # expired but not yet removed by the TTL policy: treat as new
        if data.get("request_hash") != claim.request_hash or data.get("user_id") != user_id:
            raise IdempotencyMismatchError()
        if data.get("state") == "failed":
            failure = data["failure"]
            return Replay(int(failure["status_code"]), dict(failure["response"]))
        created_at = data.get("created_at") or now
        if data.get("state") != "done" and now - created_at < IN_FLIGHT_GRACE:
            raise IdempotencyInFlightError(
                extra={"generationRequestId": data.get("generation_request_id")}
            )
        return Replay(202, dict(data["accepted"]))

    def claim(
        self,
        batch: WriteBatch,
        read: DocumentSnapshot,
        claim: IdempotencyClaim,
        user_id: str,
        generation_request_id: str,
        now: datetime,
    ) -> None:
        """In the charging commit: record the key with its accepted answer. create() a new key
        (fails if a same-key charge committed first); an expired record (`read`) is replaced
        unless written since."""
        record: dict[str, Any] = {
            "user_id": user_id,
            "key": claim.key,
            "request_hash": claim.request_hash,
            "state": "in_flight",
            "generation_request_id": generation_request_id,
            "accepted": claim.accepted,
            "created_at": now,
            "expires_at": now + KEY_TTL,
        }
        if not read.exists:
            batch.create(self.ref(claim), record)
            return
        replaced = record | {"failure": firestore.DELETE_FIELD}
        batch.update(self.ref(claim), replaced, option=unchanged_since(self._db, read))

    def done(self, claim: IdempotencyClaim) -> None:
        """The task is enqueued: the accepted answer stands."""
        self.ref(claim).update({"state": "done"})

    def failed(self, claim: IdempotencyClaim, status_code: int, response: dict[str, Any]) -> None:
        """Enqueueing failed and the charge was refunded: this answer is the key's for good."""
        self.ref(claim).update(
            {"state": "failed", "failure": {"status_code": status_code, "response": response}}
        )

    def ref(self, claim: IdempotencyClaim) -> firestore.DocumentReference:
        return self._db.collection(IDEMPOTENCY_KEYS).document(claim.doc_id)
