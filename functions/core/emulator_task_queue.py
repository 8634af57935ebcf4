"""Emulator workarounds: firebase-admin mis-reads the Cloud Tasks emulator's answers.

Why: firebase-admin 7.7 strips a leading "/" from the task name the Cloud Tasks emulator
returns, but for a task created with an explicit id the emulator returns the name without one,
so parsing the (successful) answer raises `ValueError("Invalid resource name format.")` after
the task was created. And the emulator answers a duplicate task id with a bare 409 ("A task
with the same name already exists") where Cloud Tasks answers ALREADY_EXISTS, so firebase-admin
raises ConflictError instead of AlreadyExistsError. Treating exactly these as success is right
on the emulator and nowhere else; the composition root (container.py) uses these queues only
on the emulator. One mixin serves every task queue (the generation worker's, the webhooks').
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
