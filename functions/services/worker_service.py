"""The background worker and the stuck-job sweeper: both settle requests exactly once."""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, NamedTuple

from core.logging import info, log_exception, warn
from schemas.documents import IN_FLIGHT, GenerationOutcome, GenerationRecord, GenerationStatus
from schemas.store import QUARANTINED, MalformedRecord, StuckCandidate
from services.image_paths import image_path

if TYPE_CHECKING:
    from core.clock import Clock
    from services.model_simulator import ModelRun, ModelSimulator
    from services.ports import GenerationStore, ImageStore, TaskInspector
    from services.webhook_service import WebhookNotifier

TIMEOUT_MESSAGE = "Generation timed out"


class WorkResult(StrEnum):
    SKIPPED = "skipped"  # missing or already terminal: a redelivery, acknowledged
    COMPLETED = "completed"
    FAILED = "failed"  # a model failure: a business outcome, acknowledged, refunded
    SUPERSEDED = "superseded"  # another delivery, a cancel or the sweeper settled it first
    EXPIRED = "expired"  # past its Cancel-After deadline: cancelled and refunded, not run/kept
    MALFORMED = "malformed"  # the stored request does not validate: left for the sweeper


class StuckTimeouts(NamedTuple):
    """How long a request may sit before the sweeper fails and refunds it. `queued` applies only
    where the queue cannot tell whether the task still exists (a task that exists is waiting)."""

    processing_seconds: int
    queued_seconds: int


@dataclass
class SweepResult:
    examined: int = 0  # found queued/processing past the processing timeout
    refunded: int = 0  # failed + refunded now (or completed-less: owner gone, nothing refunded)
    waiting: int = 0  # their task still exists (or, unknown, the queued timeout has not passed)
    settled_elsewhere: int = 0  # the worker settled it between the query and our transaction
    quarantined: int = 0  # cannot be settled (malformed): marked for an operator
    skipped: int = 0  # an error on this item: logged, retried on the next sweep
    webhooks_requeued: int = 0  # webhook deliveries left pending, scheduled again
    deadline_cancelled: int = 0  # in flight past their Cancel-After deadline: cancelled now

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


class GenerationWorker:
    def __init__(
        self,
        generations: GenerationStore,
        simulator: ModelSimulator,
        images: ImageStore,
        clock: Clock,
        tasks: TaskInspector | None = None,
        webhooks: WebhookNotifier | None = None,
    ) -> None:
        self._generations = generations
        self._simulator = simulator
        self._images = images
        self._clock = clock
        self._tasks = tasks
        self._webhooks = webhooks  # schedules a settled request's webhook event

    def process(self, request_id: str) -> WorkResult:
        """Infrastructure errors propagate (the task is retried); everything else is settled.
        A request past its Cancel-After deadline, before it starts or before its result is
        settled, is cancelled and refunded instead (its result discarded)."""
        try:
            record = self._generations.start_processing(
                request_id, self._clock.now(), image_token=str(uuid.uuid4())
            )
        except MalformedRecord as malformed:
            warn(
                "malformed generation request",
                generationRequestId=request_id,
                problem=str(malformed),
            )
            return WorkResult.MALFORMED  # a retry cannot fix it; the sweeper quarantines it
        if record is None:
            return WorkResult.SKIPPED
        if record.past_deadline(self._clock.now()):  # before the model runs
            return self._expire(request_id, None)
        outcome = self._store(record, self._simulator.generate(record))
        if record.past_deadline(self._clock.now()):
            return self._expire(request_id, outcome)
        settled = self._generations.settle(
            request_id, outcome, self._clock.now(), from_statuses={GenerationStatus.PROCESSING}
        )
        if settled is None:
            self._discard(request_id, outcome)
            return WorkResult.SUPERSEDED
        self._settled(settled)
        return WorkResult.COMPLETED if outcome.succeeded else WorkResult.FAILED

    def _expire(self, request_id: str, outcome: GenerationOutcome | None) -> WorkResult:
        """Cancel the request at its deadline (guarded: once, whoever gets there first)."""
        cancelled = self._cancel_at_deadline(request_id)
        if outcome is not None:
            self._discard(request_id, outcome)
        return WorkResult.EXPIRED if cancelled else WorkResult.SUPERSEDED

    def _cancel_at_deadline(self, request_id: str) -> bool:
        settled = self._generations.settle(
            request_id,
            GenerationOutcome(cancelled=True, cancel_reason="deadline"),
            self._clock.now(),
            from_statuses=IN_FLIGHT,
        )
        if settled is None:
            return False
        self._settled(settled)
        info("cancelled at its deadline", generationRequestId=request_id)
        return True

    def _store(self, record: GenerationRecord, run: ModelRun) -> GenerationOutcome:
        """The image is stored before the settle: a completed request always has its PNG. A
        redelivery re-uploads the same bytes under the same name and token (harmless)."""
        if run.png is None:
            return GenerationOutcome(error_message=run.error_message)
        assert record.image_token is not None  # start_processing stored one
        path = image_path(record)
        url = self._images.save(path, run.png, record.image_token)
        return GenerationOutcome(image_url=url, image_path=path)

    def _discard(self, request_id: str, outcome: GenerationOutcome) -> None:
        """Someone else settled the request first: unless another delivery completed it (same
        picture, same path), the picture this attempt stored belongs to nothing."""
        if outcome.image_path is None:
            return
        current = self._generations.get(request_id)
        if current is None or current.status is not GenerationStatus.COMPLETED:
            self._images.delete(outcome.image_path)

    def recover_stuck(self, timeouts: StuckTimeouts) -> SweepResult:
        """Fail and refund requests left queued/processing too long. Each request is handled on
        its own: one that fails is logged and counted, and the others are still settled."""
        now = self._clock.now()
        result = SweepResult()
        cutoff = now - timedelta(seconds=timeouts.processing_seconds)
        try:
            for request_id in self._generations.find_past_deadline(IN_FLIGHT, now):
                try:
                    result.deadline_cancelled += self._cancel_at_deadline(request_id)
                except Exception as exc:
                    result.skipped += 1
                    log_exception("deadline not enforced", exc, generationRequestId=request_id)
        except Exception as exc:
            log_exception("requests past their deadline not looked up", exc)
        for candidate in self._generations.find_stuck(IN_FLIGHT, cutoff):
            result.examined += 1
            try:
                self._recover_one(candidate, cutoff, now, timeouts, result)
            except Exception as exc:
                result.skipped += 1
                log_exception("stuck request not settled", exc, generationRequestId=candidate.id)
        if self._webhooks is not None:
            try:
                result.webhooks_requeued = self._webhooks.rescue(self._clock.now())
            except Exception as exc:
                log_exception("pending webhook deliveries not looked up", exc)
        return result

    def _settled(self, record: GenerationRecord) -> None:
        """This worker or sweep settled the request: schedule its webhook event (never raises)."""
        if self._webhooks is not None:
            self._webhooks.settled(record)

    def _recover_one(
        self,
        candidate: StuckCandidate,
        cutoff: datetime,
        now: datetime,
        timeouts: StuckTimeouts,
        result: SweepResult,
    ) -> None:
        if self._still_waiting(candidate, now, timeouts):
            result.waiting += 1
            return
        try:
            settled = self._generations.settle(
                candidate.id,
                GenerationOutcome(error_message=TIMEOUT_MESSAGE),
                self._clock.now(),
                from_statuses=IN_FLIGHT,
                updated_before=cutoff,
            )
        except MalformedRecord as malformed:
            if self._generations.quarantine(candidate.id, str(malformed), self._clock.now()):
                result.quarantined += 1
                warn(
                    "stuck request quarantined",
                    generationRequestId=candidate.id,
                    status=QUARANTINED,
                    problem=str(malformed),
                )
            return
        if settled is None:
            result.settled_elsewhere += 1
            return
        self._settled(settled)
        result.refunded += 1
        info("recovered stuck generation", generationRequestId=candidate.id)

    def _still_waiting(self, candidate: StuckCandidate, now: datetime, t: StuckTimeouts) -> bool:
        """Whether the request's task may still run: then the request is not stuck."""
        exists = self._tasks.task_exists(candidate.id) if self._tasks is not None else None
        if exists is not None:
            return exists
        if candidate.status != GenerationStatus.QUEUED.value or candidate.updated_at is None:
            return False
        return candidate.updated_at >= now - timedelta(seconds=t.queued_seconds)
