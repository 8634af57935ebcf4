"""Emulator workaround: firebase-admin mis-reads two of the Cloud Tasks emulator's answers.

For a task with an explicit id the emulator returns its name without the leading "/" that
firebase-admin strips, so a successful enqueue raises ValueError("Invalid resource name
format."); and it answers a duplicate task id with a bare 409 (ConflictError) instead of
ALREADY_EXISTS. Both are treated as success, for every task queue.
"""

from __future__ import annotations

from typing import Any

from firebase_admin import exceptions, functions

from core.task_queue import CloudTasksGenerationQueue, CloudTasksWebhookQueue, FirebaseTaskQueue

_NAME_PARSE_ERROR = "Invalid resource name format."


class EmulatorTaskSubmission(FirebaseTaskQueue):
    def _submit(self, body: dict[str, Any], options: functions.TaskOptions) -> None:
        try:
            super()._submit(body, options)
        except ValueError as error:
            if str(error) != _NAME_PARSE_ERROR:
                raise
        except exceptions.ConflictError:
            pass  # the emulator's answer to a task id it has seen: a duplicate, a no-op


class EmulatorGenerationQueue(EmulatorTaskSubmission, CloudTasksGenerationQueue):
    pass


class EmulatorWebhookQueue(EmulatorTaskSubmission, CloudTasksWebhookQueue):
    pass
