"""Guarantee 4: when Cloud Tasks is unreachable the charge is undone and the client told."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator

import firebase_admin
import pytest

import main
from core.task_queue import CloudTasksGenerationQueue
from tests.integration.conftest import balance, request_body, transactions
from tests.support.http import call


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def unreachable_queue(monkeypatch) -> Iterator[CloudTasksGenerationQueue]:
    """The real firebase-admin adapter, pointed at a Cloud Tasks emulator that is not there.

    firebase-admin caches its task-queue client per app, so use a throwaway app.
    """
    monkeypatch.setenv("CLOUD_TASKS_EMULATOR_HOST", f"127.0.0.1:{closed_port()}")
    app = firebase_admin.initialize_app(
        options={"projectId": "feraset-imagen"}, name=f"unreachable-{uuid.uuid4()}"
    )
    yield CloudTasksGenerationQueue(app)
    firebase_admin.delete_app(app)


def test_unreachable_queue_refunds_and_answers_503(db, make_container, unreachable_queue):
    make_container(queue=unreachable_queue)

    status, body = call(main.createGenerationRequest, json_body=request_body())

    assert status == 503
    assert body["success"] is False
    assert body["error_type"] == "queue_failure"
    assert body["refunded"] is True
    request_id = body["generationRequestId"]
    doc = db.collection("generation_requests").document(request_id).get().to_dict()
    assert doc["status"] == "failed"
    assert doc["error_message"] == "Failed to queue generation task"
    assert sorted(t["type"] for t in transactions(db, "arda")) == ["deduction", "refund"]
    assert balance(db, "arda") == 500


def test_failed_enqueue_keeps_its_answer_for_the_key(db, make_container, unreachable_queue):
    """The key of a refunded 503 replays that 503 for its lifetime: a retry with it never
    charges again under a new id (a new attempt takes a new key)."""
    make_container(queue=unreachable_queue)
    headers = {"Idempotency-Key": "retry-after-outage"}
    first, failed = call(main.createGenerationRequest, json_body=request_body(), headers=headers)
    assert first == 503 and failed["refunded"] is True

    container = make_container()  # the queue is back
    second, replay = call(main.createGenerationRequest, json_body=request_body(), headers=headers)
    assert (second, replay) == (first, failed)
    assert container.queue.enqueued == []
    assert balance(db, "arda") == 500
    assert len(list(db.collection("generation_requests").stream())) == 1

    third, body = call(
        main.createGenerationRequest,
        json_body=request_body(),
        headers={"Idempotency-Key": "a-new-attempt"},
    )
    assert third == 202 and body["generationRequestId"] != failed["generationRequestId"]
    assert balance(db, "arda") == 500 - 3
