"""Cancel-After on the real emulators: a bad header is 400 and changes nothing; a request still
in flight past its deadline is cancelled with its one refund by whoever gets there first (a
status read, plain or waiting, the sweeper, or the worker before it starts or before it
settles), and a worker racing the deadline leaves exactly one outcome (with and without the
host lock). "Past the deadline" is made by moving the stored `cancel_at` back; the last tests
wait a real 5 s deadline out over HTTP through the Functions emulator."""

from __future__ import annotations

import os
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

import main
from schemas.documents import GenerationRecord
from services.model_simulator import ModelRun
from tests.integration.conftest import FUNCTIONS_BASE, balance, request_body, transactions
from tests.integration.test_cancel import ROUNDS, deliver, race, refunds, request_doc, stored
from tests.integration.test_prefer_wait import requests_of, send, status_of
from tests.integration.test_stuck_recovery import sweep
from tests.support.auth_emulator import OWNER, bearer

DEADLINE_REFUND = "Refund: Cancelled at its Cancel-After deadline"


def create(cancel_after: str | None = "30s", user_id: str = "arda", **headers: str) -> str:
    status, body = create_call(cancel_after, user_id, **headers)
    assert status == 202, body
    return str(body["generationRequestId"])


def create_call(cancel_after: str | None, user_id: str = "arda", **headers: str) -> tuple[int, Any]:
    if cancel_after is not None:
        headers["Cancel-After"] = cancel_after
    status, body, _ = send(
        main.createGenerationRequest, json_body=request_body(user_id), headers=headers
    )
    return status, body


def expire(db: Any, request_id: str, at: datetime | None = None) -> None:
    """Move the request's deadline to `at` (default: a second ago)."""
    at = at or datetime.now(UTC) - timedelta(seconds=1)
    db.collection("generation_requests").document(request_id).update({"cancel_at": at})


def assert_cancelled_at_deadline(db: Any, request_id: str, user_id: str = "arda") -> None:
    doc = request_doc(db, request_id)
    assert (doc["status"], doc["cancel_reason"]) == ("cancelled", "deadline"), doc
    mine = [r for r in refunds(db, user_id) if r["generation_request_id"] == request_id]
    assert [r["description"] for r in mine] == [DEADLINE_REFUND]


# --- the header ----------------------------------------------------------------------------
@pytest.mark.parametrize("value", ["4s", "25h", "0", "-1", "abc", "1.5m", "", "9" * 4000])
def test_a_bad_cancel_after_is_400_and_changes_nothing(db, make_container, value):
    container = make_container()
    status, body = create_call(value)
    assert status == 400, body
    assert (body["success"], body["error"]) == (False, "invalid_cancel_after")
    assert [d["field"] for d in body["details"]] == ["Cancel-After"]
    assert balance(db, "arda") == 500 and requests_of(db, "arda") == []
    assert transactions(db, "arda") == [] and container.queue.enqueued == []


def test_the_deadline_is_stored_and_shown(db, make_container):
    make_container()
    request_id = create("5m")
    doc = request_doc(db, request_id)
    assert doc["cancel_at"] - doc["created_at"] == timedelta(minutes=5)
    status, body, _ = status_of(request_id, None)
    assert (status, body["status"]) == (200, "queued")
    assert datetime.fromisoformat(body["cancelAt"]) == doc["cancel_at"]
    assert body["cancelReason"] is None

    plain = create(None)
    assert "cancel_at" in request_doc(db, plain) and request_doc(db, plain)["cancel_at"] is None
    assert status_of(plain, None)[1]["cancelAt"] is None


def test_an_idempotent_replay_keeps_the_first_deadline(db, make_container):
    make_container()
    first = create("30s", **{"Idempotency-Key": "k1"})
    deadline = request_doc(db, first)["cancel_at"]
    time.sleep(1.1)
    assert create("30s", **{"Idempotency-Key": "k1"}) == first
    assert request_doc(db, first)["cancel_at"] == deadline
    status, body = create_call("60s", **{"Idempotency-Key": "k1"})  # another deadline
    assert (status, body["error_type"]) == (422, "idempotency_conflict"), body
    status, body = create_call(None, **{"Idempotency-Key": "k1"})  # or none at all
    assert status == 422, body
    assert balance(db, "arda") == 497


# --- who cancels it ---------------------------------------------------------------------------
@pytest.mark.parametrize("prefer", [None, "wait=5"])
def test_a_status_read_cancels_a_queued_request_past_its_deadline(db, make_container, prefer):
    container = make_container()
    request_id = create()
    expire(db, request_id)
    started = time.monotonic()
    status, body, _ = status_of(request_id, prefer)
    assert time.monotonic() - started < 3  # nothing left to wait for
    assert status == 200, body
    assert (body["status"], body["cancelReason"]) == ("cancelled", "deadline")
    assert_cancelled_at_deadline(db, request_id)
    assert balance(db, "arda") == 500
    assert container.queue.cancelled == [request_id]  # its task is deleted (best effort)
    assert status_of(request_id, None)[1] == body  # read again: the same, one refund
    assert len(refunds(db)) == 1
    status, work = deliver(request_id)  # the task, if it still runs, does nothing
    assert (status, work["result"]["result"]) == (200, "skipped")


def test_a_wait_ends_at_the_deadline_with_the_request_cancelled(db, make_container):
    make_container()
    request_id = create()
    expire(db, request_id, datetime.now(UTC) + timedelta(seconds=2))
    started = time.monotonic()
    status, body, _ = status_of(request_id, "wait=30")
    assert 1.5 < time.monotonic() - started < 6
    assert (status, body["status"], body["cancelReason"]) == (200, "cancelled", "deadline")
    assert_cancelled_at_deadline(db, request_id)


def test_a_listing_shows_it_cancelled(db, make_container):
    make_container()
    request_id = create()
    expire(db, request_id)
    status, body, _ = send(main.listGenerationRequests, "GET", query={"userId": "arda"})
    assert status == 200, body
    [item] = [r for r in body["requests"] if r["generationRequestId"] == request_id]
    assert (item["status"], item["cancelReason"]) == ("cancelled", "deadline")
    assert_cancelled_at_deadline(db, request_id)


def test_the_sweeper_cancels_queued_requests_past_their_deadline(db, make_container):
    make_container()
    past, later, none = create(), create("1h"), create(None)
    expire(db, past)
    assert sweep() == 200
    assert_cancelled_at_deadline(db, past)
    assert [request_doc(db, r)["status"] for r in (later, none)] == ["queued", "queued"]
    assert sweep() == 200  # again: nothing more
    assert len(refunds(db)) == 1 and balance(db, "arda") == 500 - 3 - 3


def test_the_worker_does_not_start_a_request_past_its_deadline(db, make_container):
    container = make_container()
    request_id = create()
    expire(db, request_id)
    status, body = deliver(request_id)
    assert (status, body["result"]["result"]) == (200, "expired")
    assert_cancelled_at_deadline(db, request_id)
    assert not stored(container, f"generated/arda/{request_id}.png")
    assert balance(db, "arda") == 500


@pytest.mark.parametrize("who", ["worker", "reader"])
def test_a_result_after_the_deadline_is_discarded(db, make_container, who):
    """The deadline passes while the worker generates: the worker's own check before it settles,
    or a status read meanwhile, cancels it; the picture it stored is removed."""
    container = make_container()
    request_id = create()
    deadline = datetime.now(UTC) + timedelta(seconds=1)
    expire(db, request_id, deadline)  # the worker starts before it
    generate = container.simulator.generate

    def deadline_passes(record: GenerationRecord) -> ModelRun:
        time.sleep(max(0.0, (deadline - datetime.now(UTC)).total_seconds()) + 0.1)
        if who == "reader":
            assert status_of(request_id, None)[1]["status"] == "cancelled"
        return generate(record)

    container.simulator.generate = deadline_passes  # type: ignore[method-assign]
    status, body = deliver(request_id)
    assert (status, body["result"]["result"]) == (
        200,
        "expired" if who == "worker" else "superseded",
    )
    assert_cancelled_at_deadline(db, request_id)
    assert request_doc(db, request_id)["image_url"] is None
    assert not stored(container, f"generated/arda/{request_id}.png")
    assert balance(db, "arda") == 500


def test_a_user_cancel_says_user(db, make_container):
    make_container()
    request_id = create()
    status, body = send(
        main.cancelGenerationRequest, json_body={"generationRequestId": request_id}
    )[:2]
    assert (status, body["cancelReason"]) == (200, "user")
    assert request_doc(db, request_id)["cancel_reason"] == "user"


def test_a_worker_racing_the_deadline_leaves_one_outcome(db, make_container, host_lock):
    """The deadline falls while the worker runs and a reader polls: completed (no refund) or
    cancelled at the deadline (one refund, no picture), never both."""
    container = make_container()
    outcomes = set()
    for _ in range(ROUNDS):
        request_id = create("5m")
        expire(db, request_id, datetime.now(UTC) + timedelta(milliseconds=150))

        def read_until_settled(rid: str = request_id) -> str:
            for _ in range(100):
                body = status_of(rid, None)[1]
                if body["status"] in ("completed", "cancelled"):
                    return str(body["status"])
                time.sleep(0.02)
            return "in flight"

        def work_at_the_deadline(rid: str = request_id) -> Any:
            time.sleep(0.15)
            return deliver(rid)

        seen, (_, work) = race(read_until_settled, work_at_the_deadline)
        doc = request_doc(db, request_id)
        outcomes.add(doc["status"])
        assert seen == doc["status"]
        mine = [r for r in refunds(db) if r["generation_request_id"] == request_id]
        if doc["status"] == "cancelled":
            assert doc["cancel_reason"] == "deadline" and len(mine) == 1
            assert work["result"]["result"] in ("skipped", "superseded", "expired")
            assert not stored(container, f"generated/arda/{request_id}.png")
        else:
            assert doc["status"] == "completed" and mine == []
            assert work["result"]["result"] == "completed"
    assert outcomes <= {"cancelled", "completed"}


def test_many_readers_at_the_deadline_refund_once(db, make_container, host_lock):
    make_container()
    request_id = create()
    expire(db, request_id)
    barrier = threading.Barrier(10)
    answers: list[Any] = []

    def read() -> None:
        barrier.wait()
        answers.append(status_of(request_id, None)[1])

    threads = [threading.Thread(target=read) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert {(a["status"], a["cancelReason"]) for a in answers} == {("cancelled", "deadline")}
    assert_cancelled_at_deadline(db, request_id)
    assert balance(db, "arda") == 500


# --- over HTTP through the Functions emulator ---------------------------------------------------
needs_suite = pytest.mark.skipif(
    not os.environ.get("CLOUD_TASKS_EMULATOR_HOST"), reason="needs the full emulator suite"
)


def http(method: str, function: str, token: str, **kwargs: Any) -> requests.Response:
    headers = kwargs.pop("headers", {}) | bearer(token)
    return requests.request(
        method, f"{FUNCTIONS_BASE}/{function}", headers=headers, timeout=90, **kwargs
    )


@needs_suite
def test_over_http_a_request_nobody_runs_reads_cancelled_after_its_5s(db, make_container, tokens):
    make_container()  # created in-process: nothing is enqueued, so no worker ever runs it
    before = balance(db, OWNER)
    request_id = create("5s", user_id=OWNER)
    params = {"generationRequestId": request_id}
    first = http("GET", "getGenerationStatus", tokens[OWNER], params=params)
    assert first.status_code == 200, first.text
    assert first.json()["status"] == "queued" and first.json()["cancelAt"] is not None
    deadline = datetime.fromisoformat(first.json()["cancelAt"])
    time.sleep(max(0.0, (deadline - datetime.now(UTC)).total_seconds()))
    after = http("GET", "getGenerationStatus", tokens[OWNER], params=params)
    assert after.status_code == 200, after.text
    assert (after.json()["status"], after.json()["cancelReason"]) == ("cancelled", "deadline")
    assert_cancelled_at_deadline(db, request_id, OWNER)
    assert balance(db, OWNER) == before


@needs_suite
def test_over_http_a_wait_wakes_at_the_deadline(db, make_container, tokens):
    make_container()
    request_id = create("5s", user_id=OWNER)
    started = time.monotonic()
    response = http(
        "GET",
        "getGenerationStatus",
        tokens[OWNER],
        params={"generationRequestId": request_id},
        headers={"Prefer": "wait=30"},
    )
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "cancelled"
    assert time.monotonic() - started < 15  # woke at the deadline, not at the wait's end
    assert_cancelled_at_deadline(db, request_id, OWNER)


@needs_suite
def test_over_http_a_bad_cancel_after_is_400_and_a_good_one_accepted(db, tokens):
    before = balance(db, OWNER)
    bad = http(
        "POST",
        "createGenerationRequest",
        tokens[OWNER],
        json=request_body(OWNER),
        headers={"Cancel-After": "25h"},
    )
    assert bad.status_code == 400, bad.text
    assert bad.json()["error"] == "invalid_cancel_after"
    assert balance(db, OWNER) == before and requests_of(db, OWNER) == []
    good = http(
        "POST",
        "createGenerationRequest",
        tokens[OWNER],
        json=request_body(OWNER),
        headers={"Cancel-After": "1h", "Prefer": "wait"},
    )
    assert good.status_code in (200, 202), good.text
    body = good.json()
    assert body["cancelAt"] is not None and body["status"] != "cancelled"
