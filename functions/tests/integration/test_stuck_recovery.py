"""recoverStuckGenerations: stuck requests are failed and refunded exactly once, and a sweep
racing a worker leaves exactly one outcome."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import main
from core.clock import SystemClock
from schemas.documents import GenerationOutcome, GenerationRecord
from services.worker_service import TIMEOUT_MESSAGE, GenerationWorker, WorkResult
from tests.integration.conftest import balance, request_body, transactions
from tests.support.http import _APP, call, make_request

TIMEOUT = timedelta(seconds=600)


class LaterClock:
    """The clock of a sweeper that runs after the timeout has passed."""

    def __init__(self, ahead: timedelta) -> None:
        self._ahead = ahead

    def now(self) -> datetime:
        return SystemClock().now() + self._ahead


def create(user_id: str = "arda", **overrides: Any) -> str:
    status, body = call(main.createGenerationRequest, json_body=request_body(user_id, **overrides))
    assert status == 202, body
    return str(body["generationRequestId"])


def age(db: Any, request_id: str, status: str | None = None) -> None:
    changes: dict[str, Any] = {"updated_at": datetime.now(UTC) - TIMEOUT - timedelta(minutes=1)}
    if status:
        changes["status"] = status
    db.collection("generation_requests").document(request_id).update(changes)


def request_doc(db: Any, request_id: str) -> dict[str, Any]:
    return db.collection("generation_requests").document(request_id).get().to_dict()


def sweep() -> int:
    """Run the scheduled function the way Cloud Scheduler does."""
    with _APP.app_context():
        response = main.recoverStuckGenerations(make_request("POST"))
    return response.status_code


def refunds(db: Any, user_id: str = "arda") -> list[dict[str, Any]]:
    return [t for t in transactions(db, user_id) if t["type"] == "refund"]


def later_sweeper(container: Any) -> GenerationWorker:
    """A sweeper in another instance whose clock is past the timeout of fresh requests."""
    return GenerationWorker(
        container.generations, container.simulator, LaterClock(TIMEOUT + timedelta(minutes=1))
    )


def test_stuck_queued_request_is_failed_and_refunded_once(db, make_container):
    make_container()
    stuck = create()
    fresh = create()
    age(db, stuck)

    assert sweep() == 200
    assert sweep() == 200

    doc = request_doc(db, stuck)
    assert doc["status"] == "failed" and doc["error_message"] == TIMEOUT_MESSAGE
    assert doc["image_url"] is None and doc["completed_at"] is not None
    assert request_doc(db, fresh)["status"] == "queued"
    assert len(refunds(db)) == 1
    assert balance(db, "arda") == 500 - 3  # only the fresh request is still charged


def test_stuck_processing_request_is_recovered_and_a_late_delivery_is_a_no_op(db, make_container):
    container = make_container()
    request_id = create()
    age(db, request_id, status="processing")

    assert container.worker_controller.recover_stuck() == 1
    assert container.worker_controller.recover_stuck() == 0
    assert container.worker_controller.handle_task({"generationRequestId": request_id}) == {
        "result": "skipped"
    }
    assert request_doc(db, request_id)["status"] == "failed"
    assert len(refunds(db)) == 1 and balance(db, "arda") == 500


def test_sweep_during_generation_wins_and_the_worker_is_superseded(db, make_container):
    """The worker has started (processing) and is generating when a sweep fails the request:
    the worker's completion must not apply, and the refund happens once."""
    container = make_container()
    request_id = create()
    generate = container.simulator.generate

    def slow_generation(record: GenerationRecord, now: Any) -> GenerationOutcome:
        assert later_sweeper(container).recover_stuck(int(TIMEOUT.total_seconds())) == 1
        return generate(record, now)

    container.simulator.generate = slow_generation  # type: ignore[method-assign]
    assert container.worker_controller.handle_task({"generationRequestId": request_id}) == {
        "result": WorkResult.SUPERSEDED.value
    }

    doc = request_doc(db, request_id)
    assert doc["status"] == "failed" and doc["image_url"] is None
    assert len(refunds(db)) == 1 and balance(db, "arda") == 500
    assert db.collection("users").document("arda").get().get("total_images_generated") == 0


def test_sweep_after_completion_changes_nothing(db, make_container):
    container = make_container()
    request_id = create()
    container.worker_controller.handle_task({"generationRequestId": request_id})

    assert later_sweeper(container).recover_stuck(int(TIMEOUT.total_seconds())) == 0
    assert request_doc(db, request_id)["status"] == "completed"
    assert refunds(db) == [] and balance(db, "arda") == 500 - 3


def test_concurrent_sweeps_and_deliveries_leave_one_outcome_each(db, make_container):
    container = make_container()
    ids = [create(size="512x512") for _ in range(6)]
    sweeper = later_sweeper(container)
    barrier = threading.Barrier(len(ids) + 2)

    def deliver(request_id: str) -> str:
        barrier.wait()
        return container.worker_controller.handle_task({"generationRequestId": request_id})[
            "result"
        ]

    def sweep_all(_: int) -> int:
        barrier.wait()
        return sweeper.recover_stuck(int(TIMEOUT.total_seconds()))

    with ThreadPoolExecutor(len(ids) + 2) as pool:
        deliveries = [pool.submit(deliver, request_id) for request_id in ids]
        sweeps = [pool.submit(sweep_all, n) for n in range(2)]
        results = [f.result() for f in deliveries]
        recovered = sum(f.result() for f in sweeps)

    docs = {request_id: request_doc(db, request_id) for request_id in ids}
    failed = [i for i, d in docs.items() if d["status"] == "failed"]
    completed = [i for i, d in docs.items() if d["status"] == "completed"]
    assert len(failed) + len(completed) == len(ids), docs
    assert recovered == len(failed)
    assert results.count("completed") == len(completed)
    assert sorted(t["generation_request_id"] for t in refunds(db)) == sorted(failed)
    assert balance(db, "arda") == 500 - len(completed)
    images = db.collection("users").document("arda").get().get("total_images_generated")
    assert images == len(completed)
    # the autouse fixture checks the whole ledger invariant afterwards
