"""processImageGeneration (task queue) and recoverStuckGenerations (schedule)."""

from __future__ import annotations

from typing import Any

import pydantic

from core.logging import info, warn
from schemas.requests import WorkerTask
from services.worker_service import GenerationWorker


class WorkerController:
    def __init__(self, worker: GenerationWorker, timeout_seconds: int) -> None:
        self._worker = worker
        self._timeout_seconds = timeout_seconds

    def handle_task(self, data: Any) -> dict[str, str]:
        """Acknowledge (return) unless infrastructure failed (raise, and Cloud Tasks retries)."""
        try:
            task = WorkerTask.model_validate(data)
        except pydantic.ValidationError:
            warn("dropping malformed generation task", payload_type=type(data).__name__)
            return {"result": "rejected"}
        result = self._worker.process(task.generationRequestId)
        info("generation task handled", generationRequestId=task.generationRequestId, result=result)
        return {"result": result.value}

    def recover_stuck(self) -> int:
        recovered = self._worker.recover_stuck(self._timeout_seconds)
        info("stuck generation sweep finished", recovered=recovered)
        return recovered
