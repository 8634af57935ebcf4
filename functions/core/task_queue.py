"""Enqueue the generation worker through firebase-admin's Cloud Tasks client."""

from __future__ import annotations

import contextlib
import os
from functools import cached_property

import firebase_admin
from firebase_admin import exceptions, functions

WORKER_FUNCTION = "processImageGeneration"

# firebase-admin 7.7 strips a leading "/" from the task name the Cloud Tasks emulator returns,
# but for a task created with an explicit id the emulator returns the name without one, so
# parsing the (successful) answer fails with this ValueError after the task was created.
_EMULATOR_NAME_PARSE_ERROR = "Invalid resource name format."


def task_id(generation_request_id: str) -> str:
    """Derived from the request id, so enqueueing the same request twice is a no-op."""
    return f"generation-{generation_request_id}"


class CloudTasksGenerationQueue:
    def __init__(self, app: firebase_admin.App, function_name: str = WORKER_FUNCTION) -> None:
        self._app = app
        self._function_name = function_name

    @cached_property
    def _queue(self) -> functions.TaskQueue:
        return functions.task_queue(self._function_name, app=self._app)

    def enqueue(self, generation_request_id: str) -> None:
        # An on_task_dispatched handler reads its payload from the body's "data" field.
        body = {"data": {"generationRequestId": generation_request_id}}
        options = functions.TaskOptions(task_id=task_id(generation_request_id))
        with contextlib.suppress(exceptions.AlreadyExistsError):
            try:
                self._queue.enqueue(body, options)
            except ValueError as error:
                if not (_on_tasks_emulator() and str(error) == _EMULATOR_NAME_PARSE_ERROR):
                    raise


def _on_tasks_emulator() -> bool:
    return bool(os.environ.get("CLOUD_TASKS_EMULATOR_HOST"))
