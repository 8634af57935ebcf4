"""CloudTasksInspector (production only): get_task answers mapped to exists / gone / unknown."""

from __future__ import annotations

import pytest
from google.api_core import exceptions as gexc

from core.task_queue import CloudTasksInspector


class FakeTasksClient:
    def __init__(self, outcome: Exception | None) -> None:
        self.outcome = outcome
        self.names: list[str] = []

    def get_task(self, *, name: str, timeout: float) -> object:
        self.names.append(name)
        if self.outcome is not None:
            raise self.outcome
        return object()


@pytest.mark.parametrize(
    ("outcome", "expected"),
    [
        (None, True),
        (gexc.NotFound("task gone"), False),
        (gexc.ServiceUnavailable("down"), None),
        (gexc.PermissionDenied("no cloudtasks.tasks.get"), None),
    ],
)
def test_task_exists(outcome, expected):
    client = FakeTasksClient(outcome)
    inspector = CloudTasksInspector("feraset-imagen", client=client)
    assert inspector.task_exists("abc") is expected
    assert client.names == [
        "projects/feraset-imagen/locations/us-central1/queues/processImageGeneration"
        "/tasks/generation-abc"
    ]
