"""Enqueue the task-queue functions (the generation worker, webhook delivery) through
firebase-admin's Cloud Tasks client."""

from __future__ import annotations

import contextlib
from functools import cached_property
from typing import Any

import firebase_admin
from firebase_admin import exceptions, functions
from google.api_core import exceptions as gexc

from core.logging import warn

WORKER_FUNCTION = "processImageGeneration"
WEBHOOK_FUNCTION = "deliverWebhook"


def task_id(generation_request_id: str) -> str:
    """Derived from the request id, so enqueueing the same request twice is a no-op."""
    return f"generation-{generation_request_id}"


def webhook_task_id(generation_request_id: str) -> str:
    """One delivery task per request's event: a second enqueue (the sweeper's) is a no-op."""
    return f"webhook-{generation_request_id}"


class FirebaseTaskQueue:
    """The queue of one task-queue function. Every task is named after its generation request,
    so a duplicate enqueue is answered ALREADY_EXISTS and ignored."""

    def __init__(self, app: firebase_admin.App, function_name: str) -> None:
        self._app = app
        self._function_name = function_name

    @cached_property
    def _queue(self) -> functions.TaskQueue:
        return functions.task_queue(self._function_name, app=self._app)

    def _enqueue_task(self, name: str, data: dict[str, Any]) -> None:
        # An on_task_dispatched handler reads its payload from the body's "data" field.
        options = functions.TaskOptions(task_id=name)
        with contextlib.suppress(exceptions.AlreadyExistsError):
            self._submit({"data": data}, options)

    def _submit(self, body: dict[str, Any], options: functions.TaskOptions) -> None:
        self._queue.enqueue(body, options)


class CloudTasksGenerationQueue(FirebaseTaskQueue):
    def __init__(self, app: firebase_admin.App, function_name: str = WORKER_FUNCTION) -> None:
        super().__init__(app, function_name)

    def enqueue(self, generation_request_id: str) -> None:
        self._enqueue_task(
            task_id(generation_request_id), {"generationRequestId": generation_request_id}
        )

    def cancel(self, generation_request_id: str) -> None:
        """Delete the request's task if it has not started; best effort, never raises (a task
        that runs anyway finds the request settled and does nothing)."""
        try:
            self._queue.delete(task_id(generation_request_id))
        except exceptions.NotFoundError:
            pass  # already ran, or never existed
        except Exception as exc:
            warn(
                "task not deleted",
                generationRequestId=generation_request_id,
                error=type(exc).__name__,
            )


class CloudTasksWebhookQueue(FirebaseTaskQueue):
    """Schedules `deliverWebhook` for a settled request's event (services/ports.WebhookQueue)."""

    def __init__(self, app: firebase_admin.App, function_name: str = WEBHOOK_FUNCTION) -> None:
        super().__init__(app, function_name)

    def enqueue(self, generation_request_id: str) -> None:
        self._enqueue_task(
            webhook_task_id(generation_request_id),
            {"generationRequestId": generation_request_id},
        )


class CloudTasksInspector:
    """Whether a request's worker task still exists (waiting, running or to be retried).

    firebase-admin cannot look a task up, so this uses google-cloud-tasks, whose get-task API the
    Cloud Tasks emulator does not serve: production only.
    """

    def __init__(
        self,
        project: str,
        location: str = "us-central1",
        queue: str = WORKER_FUNCTION,
        client: Any = None,
        timeout_seconds: float = 5.0,
    ) -> None:
        self._project = project
        self._location = location
        self._queue_id = queue
        self._given_client = client
        self._timeout = timeout_seconds

    @cached_property
    def _client(self) -> Any:
        if self._given_client is not None:
            return self._given_client
        from google.cloud import tasks_v2

        return tasks_v2.CloudTasksClient()

    def task_name(self, generation_request_id: str) -> str:
        return (
            f"projects/{self._project}/locations/{self._location}/queues/{self._queue_id}"
            f"/tasks/{task_id(generation_request_id)}"
        )

    def task_exists(self, generation_request_id: str) -> bool | None:
        try:
            self._client.get_task(name=self.task_name(generation_request_id), timeout=self._timeout)
        except gexc.NotFound:
            return False
        except gexc.GoogleAPICallError as error:
            warn(
                "could not look up generation task",
                generationRequestId=generation_request_id,
                error=type(error).__name__,
            )
            return None
        return True
