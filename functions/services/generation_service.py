"""Creating generation requests and reading their status."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from core.clock import Clock
from core.errors import FieldError, NotFoundError, QueueFailureError, ValidationError
from core.logging import log_exception
from repositories.catalog import CatalogRepository
from repositories.generations import (
    GenerationRepository,
    IdempotencyClaim,
    NewGeneration,
    Replay,
)
from schemas.documents import GenerationOutcome, GenerationRecord, GenerationStatus
from schemas.requests import CreateGenerationRequest
from schemas.responses import CreateGenerationResponse
from services.ports import GenerationQueue

QUEUE_FAILURE_MESSAGE = "Failed to queue generation task"
IDEMPOTENCY_TTL = timedelta(hours=24)


@dataclass(frozen=True)
class CreateResult:
    status_code: int
    body: dict[str, Any]


def idempotency_doc_id(user_id: str, key: str) -> str:
    return hashlib.sha256(f"{user_id}\x00{key}".encode()).hexdigest()


def request_hash(request: CreateGenerationRequest) -> str:
    canonical = json.dumps(request.model_dump(), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


class GenerationService:
    def __init__(
        self,
        catalog: CatalogRepository,
        generations: GenerationRepository,
        queue: GenerationQueue,
        clock: Clock,
        max_in_flight: int,
        new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
    ) -> None:
        self._catalog = catalog
        self._generations = generations
        self._queue = queue
        self._clock = clock
        self._new_id = new_id
        self._max_in_flight = max_in_flight

    def create(self, request: CreateGenerationRequest, idempotency_key: str | None) -> CreateResult:
        cost = self._validate_against_catalog(request)
        request_id = self._new_id()
        body = CreateGenerationResponse(generationRequestId=request_id, deductedCredits=cost)
        claim = None
        if idempotency_key is not None:
            claim = IdempotencyClaim(
                doc_id=idempotency_doc_id(request.userId, idempotency_key),
                key=idempotency_key,
                request_hash=request_hash(request),
                response=body.model_dump(),
                status_code=202,
                ttl=IDEMPOTENCY_TTL,
            )
        created = self._generations.charge_and_create(
            NewGeneration(
                id=request_id,
                user_id=request.userId,
                model=request.model,
                style=request.style,
                color=request.color,
                size=request.size,
                prompt=request.prompt,
                cost=cost,
            ),
            self._clock.now,
            claim,
            max_in_flight=self._max_in_flight,
        )
        if isinstance(created, Replay):
            return CreateResult(created.status_code, created.response)
        try:
            self._enqueue_or_refund(request_id)
        except QueueFailureError as failure:
            if claim is not None:
                # The key keeps this answer for its lifetime: a retry with it replays the 503
                # instead of charging again under a new id.
                self._generations.finish_idempotency(
                    claim.doc_id, failure.status, failure.envelope()
                )
            raise
        if claim is not None:
            self._generations.finish_idempotency(claim.doc_id, 202, claim.response)
        return CreateResult(202, body.model_dump())

    def _validate_against_catalog(self, request: CreateGenerationRequest) -> int:
        """404 for an unknown user, then 400 naming every unknown or inactive catalog id."""
        user_exists, style, color, size = self._catalog.lookup(
            request.userId, request.style, request.color, request.size
        )
        if not user_exists:
            raise NotFoundError(f"User not found: {request.userId}", error="user_not_found")
        details = [
            FieldError(field, f"Unknown or inactive {field}: {value!r}")
            for field, value, entry in (
                ("style", request.style, style),
                ("color", request.color, color),
                ("size", request.size, size),
            )
            if entry is None or not entry.is_active
        ]
        if details or size is None:
            raise ValidationError(
                "Invalid style, color or size", error="invalid_catalog_value", details=details
            )
        return size.credit_cost

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
        return record

    def list_for_user(self, user_id: str, limit: int) -> list[GenerationRecord]:
        return self._generations.list_for_user(user_id, limit)
