"""Creating generation requests, reading their status, and cancelling them."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any, NamedTuple

from core.errors import (
    ConfigurationError,
    DeleteInFlightError,
    FieldError,
    NotCancellableError,
    NotFoundError,
    QueueFailureError,
    ValidationError,
)
from core.logging import log_exception
from schemas.documents import (
    IN_FLIGHT,
    CancelReason,
    GenerationOutcome,
    GenerationRecord,
    GenerationStatus,
)
from schemas.responses import (
    QUEUE_POSITION_CAP,
    CreateGenerationResponse,
    queue_position_body,
    retention_body,
)
from schemas.store import IdempotencyClaim, Replay
from services.image_paths import image_path

if TYPE_CHECKING:
    from core.clock import Clock
    from schemas.requests import CreateGenerationRequest
    from services.catalog_service import CatalogService
    from services.ports import GenerationQueue, GenerationStore, ImageStore
    from services.webhook_service import WebhookNotifier

QUEUE_FAILURE_MESSAGE = "Failed to queue generation task"
# `Prefer: wait` polls after 50 ms, then twice as long each time, up to once a second.
WAIT_FIRST_POLL_SECONDS = 0.05
WAIT_MAX_POLL_SECONDS = 1.0


class CreateResult(NamedTuple):
    status_code: int
    body: dict[str, Any]


class GenerationService:
    def __init__(
        self,
        catalog: CatalogService,
        generations: GenerationStore,
        queue: GenerationQueue,
        clock: Clock,
        max_in_flight: int,
        max_pending_webhooks: int = 20,
        new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        webhooks: WebhookNotifier | None = None,
        images: Callable[[], ImageStore] | None = None,
        retention: timedelta = timedelta(days=30),
        queue_position_cap: int = QUEUE_POSITION_CAP,
    ) -> None:
        self._catalog = catalog
        self._generations = generations
        self._queue = queue
        self._clock = clock
        self._new_id = new_id
        self._max_in_flight = max_in_flight
        self._max_pending_webhooks = max_pending_webhooks
        self._sleep = sleep
        self._monotonic = monotonic
        self._webhooks = webhooks  # schedules a settled request's webhook event
        self._images = images  # opened on first use: only deleteGenerationRequest needs it
        self._retention = retention  # how long a picture is kept after completion
        self._queue_position_cap = queue_position_cap

    def create(
        self,
        request: CreateGenerationRequest,
        idempotency_key: str | None,
        cancel_after: timedelta | None = None,
    ) -> CreateResult:
        """Charge, record and enqueue. Checks in order: user (404), catalog ids (400), balance
        (402), fair-use cap (429), with a webhookUrl the undelivered-events cap (429); the user
        is read once, by the charge. `cancel_after` (Cancel-After) sets the
        request's deadline from its stored creation time; it is part of what an
        Idempotency-Key identifies, and a replay keeps the first deadline."""
        cost = self._cost(request)
        now = self._clock.now()
        queued = GenerationRecord(
            id=self._new_id(),
            user_id=request.userId,
            **request.model_dump(exclude={"userId", "webhookUrl"}),
            webhook_url=request.webhookUrl,
            status=GenerationStatus.QUEUED,
            credits_deducted=cost,
            created_at=now,  # stamped again with the committing attempt's time
            updated_at=now,
        )
        accepted = CreateGenerationResponse(generationRequestId=queued.id, deductedCredits=cost)
        claim = None
        if idempotency_key is not None:
            identity = request.model_dump(exclude_none=True)
            if cancel_after is not None:  # absent without the header: earlier hashes still hold
                identity["Cancel-After"] = int(cancel_after.total_seconds())
            claim = IdempotencyClaim.for_request(
                # without unset optional fields: a body's hash does not change when one is added
                request.userId,
                idempotency_key,
                identity,
                accepted.model_dump(),
            )
        created = self._generations.charge_and_create(
            queued,
            self._clock.now,
            claim,
            max_in_flight=self._max_in_flight,
            max_pending_webhooks=self._max_pending_webhooks,
            cancel_after=cancel_after,
        )
        if isinstance(created, Replay):
            return CreateResult(created.status_code, created.response)
        try:
            self._enqueue_or_refund(created.id)
        except QueueFailureError as failure:
            if claim is not None:
                self._generations.idempotency.failed(claim, failure.status, failure.envelope())
            raise
        if claim is not None:
            self._generations.idempotency.done(claim)
        return CreateResult(202, accepted.model_dump())

    def _cost(self, request: CreateGenerationRequest) -> int:
        """The size's cost, or 400 naming each unknown or inactive id (404 first: unknown user)."""
        catalog = self._catalog.catalog()
        active = {
            "style": {s.id for s in catalog.styles},
            "color": {c.id for c in catalog.colors},
            "size": {s.id for s in catalog.sizes},
        }
        details = [
            FieldError(field, f"Unknown or inactive {field}: {value!r}")
            for field, value in (
                ("style", request.style),
                ("color", request.color),
                ("size", request.size),
            )
            if value not in active[field]
        ]
        if details:
            if not self._generations.user_exists(request.userId):
                raise NotFoundError(f"User not found: {request.userId}", error="user_not_found")
            raise ValidationError(
                "Invalid style, color or size", error="invalid_catalog_value", details=details
            )
        return next(s.credit_cost for s in catalog.sizes if s.id == request.size)

    def _enqueue_or_refund(self, request_id: str) -> None:
        try:
            self._queue.enqueue(request_id)
            return
        except Exception as exc:  # any queue failure: refund, then answer 503
            log_exception("enqueue failed", exc, generationRequestId=request_id)
        refunded = self._generations.settle(
            request_id,
            GenerationOutcome(error_message=QUEUE_FAILURE_MESSAGE),
            self._clock.now(),
            from_statuses={GenerationStatus.QUEUED},
        )
        if refunded is None:
            return  # the task did reach the worker after all: the request is under way
        self._settled(refunded)
        raise QueueFailureError(extra={"generationRequestId": request_id, "refunded": True})

    def get(
        self, request_id: str, visible: Callable[[str], bool] = lambda owner: True
    ) -> GenerationRecord:
        """The request, or 404 when it is unknown or `visible(owner)` says the caller may not
        see it (the same answer, so that another user's ids cannot be probed)."""
        record = self._generations.get(request_id)
        if record is None or not visible(record.user_id):
            raise NotFoundError(
                f"Generation request not found: {request_id}", error="generation_not_found"
            )
        return self._enforce_deadline(record)

    def _enforce_deadline(self, record: GenerationRecord) -> GenerationRecord:
        """A request still in flight past its deadline is cancelled and refunded now (the same
        guarded settle as a user's cancel), so no read ever shows it in flight."""
        if not record.past_deadline(self._clock.now()):
            return record
        cancelled = self._generations.settle(
            record.id,
            GenerationOutcome(cancelled=True, cancel_reason="deadline"),
            self._clock.now(),
            from_statuses=IN_FLIGHT,
        )
        if cancelled is None:  # settled by someone else since the read: it is terminal now
            return self._generations.get(record.id) or record
        self._queue.cancel(record.id)  # best effort: a late task finds it settled
        self._settled(cancelled)
        return cancelled

    def queue_position(self, record: GenerationRecord) -> int | str | None:
        """`queuePosition` of a queued request: how many queued requests (every user's) were
        created before it, up to the cap, "<cap>+" beyond; None when it is not queued, or when
        the count fails (logged: the position is a hint, never a reason to fail a status read)."""
        if record.status is not GenerationStatus.QUEUED:
            return None
        cap = self._queue_position_cap
        try:
            ahead = self._generations.queued_ahead(record.id, record.created_at, cap + 1)
        except Exception as exc:
            log_exception("queue position count failed", exc, generationRequestId=record.id)
            return None
        return queue_position_body(ahead, cap)

    def wait_until_terminal(
        self,
        request_id: str,
        seconds: float,
        visible: Callable[[str], bool] = lambda owner: True,
    ) -> GenerationRecord:
        """The request once it is terminal, or as it stands after `seconds` (the last read at
        the deadline, never after); polls back off from 50 ms to 1 s, and wake at the request's
        Cancel-After deadline (the read then cancels it). 404 like `get`."""
        deadline = self._monotonic() + seconds
        delay = WAIT_FIRST_POLL_SECONDS
        while True:
            record = self.get(request_id, visible)
            remaining = deadline - self._monotonic()
            if record.status.is_terminal or remaining <= 0:
                return record
            if record.cancel_at is not None:
                until_cancel = (record.cancel_at - self._clock.now()).total_seconds()
                remaining = min(remaining, max(until_cancel, 0.0))
            self._sleep(min(delay, remaining))
            delay = min(delay * 2, WAIT_MAX_POLL_SECONDS)

    def cancel(
        self,
        request_id: str,
        visible: Callable[[str], bool] = lambda owner: True,
        reason: CancelReason = "user",
    ) -> GenerationRecord:
        """Cancel a queued or processing request and refund it, once: a repeat answers the
        cancelled request again; a finished one is 409; unknown or not visible is 404.
        `reason` says who cancels (`user` or `admin`)."""
        record = self.get(request_id, visible)
        if record.status in IN_FLIGHT:
            cancelled = self._generations.settle(
                request_id,
                GenerationOutcome(cancelled=True, cancel_reason=reason),
                self._clock.now(),
                from_statuses=IN_FLIGHT,
            )
            if cancelled is not None:
                self._queue.cancel(request_id)  # best effort: a late task finds it settled
                self._settled(cancelled)
                return cancelled
            record = self.get(request_id, visible)  # it moved on since the read
        if record.status is GenerationStatus.CANCELLED:
            return record
        raise NotCancellableError(error="not_cancellable")

    def _settled(self, record: GenerationRecord) -> None:
        """This call settled the request: schedule its webhook event (never raises)."""
        if self._webhooks is not None:
            self._webhooks.settled(record)

    def list_for_user(self, user_id: str, limit: int) -> list[GenerationRecord]:
        """The user's latest requests (those past their deadline cancelled first, as `get`)."""
        return [self._enforce_deadline(r) for r in self._generations.list_for_user(user_id, limit)]

    # --- retention and deletion -------------------------------------------------------------
    def retention_fields(self, record: GenerationRecord) -> dict[str, Any]:
        """The picture's expiry as of now (`imageExpiresAt`, `imageExpired`, `deleted`, and a
        null `imageUrl` once expired or deleted): computed on every read."""
        return retention_body(record, self._retention, self._clock.now())

    def delete(
        self, request_id: str, visible: Callable[[str], bool] = lambda owner: True
    ) -> GenerationRecord:
        """Delete a terminal request's picture and prompt; the record and its ledger stay. In
        flight: 409 (cancel it first); a repeat answers the deleted request again and removes
        the picture again, so a run stopped between the two steps is finished by a repeat.
        The record is marked first: from then on no read hands out the picture's URL."""
        if self._images is None:
            raise ConfigurationError("no image store is wired")
        images = self._images()
        record = self.get(request_id, visible)
        if not record.status.is_terminal:
            raise DeleteInFlightError(
                error="delete_in_flight",
                extra={"generationRequestId": request_id, "status": record.status.value},
            )
        before = self._generations.mark_deleted(request_id, self._clock.now())
        if before is None or not before.status.is_terminal:  # gone, or not what was read
            return self.get(request_id, visible)
        images.delete(before.image_path or image_path(before))
        return self.get(request_id, visible)
