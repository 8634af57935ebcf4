"""processImageGeneration (task queue), recoverStuckGenerations (schedule) and its admin twin
sweepStuckGenerations (HTTP)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pydantic
from flask import Request, Response

from controllers.http import json_response, optional_json_body
from core.logging import info, warn
from schemas.tasks import WorkerTask

if TYPE_CHECKING:
    from controllers.auth import AdminGuard
    from services.worker_service import GenerationWorker, StuckTimeouts, SweepResult


class WorkerController:
    def __init__(
        self, worker: GenerationWorker, timeouts: StuckTimeouts, guard: AdminGuard
    ) -> None:
        self._worker = worker
        self._timeouts = timeouts
        self._guard = guard

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

    def recover_stuck(self) -> SweepResult:
        """One sweep; per-request failures are logged and counted, never raised."""
        result = self._worker.recover_stuck(self._timeouts)
        info("stuck generation sweep finished", **result.as_dict())
        return result

    def sweep_now(self, request: Request) -> Response:
        """Run the sweep now and answer its counts."""
        with self._guard.call(request, "sweepStuckGenerations") as call:
            optional_json_body(request)  # takes no options, but a body must be valid JSON
            result = self.recover_stuck()
            call.counts = result.as_dict()
        return json_response({"success": True, **result.as_dict()})
