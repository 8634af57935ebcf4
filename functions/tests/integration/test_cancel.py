"""cancelGenerationRequest on the real emulators: one guarded settle with one refund, the
same answer when repeated, and exactly one outcome when it races the worker or the sweeper
(with and without the host lock). The ledger check after every test also holds "a refund iff
failed or cancelled" and the in-flight counter."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests

import main
from schemas.documents import GenerationRecord
from services.model_simulator import ModelRun
from services.worker_service import StuckTimeouts
from tests.integration.conftest import balance, request_body, transactions
from tests.integration.test_stuck_recovery import age, later_sweeper
from tests.support.http import call

TIMEOUTS = StuckTimeouts(processing_seconds=600, queued_seconds=600)


def create(user_id: str = "arda", **overrides: Any) -> str:
    status, body = call(main.createGenerationRequest, json_body=request_body(user_id, **overrides))
    assert status == 202, body
    return str(body["generationRequestId"])


def cancel(request_id: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
    return call(
        main.cancelGenerationRequest,
        json_body={"generationRequestId": request_id},
        headers=headers,
    )


def deliver(request_id: str) -> tuple[int, dict[str, Any]]:
    return call(
        main.processImageGeneration, json_body={"data": {"generationRequestId": request_id}}
    )


def request_doc(db: Any, request_id: str) -> dict[str, Any]:
    return db.collection("generation_requests").document(request_id).get().to_dict()


def refunds(db: Any, user_id: str = "arda") -> list[dict[str, Any]]:
    return [t for t in transactions(db, user_id) if t["type"] == "refund"]


def stored(container: Any, path: str) -> bool:
    """Whether the Storage emulator holds an object at `path`."""
    return container.images._bucket.blob(path).exists()


def test_cancel_a_queued_request_refunds_it_once_and_repeats_the_same_answer(db, make_container):
    container = make_container()
    request_id = create()  # 1024x1024: 3 credits
    assert balance(db, "arda") == 497

    status, first = cancel(request_id)
    assert status == 200, first
    assert first["success"] is True and first["refundedCredits"] == 3
    assert first["generationRequestId"] == request_id
    assert (first["status"], first["progress"]) == ("cancelled", 100.0)
    assert first["imageUrl"] is None and first["error_message"] is None
    assert first["completed_at"] is not None
    assert balance(db, "arda") == 500
    [refund] = refunds(db)
    assert refund["credits"] == 3 and refund["description"] == "Refund: Cancelled by the user"
    assert container.queue.cancelled == [request_id]  # its task is deleted (best effort)

    again_status, again = cancel(request_id)
    assert (again_status, again) == (200, first)  # the same answer, nothing booked twice
    assert len(refunds(db)) == 1 and container.queue.cancelled == [request_id]

    # The task, if it still runs, finds the request settled and does nothing.
    status, body = deliver(request_id)
    assert (status, body["result"]["result"]) == (200, "skipped")
    assert request_doc(db, request_id)["status"] == "cancelled"


def test_a_processing_request_can_be_cancelled(db, make_container):
    make_container()
    request_id = create()
    db.collection("generation_requests").document(request_id).update({"status": "processing"})
    status, body = cancel(request_id)
    assert (status, body["status"]) == (200, "cancelled")
    assert balance(db, "arda") == 500


@pytest.mark.parametrize(("model", "final"), [("Model A", "completed"), ("Model B", "failed")])
def test_a_finished_request_is_not_cancellable(db, make_container, model, final):
    make_container(failure_rates={"Model B": 1.0})
    request_id = create(model=model)
    deliver(request_id)
    assert request_doc(db, request_id)["status"] == final
    before = transactions(db, "arda")

    status, body = cancel(request_id)
    assert status == 409, body
    assert (body["success"], body["error"]) == (False, "not_cancellable")
    assert transactions(db, "arda") == before and request_doc(db, request_id)["status"] == final


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ({"generationRequestId": "no-such-request"}, 404),
        ({}, 400),
        ({"generationRequestId": ""}, 400),
        ({"generationRequestId": "a/b"}, 400),
        ({"generationRequestId": "x", "extra": 1}, 400),
    ],
)
def test_unknown_or_malformed_ids(make_container, payload, expected):
    make_container()
    status, body = call(main.cancelGenerationRequest, json_body=payload)
    assert status == expected, body
    assert body["success"] is False


def test_get_is_not_allowed(make_container):
    make_container()
    status, body = call(main.cancelGenerationRequest, "GET", query={"generationRequestId": "x"})
    assert status == 405, body


def test_worker_finishing_after_a_cancel_discards_its_picture(db, make_container, host_lock):
    """The worker is generating when the owner cancels: its completion does not apply, the
    picture it stored is removed, and the one refund is the cancel's."""
    container = make_container()
    request_id = create()
    generate = container.simulator.generate

    def cancelled_meanwhile(record: GenerationRecord) -> ModelRun:
        status, _ = cancel(request_id)
        assert status == 200
        return generate(record)

    container.simulator.generate = cancelled_meanwhile  # type: ignore[method-assign]
    status, body = deliver(request_id)
    assert (status, body["result"]["result"]) == (200, "superseded")
    doc = request_doc(db, request_id)
    assert doc["status"] == "cancelled" and doc["image_url"] is None
    assert not stored(container, f"generated/arda/{request_id}.png")
    assert len(refunds(db)) == 1 and balance(db, "arda") == 500


def test_cancel_after_the_worker_completed_changes_nothing(db, make_container, host_lock):
    container = make_container()
    request_id = create()
    deliver(request_id)
    status, body = cancel(request_id)
    assert (status, body["error"]) == (409, "not_cancellable")
    doc = request_doc(db, request_id)
    assert doc["status"] == "completed" and refunds(db) == []
    assert stored(container, doc["image_path"])  # the completed request keeps its picture
    image = requests.get(doc["image_url"], timeout=30)
    assert image.status_code == 200


ROUNDS = 4


def race(first: Any, second: Any) -> tuple[Any, Any]:
    barrier = threading.Barrier(2)

    def run(action: Any) -> Any:
        barrier.wait()
        return action()

    with ThreadPoolExecutor(2) as pool:
        a, b = pool.submit(run, first), pool.submit(run, second)
        return a.result(), b.result()


def test_cancel_racing_the_worker_leaves_one_outcome(db, make_container, host_lock):
    container = make_container()
    outcomes = set()
    for _ in range(ROUNDS):
        request_id = create(size="512x512")
        (cancel_status, cancel_body), (_, work_body) = race(
            lambda rid=request_id: cancel(rid), lambda rid=request_id: deliver(rid)
        )
        doc = request_doc(db, request_id)
        outcomes.add(doc["status"])
        if doc["status"] == "cancelled":
            assert cancel_status == 200
            assert work_body["result"]["result"] in ("skipped", "superseded")
            assert not stored(container, f"generated/arda/{request_id}.png")
            assert [r["generation_request_id"] for r in refunds(db)].count(request_id) == 1
        else:
            assert doc["status"] == "completed"
            assert (cancel_status, cancel_body["error"]) == (409, "not_cancellable")
            assert request_id not in [r["generation_request_id"] for r in refunds(db)]
    assert outcomes <= {"cancelled", "completed"}


def test_cancel_racing_the_sweeper_refunds_once(db, make_container, host_lock):
    container = make_container()
    sweeper = later_sweeper(container)
    for _ in range(ROUNDS):
        request_id = create(size="512x512")
        age(db, request_id, "processing")
        (cancel_status, cancel_body), _ = race(
            lambda rid=request_id: cancel(rid), lambda: sweeper.recover_stuck(TIMEOUTS)
        )
        doc = request_doc(db, request_id)
        assert doc["status"] in ("cancelled", "failed"), doc
        if doc["status"] == "cancelled":
            assert cancel_status == 200
        else:
            assert (cancel_status, cancel_body["error"]) == (409, "not_cancellable")
        assert [r["generation_request_id"] for r in refunds(db)].count(request_id) == 1
    assert balance(db, "arda") == 500
