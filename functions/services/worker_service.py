"""The background worker and the stuck-job sweeper: both settle requests exactly once."""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum

from core.clock import Clock
from core.logging import info
from repositories.generations import GenerationRepository
from schemas.documents import GenerationOutcome, GenerationStatus
from services.model_simulator import ModelSimulator

TIMEOUT_MESSAGE = "Generation timed out"
STUCK_STATUSES = (GenerationStatus.QUEUED, GenerationStatus.PROCESSING)


class WorkResult(StrEnum):
    SKIPPED = "skipped"  # missing or already terminal: a redelivery, acknowledged
    COMPLETED = "completed"
    FAILED = "failed"  # a model failure: a business outcome, acknowledged, refunded
    SUPERSEDED = "superseded"  # another delivery or the sweeper settled it first


class GenerationWorker:
    def __init__(
        self, generations: GenerationRepository, simulator: ModelSimulator, clock: Clock
    ) -> None:
        self._generations = generations
        self._simulator = simulator
        self._clock = clock

    def process(self, request_id: str) -> WorkResult:
        """Infrastructure errors propagate (the task is retried); everything else is settled."""
        record = self._generations.start_processing(request_id, self._clock.now())
        if record is None:
            return WorkResult.SKIPPED
        outcome = self._simulator.generate(record, self._clock.now)
        settled = self._generations.settle(
            request_id, outcome, self._clock.now(), from_statuses={GenerationStatus.PROCESSING}
        )
        if settled is None:
            return WorkResult.SUPERSEDED
        return WorkResult.COMPLETED if outcome.succeeded else WorkResult.FAILED

    def recover_stuck(self, timeout_seconds: int) -> int:
        """Fail and refund requests left queued/processing for longer than the timeout."""
        cutoff = self._clock.now() - timedelta(seconds=timeout_seconds)
        recovered = 0
        for request_id in self._generations.find_stuck_ids(STUCK_STATUSES, cutoff):
            settled = self._generations.settle(
                request_id,
                GenerationOutcome(error_message=TIMEOUT_MESSAGE),
                self._clock.now(),
                from_statuses=STUCK_STATUSES,
                updated_before=cutoff,
            )
            if settled is not None:
                recovered += 1
                info("recovered stuck generation", generationRequestId=request_id)
        return recovered
