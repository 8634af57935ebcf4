"""`queuePosition` and `creditsCharged` / `creditsRefunded` on the emulators.

In-process tests create requests through main.py on a container whose RecordingQueue delivers
nothing, so they stay queued until a test hands a task to the worker. The count runs on the real
Firestore emulator (which serves it without the declared index: tests/unit/test_indexes.py checks
the index). The last tests go through the Functions emulator over HTTP.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from typing import Any

import pytest
import requests
from google.cloud import firestore

import main
from tests.integration.conftest import FUNCTIONS_BASE, request_body
from tests.integration.test_webhooks import WebhookTasks, cancel, dispatch, work
from tests.support.http import call
from tests.support.webhook_receiver import as_event_data, running_receiver

PLAIN = "1024x1024"  # 3 credits


def create(user_id: str = "arda", **overrides: Any) -> str:
    status, body = call(main.createGenerationRequest, json_body=request_body(user_id, **overrides))
    assert status == 202, body
    return str(body["generationRequestId"])


def status_of(request_id: str, **headers: str) -> dict[str, Any]:
    query = {"generationRequestId": request_id}
    status, body = call(main.getGenerationStatus, "GET", query=query, headers=headers)
    assert status == 200, body
    return dict(body)


def positions(*request_ids: str) -> list[Any]:
    return [status_of(request_id)["queuePosition"] for request_id in request_ids]


def listed(user_id: str) -> dict[str, dict[str, Any]]:
    status, body = call(main.listGenerationRequests, "GET", query={"userId": user_id})
    assert status == 200, body
    return {item["generationRequestId"]: item for item in body["requests"]}


# --- queuePosition ------------------------------------------------------------------------------
def test_queued_requests_of_every_user_are_counted_in_creation_order(db, make_container):
    make_container()
    first, second, third = create("arda"), create("emma_photo"), create("arda")
    assert positions(first, second, third) == [0, 1, 2]
    assert status_of(third)["status"] == "queued"

    # Processing is no longer queued: it has no position and no longer counts for the others.
    db.collection("generation_requests").document(first).update({"status": "processing"})
    assert positions(first, second, third) == [None, 0, 1]

    assert work(second) == "completed"
    assert positions(first, second, third) == [None, None, 0]
    assert status_of(second)["status"] == "completed"


def test_a_waited_status_read_and_a_waited_create_carry_the_position(make_container):
    make_container()
    ahead = create()
    waited = status_of(ahead, Prefer="wait=1")
    assert (waited["status"], waited["queuePosition"]) == ("queued", 0)

    body, prefer = request_body("emma_photo"), {"Prefer": "wait=1"}
    status, created = call(main.createGenerationRequest, json_body=body, headers=prefer)
    assert status == 202, created  # nobody works it: still queued when the wait ends
    assert (created["status"], created["queuePosition"]) == ("queued", 1)


def test_requests_created_at_the_same_instant_are_ordered_by_id(db, make_container):
    make_container()
    ids = [create() for _ in range(3)]
    same = datetime(2026, 1, 5, 12, 0, 0, 123456, tzinfo=UTC)
    for request_id in ids:
        db.collection("generation_requests").document(request_id).update({"created_at": same})
    by_id = sorted(ids)
    assert positions(*by_id) == [0, 1, 2]


def test_beyond_the_cap_the_position_is_cap_plus(make_container):
    make_container().queue_position_cap = 3  # production: 1000 ("1000+")
    ids = [create("arda" if i % 2 else "emma_photo") for i in range(5)]
    assert positions(*ids) == [0, 1, 2, 3, "3+"]


# --- creditsCharged / creditsRefunded -----------------------------------------------------------
def test_each_outcome_says_what_it_cost_in_status_list_and_webhook_event(db, make_container):
    container = make_container(failure_rates={"Model B": 1.0})
    container.webhooks = WebhookTasks()
    with running_receiver() as receiver:
        hook = {"webhookUrl": receiver.url()}
        completed = create(**hook)  # 3 credits
        failed = create(model="Model B", size="512x512", **hook)  # 1 credit, refunded
        cancelled = create(size="1024x1792", **hook)  # 4 credits, refunded
        queued = create()
        assert work(completed) == "completed"
        assert work(failed) == "failed"
        assert cancel(cancelled)[0] == 200
        for request_id in (completed, failed, cancelled):
            assert dispatch(request_id)[1]["result"] == {"result": "delivered"}
        events = {
            event["data"]["generationRequestId"]: event
            for event in (json.loads(r.body) for r in receiver.wait_for(3))
        }

    expected = {completed: (3, 0), failed: (1, 1), cancelled: (4, 4), queued: (3, 0)}
    items = listed("arda")
    for request_id, cost in expected.items():
        body = status_of(request_id)
        assert (body["creditsCharged"], body["creditsRefunded"]) == cost, body
        item = items[request_id]
        assert (item["creditsCharged"], item["creditsRefunded"]) == cost, item
        assert item["credits_deducted"] == cost[0]  # the original field stays
        if request_id != queued:
            data = events[request_id]["data"]
            assert (data["creditsCharged"], data["creditsRefunded"]) == cost, data
            assert data["queuePosition"] is None
            assert data == as_event_data(body)
    # what the ledger booked, without reading it at answer time
    booked = {request_id: [0, 0] for request_id in expected}
    for tx in db.collection("users").document("arda").collection("transactions").stream():
        entry = tx.to_dict() or {}
        side = {"deduction": 0, "refund": 1}[entry["type"]]
        booked[entry["generation_request_id"]][side] += entry["credits"]
    assert {k: tuple(v) for k, v in booked.items()} == expected


# --- over HTTP, through the Functions emulator --------------------------------------------------
needs_suite = pytest.mark.skipif(
    not os.environ.get("CLOUD_TASKS_EMULATOR_HOST"), reason="needs the full emulator suite"
)


def http_status(request_id: str) -> dict[str, Any]:
    response = requests.get(
        f"{FUNCTIONS_BASE}/getGenerationStatus",
        params={"generationRequestId": request_id},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


@needs_suite
def test_over_http_queued_requests_show_their_position_and_every_answer_its_cost(
    db: firestore.Client, make_container
):
    """Held in-process (no task), then read and cancelled through the Functions emulator."""
    if os.environ.get("REQUIRE_AUTH", "").strip().lower() == "true":
        pytest.skip("anonymous HTTP calls: the open emulator mode")
    make_container()
    first, second = create("arda"), create("emma_photo", size="512x512")
    assert [http_status(first)["queuePosition"], http_status(second)["queuePosition"]] == [0, 1]

    cancelled = requests.post(
        f"{FUNCTIONS_BASE}/cancelGenerationRequest",
        json={"generationRequestId": first},
        timeout=30,
    )
    assert cancelled.status_code == 200, cancelled.text
    body = http_status(first)
    assert (body["status"], body["queuePosition"]) == ("cancelled", None)
    assert (body["creditsCharged"], body["creditsRefunded"]) == (3, 3)
    assert http_status(second)["queuePosition"] == 0

    # A request the Functions emulator's own worker finishes: Model A completes in this profile.
    created = requests.post(
        f"{FUNCTIONS_BASE}/createGenerationRequest",
        json=request_body("emma_photo", size="512x512"),
        headers={"Prefer": "wait=30"},
        timeout=60,
    )
    assert created.status_code == 200, created.text
    done = created.json()
    assert (done["status"], done["queuePosition"]) == ("completed", None)
    assert (done["creditsCharged"], done["creditsRefunded"]) == (1, 0)
    listing = requests.get(
        f"{FUNCTIONS_BASE}/listGenerationRequests", params={"userId": "emma_photo"}, timeout=30
    )
    assert listing.status_code == 200, listing.text
    costs = {
        item["generationRequestId"]: (item["creditsCharged"], item["creditsRefunded"])
        for item in listing.json()["requests"]
    }
    assert costs[done["generationRequestId"]] == (1, 0) and costs[second] == (1, 0)
