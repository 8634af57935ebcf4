"""Guarantees 2 and 3: exactly-once effects under at-least-once delivery; model failures."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

import main
from tests.integration.conftest import balance, request_body, transactions
from tests.support.http import call

DELIVERIES = 5


def create_request(db, container, **overrides) -> str:
    status, body = call(main.createGenerationRequest, json_body=request_body(**overrides))
    assert status == 202, body
    assert container.queue.enqueued == [body["generationRequestId"]]
    return body["generationRequestId"]


def deliver(request_id: str) -> tuple[int, dict]:
    """Deliver the task the way Cloud Tasks does: POST {"data": payload} to the function."""
    return call(
        main.processImageGeneration, json_body={"data": {"generationRequestId": request_id}}
    )


def deliver_many(request_id: str, *, concurrent: bool) -> list[tuple[int, dict]]:
    """The same task delivered DELIVERIES times, one after another or all at once."""
    if not concurrent:
        return [deliver(request_id) for _ in range(DELIVERIES)]
    barrier = threading.Barrier(DELIVERIES)

    def once(_: int) -> tuple[int, dict]:
        barrier.wait()
        return deliver(request_id)

    with ThreadPoolExecutor(DELIVERIES) as pool:
        return list(pool.map(once, range(DELIVERIES)))


def request_doc(db, request_id: str) -> dict:
    return db.collection("generation_requests").document(request_id).get().to_dict()


def images_generated(db, user_id: str = "arda") -> int:
    return db.collection("users").document(user_id).get().get("total_images_generated")


@pytest.mark.parametrize("concurrent", [False, True], ids=["sequential", "concurrent"])
def test_redelivered_success_completes_once(db, make_container, concurrent, host_lock):
    container = make_container()
    request_id = create_request(db, container)
    results = deliver_many(request_id, concurrent=concurrent)

    assert all(status == 200 for status, _ in results), results
    outcomes = sorted(body["result"]["result"] for _, body in results)
    assert outcomes.count("completed") == 1
    doc = request_doc(db, request_id)
    assert doc["status"] == "completed"
    # Every delivery uploaded under the one token the first claim stored: the URL works.
    assert doc["image_path"] == f"generated/arda/{request_id}.png"
    assert doc["image_url"].endswith(f"&token={doc['image_token']}")
    image = requests.get(doc["image_url"], timeout=30)
    assert image.status_code == 200 and image.content.startswith(b"\x89PNG")
    assert doc["error_message"] is None
    assert images_generated(db) == 1
    assert balance(db, "arda") == 500 - 3
    assert [t["type"] for t in transactions(db, "arda")] == ["deduction"]


@pytest.mark.parametrize("concurrent", [False, True], ids=["sequential", "concurrent"])
def test_redelivered_model_failure_refunds_once(db, make_container, concurrent, host_lock):
    container = make_container(default_failure_rate=1.0)
    request_id = create_request(db, container)
    results = deliver_many(request_id, concurrent=concurrent)

    # A model failure is acknowledged (2xx), so Cloud Tasks does not retry it.
    assert all(status == 200 for status, _ in results), results
    assert sorted(body["result"]["result"] for _, body in results).count("failed") == 1
    doc = request_doc(db, request_id)
    assert doc["status"] == "failed"
    assert doc["image_url"] is None
    assert doc["error_message"]
    refunds = [t for t in transactions(db, "arda") if t["type"] == "refund"]
    assert len(refunds) == 1 and refunds[0]["credits"] == 3
    assert balance(db, "arda") == 500
    assert images_generated(db) == 0


def test_failed_request_never_turns_completed(db, make_container):
    failing = make_container(default_failure_rate=1.0)
    request_id = create_request(db, failing)
    deliver(request_id)
    make_container(default_failure_rate=0.0)  # a later delivery would now succeed
    status, body = deliver(request_id)
    assert status == 200 and body["result"]["result"] == "skipped"
    assert request_doc(db, request_id)["status"] == "failed"
    assert images_generated(db) == 0


def test_unknown_or_malformed_task_is_acknowledged(db, make_container):
    make_container()
    assert deliver("no-such-request")[0] == 200
    status, body = call(main.processImageGeneration, json_body={"data": {"unexpected": 1}})
    assert status == 200 and body["result"]["result"] == "rejected"


def test_infrastructure_error_is_retried(db, make_container, monkeypatch):
    """Anything but a model outcome answers non-2xx so Cloud Tasks retries; the retry settles."""
    container = make_container()
    request_id = create_request(db, container)

    def broken(*args, **kwargs):
        raise ConnectionError("firestore unreachable")

    with monkeypatch.context() as patch:
        patch.setattr(container.generations, "settle", broken)
        status, _ = deliver(request_id)
    assert status == 500
    assert request_doc(db, request_id)["status"] == "processing"
    status, body = deliver(request_id)
    assert status == 200 and body["result"]["result"] == "completed"
    assert request_doc(db, request_id)["attempts"] == 2
    assert images_generated(db) == 1
