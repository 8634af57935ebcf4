"""generation_requests and their ledger entries: every money-moving write.

Each public write is one atomic commit, so a request, its deduction or refund, the owner's
balance and the idempotency record always change together or not at all: reads, then one batch
guarded by the update time of what decided it (TransactionRunner.run_guarded, one round trip
fewer than a transaction), retried when that changed in between.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from datetime import datetime, timedelta
from typing import Any

import pydantic
from google.api_core import exceptions as gexc
from google.cloud import firestore
from google.cloud.firestore_v1.batch import WriteBatch
from google.cloud.firestore_v1.transaction import Transaction

from core.errors import (
    InsufficientCreditsError,
    NotFoundError,
    TooManyInFlightError,
    TooManyPendingWebhooksError,
)
from core.firestore_client import request_deadline
from core.webhook_signing import event_id
from repositories.firestore_helpers import (
    GENERATION_REQUESTS,
    TRANSACTIONS,
    USERS,
    TransactionRunner,
    to_model,
    unchanged_since,
)
from repositories.idempotency import IdempotencyStore
from repositories.webhooks import PENDING_WEBHOOKS
from schemas import ledger
from schemas.documents import (
    DELETED_REQUEST_CHANGES,
    IN_FLIGHT,
    OWNER_MISSING,
    GenerationOutcome,
    GenerationRecord,
    GenerationStatus,
    TransactionRecord,
    WebhookDelivery,
)
from schemas.store import QUARANTINED, IdempotencyClaim, MalformedRecord, Replay, StuckCandidate

CANCELLED_REASON = "Cancelled by the user"
DEADLINE_REASON = "Cancelled at its Cancel-After deadline"


class GenerationRepository:
    def __init__(self, db: firestore.Client, transactions: TransactionRunner) -> None:
        self._db = db
        self._transactions = transactions
        self.idempotency = IdempotencyStore(db)

    # --- reads ----------------------------------------------------------------------------
    def user_exists(self, user_id: str) -> bool:
        return bool(self._db.collection(USERS).document(user_id).get().exists)

    def get(self, request_id: str) -> GenerationRecord | None:
        return to_model(self._requests.document(request_id).get(), GenerationRecord)

    def list_for_user(self, user_id: str, limit: int) -> list[GenerationRecord]:
        query = (
            self._requests.where(filter=firestore.FieldFilter("user_id", "==", user_id))
            .order_by("created_at", direction=firestore.Query.DESCENDING)
            .limit(limit)
        )
        return [
            r
            for snap in query.stream(**request_deadline())
            if (r := to_model(snap, GenerationRecord))
        ]

    def queued_ahead(self, request_id: str, created_at: datetime, limit: int) -> int:
        """How many queued requests (every user's) come before this one in (created_at, id)
        order: one count aggregation that counts, and so reads, at most `limit` index entries."""
        query = queued_before(self._requests, request_id, created_at).limit(limit)
        # one row of one result (typed as a flat list of results, which it is not)
        rows: Any = query.count(alias="ahead").get(**request_deadline())
        return int(rows[0][0].value)

    def find_stuck(
        self, statuses: Collection[str], updated_before: datetime
    ) -> list[StuckCandidate]:
        query = self._requests.where(
            filter=firestore.FieldFilter("status", "in", list(statuses))
        ).where(filter=firestore.FieldFilter("updated_at", "<", updated_before))
        found = []
        for snap in query.select(["status", "updated_at"]).stream(**request_deadline()):
            updated_at = snap.get("updated_at")
            found.append(
                StuckCandidate(
                    snap.id,
                    str(snap.get("status")),
                    updated_at if isinstance(updated_at, datetime) else None,
                )
            )
        return found

    def find_past_deadline(self, statuses: Collection[str], now: datetime) -> list[str]:
        """Ids of requests in `statuses` whose Cancel-After deadline is not after `now`."""
        query = self._requests.where(
            filter=firestore.FieldFilter("status", "in", list(statuses))
        ).where(filter=firestore.FieldFilter("cancel_at", "<=", now))
        return [snap.id for snap in query.select(["status"]).stream(**request_deadline())]

    def quarantine(self, request_id: str, reason: str, now: datetime) -> bool:
        """Take an unsettleable request (its document does not validate) out of the in-flight
        states for an operator, giving back its owner's fair-use slot; no refund until someone
        decides. True when it was still in flight. Kept a transaction (rare; it reads the owner,
        and a guarded commit would need settle's NotFound fallback for an owner deleted between)."""

        def run(tx: Transaction) -> bool:
            ref = self._requests.document(request_id)
            data = ref.get(transaction=tx).to_dict() or {}
            if data.get("status") not in IN_FLIGHT:
                return False
            owner = data.get("user_id")
            if isinstance(owner, str) and owner:
                user_ref = self._db.collection(USERS).document(owner)
                if user_ref.get(transaction=tx).exists:
                    released = {"in_flight": firestore.Increment(-1)}
                    if data.get("webhook_url") is not None:  # its event will never be due
                        released[PENDING_WEBHOOKS] = firestore.Increment(-1)
                    tx.update(user_ref, released)
            tx.update(ref, {"status": QUARANTINED, "settle_problem": reason, "updated_at": now})
            return True

        return self._transaction(run, f"request:{request_id}")

    def charge_and_create(
        self,
        queued: GenerationRecord,
        clock: Callable[[], datetime],
        claim: IdempotencyClaim | None = None,
        *,
        max_in_flight: int,
        max_pending_webhooks: int,
        cancel_after: timedelta | None = None,
    ) -> GenerationRecord | Replay:
        """Charge `queued.credits_deducted` to its owner and store the request, or replay the
        answer stored for the claim's key. With `cancel_after`, the request's deadline
        (`cancel_at`) is that long after its stored creation time.

        One read (the user, with a claim also its key's record) and one commit guarded by the
        user's update time, retried when the user changed in between; the time is read inside
        each attempt, so stored times start at the winning attempt.
        At most `max_in_flight` of the user's requests are in flight: the user's `in_flight`
        counter is moved here and by `settle`, exactly once each. Likewise at most
        `max_pending_webhooks` webhook events are undelivered (`pending_webhooks`, moved here
        and when the delivery ends: repositories/webhooks.py).
        """

        user_ref = self._db.collection(USERS).document(queued.user_id)

        def attempt() -> GenerationRecord | Replay:
            now = clock()
            if claim is None:
                user, key_record = user_ref.get(), None
            else:  # the user and the key's record in one round trip
                user, key_record = self._transactions.read_all(
                    self._db, [user_ref, self.idempotency.ref(claim)]
                )
                replay = self.idempotency.check(key_record, claim, queued.user_id, now)
                if replay is not None:
                    return replay
            if not user.exists:
                raise NotFoundError(f"User not found: {queued.user_id}", error="user_not_found")
            user_data = user.to_dict() or {}
            if user_data.get("deleting_at") or user_data.get("deleted_at"):  # deleteAccount
                raise NotFoundError(
                    f"No account for uid {queued.user_id}: it was deleted",
                    error="account_not_found",
                )
            balance = int(user_data.get("current_credits") or 0)
            cost = queued.credits_deducted
            if balance < cost:
                raise InsufficientCreditsError(
                    f"Insufficient credits. Required: {cost}, Available: {balance}",
                    error="insufficient_credits",
                    extra={"requiredCredits": cost, "availableCredits": balance},
                )
            in_flight = max(int(user_data.get("in_flight") or 0), 0)
            if in_flight >= max_in_flight:
                raise TooManyInFlightError(
                    f"At most {max_in_flight} generation requests may be queued or processing "
                    "at once; retry when one has finished",
                    error="too_many_in_flight",
                    extra={"maxInFlight": max_in_flight},
                )
            changes: dict[str, Any] = {
                "current_credits": balance - cost,
                "in_flight": in_flight + 1,
            }
            if queued.webhook_url is not None:
                pending = max(int(user_data.get(PENDING_WEBHOOKS) or 0), 0)
                if pending >= max_pending_webhooks:
                    raise TooManyPendingWebhooksError(
                        f"At most {max_pending_webhooks} webhook events may be waiting for "
                        "delivery at once; retry when one has been delivered or given up",
                        error="too_many_pending_webhooks",
                        extra={"maxPendingWebhooks": max_pending_webhooks},
                    )
                changes[PENDING_WEBHOOKS] = pending + 1
            stamped: dict[str, Any] = {"created_at": now, "updated_at": now}
            if cancel_after is not None:
                stamped["cancel_at"] = now + cancel_after
            record = queued.model_copy(update=stamped)
            batch = self._db.batch()
            batch.update(
                user_ref, changes | {"updated_at": now}, option=unchanged_since(self._db, user)
            )
            batch.create(self._requests.document(record.id), record.document())
            self._book(batch, ledger.deduction(record, now))
            if claim is not None and key_record is not None:
                self.idempotency.claim(batch, key_record, claim, record.user_id, record.id, now)
            batch.commit()
            return record

        # A same-key charge that commits first makes the claim's create() fail: the next
        # attempt reads its record and answers as a replay.
        return self._transactions.run_guarded(
            attempt, f"user:{queued.user_id}", retry_exists=claim is not None
        )

    # --- worker and sweeper: guarded state transitions ---------------------------------------
    def start_processing(
        self, request_id: str, now: datetime, image_token: str
    ) -> GenerationRecord | None:
        """queued|processing -> processing (attempts + 1); None when missing or terminal.
        `image_token` is stored unless the request already has one (an earlier delivery's)."""

        ref = self._requests.document(request_id)

        def attempt() -> GenerationRecord | None:
            snap = ref.get()
            if (snap.to_dict() or {}).get("status") not in IN_FLIGHT:
                return None  # missing, terminal or quarantined: nothing to do
            record = _validated(snap)
            assert record is not None
            changes = {
                "status": GenerationStatus.PROCESSING.value,
                "attempts": record.attempts + 1,
                "updated_at": now,
                "image_token": record.image_token or image_token,
            }
            ref.update(changes, option=unchanged_since(self._db, snap))
            return record.model_copy(update=changes | {"status": GenerationStatus.PROCESSING})

        return self._transactions.run_guarded(attempt, f"request:{request_id}")

    def settle(
        self,
        request_id: str,
        outcome: GenerationOutcome,
        now: datetime,
        *,
        from_statuses: Collection[GenerationStatus],
        updated_before: datetime | None = None,
    ) -> GenerationRecord | None:
        """Finish a request exactly once: complete it, or fail or cancel it and refund its owner,
        releasing the owner's in-flight slot.

        Only while the request is in `from_statuses` (and, for the sweeper, untouched since
        `updated_before`); else None, nothing written. Without an owner document the request is
        still finished, marked `settle_problem: owner_missing`. MalformedRecord when the stored
        request does not validate.
        """
        try:
            return self._settle(request_id, outcome, now, from_statuses, updated_before, True)
        except gexc.NotFound:
            # The blind update of the owner's document failed: the owner no longer exists.
            if self._owner_exists(request_id):
                raise
            return self._settle(request_id, outcome, now, from_statuses, updated_before, False)

    def _settle(
        self,
        request_id: str,
        outcome: GenerationOutcome,
        now: datetime,
        from_statuses: Collection[GenerationStatus],
        updated_before: datetime | None,
        owner_exists: bool,
    ) -> GenerationRecord | None:
        ref = self._requests.document(request_id)

        def attempt() -> GenerationRecord | None:
            snap = ref.get()
            record = _validated(snap)
            if record is None or record.status not in from_statuses:
                return None
            if updated_before is not None and record.updated_at >= updated_before:
                return None
            # The owner's document is written blind (increments), not read or guarded: its
            # concurrent charges need not make a settle retry.
            refund = None
            user_ref = self._db.collection(USERS).document(record.user_id)
            changes: dict[str, Any] = {"updated_at": now, "completed_at": now}
            user_changes: dict[str, Any] = {"in_flight": firestore.Increment(-1)}
            if outcome.succeeded:
                changes |= {
                    "status": GenerationStatus.COMPLETED.value,
                    "image_url": outcome.image_url,
                    "image_path": outcome.image_path,
                    "error_message": None,
                }
                user_changes["total_images_generated"] = firestore.Increment(1)
            else:  # failed or cancelled: refunded
                changes |= {
                    "status": outcome.status.value,
                    "image_url": None,
                    "error_message": outcome.error_message,
                }
                if outcome.cancelled:
                    changes["cancel_reason"] = outcome.cancel_reason or "user"
                if owner_exists:
                    # create() fails the commit if the refund already exists: a second refund
                    # of the same request is impossible by construction, on top of the guard.
                    reason = _refund_reason(outcome)
                    refund = ledger.refund(record, reason or "", now)
                    user_changes |= {
                        "current_credits": firestore.Increment(record.credits_deducted),
                        "updated_at": now,
                    }
            if not owner_exists:
                changes["settle_problem"] = OWNER_MISSING
            delivery = None
            if record.webhook_url is not None:
                # The request's one webhook event, due from this commit on: settling happens
                # once, so there is exactly one event per request, whoever settles it.
                delivery = WebhookDelivery(
                    state="pending", event_id=event_id(record.id), updated_at=now
                )
                changes["webhook"] = delivery.model_dump()
            batch = self._db.batch()  # the guarded write first: a lost race fails on it
            batch.update(ref, changes, option=unchanged_since(self._db, snap))
            if refund is not None:
                self._book(batch, refund)
            if owner_exists:
                batch.update(user_ref, user_changes)
            batch.commit()
            return record.model_copy(
                update=changes
                | {"status": GenerationStatus(changes["status"]), "webhook": delivery}
            )

        return self._transactions.run_guarded(attempt, f"request:{request_id}")

    # --- deleteGenerationRequest -----------------------------------------------------------
    def mark_deleted(self, request_id: str, now: datetime) -> GenerationRecord | None:
        """Remove a terminal request's prompt and picture fields and mark it `deleted`, once
        (a deleted one is answered as it is); the record and its ledger entries stay. Answers
        the request as it was before this call (its picture's path included), None when it is
        missing; a request still in flight is answered unchanged."""

        ref = self._requests.document(request_id)

        def attempt() -> GenerationRecord | None:
            snap = ref.get()
            record = _validated(snap)
            if record is None or not record.status.is_terminal or record.deleted:
                return record
            changes = DELETED_REQUEST_CHANGES | {"deleted_at": now, "updated_at": now}
            ref.update(changes, option=unchanged_since(self._db, snap))
            return record

        return self._transactions.run_guarded(attempt, f"request:{request_id}")

    def _owner_exists(self, request_id: str) -> bool:
        snap = self._requests.document(request_id).get()
        owner = (snap.to_dict() or {}).get("user_id") if snap.exists else None
        if not isinstance(owner, str) or not owner:
            return True  # nothing to conclude: let the original error stand
        return bool(self._db.collection(USERS).document(owner).get().exists)

    def _book(self, batch: WriteBatch, entry: TransactionRecord) -> None:
        """Create a ledger entry (create(): an entry with the same id makes the commit fail)."""
        user_ref = self._db.collection(USERS).document(entry.user_id)
        batch.create(user_ref.collection(TRANSACTIONS).document(entry.id), entry.document())

    def _transaction[T](self, body: Callable[[Transaction], T], key: str) -> T:
        return self._transactions.run(self._db, body, key)

    @property
    def _requests(self) -> firestore.CollectionReference:
        return self._db.collection(GENERATION_REQUESTS)


def _refund_reason(outcome: GenerationOutcome) -> str:
    if not outcome.cancelled:
        return outcome.error_message or ""
    return DEADLINE_REASON if outcome.cancel_reason == "deadline" else CANCELLED_REASON


def queued_before(
    requests: firestore.CollectionReference, request_id: str, created_at: datetime
) -> firestore.Query:
    """The queued requests ordered before `request_id` (created at `created_at`): by creation
    time, ties broken by document id, so that requests created in the same microsecond still
    get distinct positions. Served by the (status, created_at) index of firestore.indexes.json."""
    return (
        requests.where(filter=firestore.FieldFilter("status", "==", GenerationStatus.QUEUED.value))
        .order_by("created_at")
        .order_by("__name__")
        .end_before({"created_at": created_at, "__name__": request_id})
    )


def _validated(snapshot: Any) -> GenerationRecord | None:
    try:
        return to_model(snapshot, GenerationRecord)
    except pydantic.ValidationError as error:
        fields = sorted({".".join(str(p) for p in e["loc"]) for e in error.errors()})
        raise MalformedRecord(f"malformed record: {', '.join(fields)}") from None
