"""Emulator workaround: firebase-admin mis-reads the Cloud Tasks emulator's answer.

Why: firebase-admin 7.7 strips a leading "/" from the task name the Cloud Tasks emulator
returns, but for a task created with an explicit id the emulator returns the name without one,
so parsing the (successful) answer raises `ValueError("Invalid resource name format.")` after
the task was created. Treating exactly that error as success is right on the emulator and
nowhere else; the composition root (container.py) uses this queue only on the emulator.
"""

from __future__ import annotations

from typing import Any

from firebase_admin import functions

from core.task_queue import CloudTasksGenerationQueue

_NAME_PARSE_ERROR = "Invalid resource name format."


class EmulatorGenerationQueue(CloudTasksGenerationQueue):
    def _submit(self, body: dict[str, Any], options: functions.TaskOptions) -> None:
        try:
            super()._submit(body, options)
        except ValueError as error:
            if str(error) != _NAME_PARSE_ERROR:
                raise
