"""recoverStuckGenerations: stuck requests are failed and refunded exactly once, and a sweep
racing a worker leaves exactly one outcome."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

from google.cloud import firestore

import main
from core.clock import SystemClock
from schemas.documents import GenerationRecord
from services.model_simulator import ModelRun
from services.worker_service import (
    TIMEOUT_MESSAGE,
    GenerationWorker,
    StuckTimeouts,
    WorkResult,
)
from tests.integration.conftest import balance, request_body, transactions
from tests.support.http import _APP, call, make_request

TIMEOUT = timedelta(seconds=600)
TIMEOUTS = StuckTimeouts(processing_seconds=600, queued_seconds=600)


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


def later_sweeper(container: Any, webhooks: Any = None) -> GenerationWorker:
    """A sweeper in another instance whose clock is past the timeout of fresh requests (and so
    past the 10 minutes after which an untouched pending webhook delivery counts as lost)."""
    return GenerationWorker(
        container.generations,
        container.simulator,
        container.images,
        LaterClock(TIMEOUT + timedelta(minutes=1)),
        webhooks=webhooks,
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

    assert container.worker_controller.recover_stuck().refunded == 1
    assert container.worker_controller.recover_stuck().refunded == 0
    assert container.worker_controller.handle_task({"generationRequestId": request_id}) == {
        "result": "skipped"
    }
    assert request_doc(db, request_id)["status"] == "failed"
    assert len(refunds(db)) == 1 and balance(db, "arda") == 500


def test_sweep_during_generation_wins_and_the_worker_is_superseded(db, make_container, host_lock):
    """The worker has started (processing) and is generating when a sweep fails the request:
    the worker's completion must not apply, and the refund happens once."""
    container = make_container()
    request_id = create()
    generate = container.simulator.generate

    def slow_generation(record: GenerationRecord) -> ModelRun:
        assert later_sweeper(container).recover_stuck(TIMEOUTS).refunded == 1
        return generate(record)

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

    assert later_sweeper(container).recover_stuck(TIMEOUTS).refunded == 0
    assert request_doc(db, request_id)["status"] == "completed"
    assert refunds(db) == [] and balance(db, "arda") == 500 - 3


def test_concurrent_sweeps_and_deliveries_leave_one_outcome_each(db, make_container, host_lock):
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
        return sweeper.recover_stuck(TIMEOUTS).refunded

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


# --- one bad record never stops the sweep -------------------------------------------------------
def sweep_now() -> tuple[int, dict[str, Any]]:
    """The admin twin of the scheduled sweep, which answers its counts."""
    return call(main.sweepStuckGenerations, json_body={})


def test_bad_records_never_stop_refunds(db, make_container):
    """Oldest first: a malformed stuck request, then one whose owner was deleted, then a good
    one. One sweep refunds the good one exactly once; the others are finished or quarantined
    with a reason and are not examined again; nobody is refunded who does not exist."""
    make_container()
    malformed, orphan, good = create(), create("havanur", size="512x512"), create()
    for minutes, request_id in ((30, malformed), (20, orphan), (10, good)):
        stale = datetime.now(UTC) - TIMEOUT - timedelta(minutes=minutes)
        db.collection("generation_requests").document(request_id).update({"updated_at": stale})
    db.collection("generation_requests").document(malformed).update({"credits_deducted": "x"})
    # the owner's document is gone (its ledger goes with it, as an account deletion would)
    for tx in db.collection("users").document("havanur").collection("transactions").stream():
        tx.reference.delete()
    db.collection("users").document("havanur").delete()

    status, counts = sweep_now()

    assert status == 200, counts
    assert counts["examined"] == 3 and counts["refunded"] == 2, counts
    assert counts["quarantined"] == 1 and counts["skipped"] == 0, counts
    assert request_doc(db, good)["status"] == "failed" and len(refunds(db)) == 1
    assert balance(db, "arda") == 500 - 3  # the good one refunded; the malformed one held
    orphan_doc = request_doc(db, orphan)
    assert orphan_doc["status"] == "failed" and orphan_doc["settle_problem"] == "owner_missing"
    assert not db.collection("users").document("havanur").get().exists  # not re-created
    bad = request_doc(db, malformed)
    assert bad["status"] == "quarantined" and "credits_deducted" in bad["settle_problem"]
    # its fair-use slot is given back (it will never run); what it cost stays booked
    assert db.collection("users").document("arda").get().get("in_flight") == 0

    status, again = sweep_now()
    assert status == 200 and again["examined"] == 0, again
    # the malformed request keeps its charge for an operator: take it out of the invariant
    fix = {"status": "failed", "credits_deducted": 3}
    db.collection("generation_requests").document(malformed).update(fix)
    db.collection("users").document("arda").collection("transactions").document(
        f"refund_{malformed}"
    ).set(
        {
            "type": "refund",
            "credits": 3,
            "generation_request_id": malformed,
            "user_id": "arda",
            "timestamp": datetime.now(UTC),
            "description": "operator",
        }
    )
    db.collection("users").document("arda").update({"current_credits": firestore.Increment(3)})


def test_an_error_on_one_request_is_counted_and_the_rest_are_settled(db, make_container):
    container = make_container()
    first, second = create(), create()
    age(db, first)
    age(db, second)
    settle = container.generations.settle

    def flaky(request_id: str, *args: Any, **kwargs: Any) -> Any:
        if request_id == first:
            raise RuntimeError("injected: Firestore hiccup")
        return settle(request_id, *args, **kwargs)

    container.generations.settle = flaky  # type: ignore[method-assign]
    status, counts = sweep_now()

    assert status == 200 and "injected" not in json.dumps(counts), counts
    assert (counts["examined"], counts["refunded"], counts["skipped"]) == (2, 1, 1), counts
    assert request_doc(db, second)["status"] == "failed"
    container.generations.settle = settle  # type: ignore[method-assign]
    assert sweep_now()[1]["refunded"] == 1  # the next sweep settles the skipped one


def test_worker_of_a_deleted_owner_completes_without_touching_users(db, make_container):
    container = make_container()
    request_id = create("havanur", size="512x512")
    db.collection("users").document("havanur").delete()
    result = container.worker_controller.handle_task({"generationRequestId": request_id})
    assert result == {"result": "completed"}
    doc = request_doc(db, request_id)
    assert doc["status"] == "completed" and doc["settle_problem"] == "owner_missing"
    assert not db.collection("users").document("havanur").get().exists


# --- waiting in a long queue is not being stuck ---------------------------------------------------
class FakeTasks:
    """What Cloud Tasks would answer for get_task: the ids whose task still exists."""

    def __init__(self, pending: set[str]) -> None:
        self.pending = pending
        self.asked: list[str] = []

    def task_exists(self, request_id: str) -> bool | None:
        self.asked.append(request_id)
        return request_id in self.pending


def test_a_backlog_whose_tasks_are_pending_is_not_refunded(db, make_container):
    tasks = FakeTasks(pending=set())
    container = make_container(tasks=tasks)
    backlog = [create(size="512x512") for _ in range(4)]
    gone = create(size="512x512")
    for request_id in [*backlog, gone]:
        age(db, request_id)
    tasks.pending = set(backlog)

    status, counts = sweep_now()

    assert status == 200 and (counts["waiting"], counts["refunded"]) == (4, 1), counts
    assert sorted(container.tasks.asked) == sorted([*backlog, gone])
    assert [request_doc(db, r)["status"] for r in backlog] == ["queued"] * 4
    assert request_doc(db, gone)["status"] == "failed"
    assert [t["generation_request_id"] for t in refunds(db)] == [gone]


def test_without_a_task_lookup_queued_requests_get_the_longer_queued_timeout(db, make_container):
    """On the emulator (no get-task API) a queued request past the processing timeout but
    inside the queued timeout is still waiting; past the queued timeout it is refunded."""
    make_container(queued_timeout_seconds=3600)
    waiting, old, processing = create(), create(), create()
    age(db, waiting)  # 11 minutes
    age(db, processing, status="processing")
    very_old = datetime.now(UTC) - timedelta(hours=2)
    db.collection("generation_requests").document(old).update({"updated_at": very_old})

    status, counts = sweep_now()

    assert status == 200 and (counts["waiting"], counts["refunded"]) == (1, 2), counts
    assert request_doc(db, waiting)["status"] == "queued"
    assert request_doc(db, old)["status"] == "failed"
    assert request_doc(db, processing)["status"] == "failed"
