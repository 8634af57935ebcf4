"""`Prefer: wait` on the emulators: createGenerationRequest and getGenerationStatus hold their
answer until the request is terminal or the wait ends, and a bad header charges nothing.

In-process tests run the functions of main.py on a container of their own: a queue that hands
each task to the worker on a thread (a moment later, as Cloud Tasks would), or a RecordingQueue
that delivers nothing. The last tests go through the Functions emulator over HTTP, where the
`test` profile makes Model A succeed, with its task delivered by the Cloud Tasks emulator.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from flask import Response
from google.cloud import firestore

import main
from container import Container
from tests.integration.conftest import (
    FUNCTIONS_BASE,
    RecordingQueue,
    balance,
    request_body,
    transactions,
)
from tests.integration.test_http_flow import assert_image
from tests.support.auth_emulator import OTHER, OWNER, bearer
from tests.support.http import make_request

DELIVERY_DELAY_SECONDS = 0.3  # the task reaches the worker a moment after the create answers


class DeliveringQueue(RecordingQueue):
    """Hands every enqueued task to the container's worker on a thread, after a short delay."""

    def __init__(self) -> None:
        super().__init__()
        self.container: Container | None = None
        self.threads: list[threading.Thread] = []

    def enqueue(self, generation_request_id: str) -> None:
        super().enqueue(generation_request_id)
        thread = threading.Thread(target=self._deliver, args=(generation_request_id,))
        self.threads.append(thread)
        thread.start()

    def _deliver(self, generation_request_id: str) -> None:
        time.sleep(DELIVERY_DELAY_SECONDS)
        assert self.container is not None
        self.container.worker_controller.handle_task({"generationRequestId": generation_request_id})

    def join(self) -> None:
        for thread in self.threads:
            thread.join(timeout=30)


@pytest.fixture
def delivering(make_container: Callable[..., Container]) -> Iterator[Callable[..., Container]]:
    """make_container with a DeliveringQueue; every delivery has finished when the test ends."""
    queues: list[DeliveringQueue] = []

    def build(**settings: Any) -> Container:
        queue = DeliveringQueue()
        queues.append(queue)
        queue.container = make_container(queue=queue, **settings)
        return queue.container

    yield build
    for queue in queues:
        queue.join()


def send(
    handler: Callable[..., Response], method: str = "POST", **kwargs: Any
) -> tuple[int, Any, Any]:
    """Call an HTTP function in-process: status, JSON body and headers."""
    response = handler(make_request(method, **kwargs))
    return response.status_code, response.get_json(), response.headers


def create(prefer: str | None, user_id: str = "arda", **kwargs: Any) -> tuple[int, Any, Any]:
    headers = dict(kwargs.pop("headers", None) or {})
    if prefer is not None:
        headers["Prefer"] = prefer
    body = request_body(user_id, **kwargs)
    return send(main.createGenerationRequest, json_body=body, headers=headers)


def status_of(request_id: str, prefer: str | None, **headers: str) -> tuple[int, Any, Any]:
    if prefer is not None:
        headers["Prefer"] = prefer
    query = {"generationRequestId": request_id}
    return send(main.getGenerationStatus, "GET", query=query, headers=headers)


def requests_of(db: firestore.Client, user_id: str) -> list[dict[str, Any]]:
    query = db.collection("generation_requests").where(
        filter=firestore.FieldFilter("user_id", "==", user_id)
    )
    return [snap.to_dict() or {} for snap in query.stream()]


# --- createGenerationRequest ------------------------------------------------------------------
def test_create_with_wait_answers_the_finished_image_in_one_call(db, delivering):
    delivering()
    started = time.monotonic()
    status, body, headers = create("wait=10")
    elapsed = time.monotonic() - started
    assert status == 200, body
    assert headers["Preference-Applied"] == "wait=10"
    assert (body["status"], body["progress"], body["error_message"]) == ("completed", 100.0, None)
    assert body["deductedCredits"] == 3 and body["completed_at"].endswith("+00:00")
    assert_image(body["imageUrl"], body["generationRequestId"], (1024, 1024))
    assert DELIVERY_DELAY_SECONDS <= elapsed < 10  # it did wait, and answered once terminal
    assert balance(db, "arda") == 497


def test_create_with_wait_answers_a_failed_request_refunded(db, delivering):
    delivering(failure_rates={"Model B": 1.0})
    status, body, headers = create("wait", model="Model B", size="512x512")
    assert status == 200, body
    assert headers["Preference-Applied"] == "wait=60"
    assert body["status"] == "failed" and body["error_message"] and body["imageUrl"] is None
    assert body["deductedCredits"] == 1
    assert balance(db, "arda") == 500
    assert sorted(t["type"] for t in transactions(db, "arda")) == ["deduction", "refund"]


def test_a_request_nobody_processes_answers_202_when_the_wait_ends(db, make_container):
    container = make_container()  # a RecordingQueue: nothing is ever delivered
    started = time.monotonic()
    status, body, headers = create("wait=1")
    elapsed = time.monotonic() - started
    assert status == 202, body
    assert headers["Preference-Applied"] == "wait=1"
    assert 1.0 <= elapsed < 5.0  # held for the wait, not much longer
    assert (body["status"], body["progress"], body["imageUrl"]) == ("queued", 10.0, None)
    assert body["deductedCredits"] == 3
    assert container.queue.enqueued == [body["generationRequestId"]]
    assert balance(db, "arda") == 497


def test_without_prefer_the_create_answer_is_the_original_one(make_container):
    make_container()
    status, body, headers = create(None)
    assert status == 202
    assert set(body) == {"generationRequestId", "status", "deductedCredits", "imageUrl"}
    assert "Preference-Applied" not in headers


def test_an_idempotent_replay_waits_on_its_request(db, make_container):
    container = make_container()  # the first call's task is delivered by hand below
    key = {"Idempotency-Key": "wait-replay-1"}
    status, first, _ = create(None, headers=key)
    assert status == 202
    request_id = first["generationRequestId"]

    def deliver_later() -> None:
        time.sleep(0.5)
        container.worker_controller.handle_task({"generationRequestId": request_id})

    worker = threading.Thread(target=deliver_later)
    worker.start()
    status, replay, headers = create("wait=15", headers=key)
    worker.join()
    assert status == 200, replay
    assert (replay["generationRequestId"], replay["status"]) == (request_id, "completed")
    assert replay["deductedCredits"] == 3 and headers["Preference-Applied"] == "wait=15"
    assert balance(db, "arda") == 497  # charged once
    assert container.queue.enqueued == [request_id]


@pytest.mark.parametrize(
    "prefer", ["wait=abc", "wait=0", "wait=61", "wait=-1", "wait=1.5", "wait=5, wait=6"]
)
def test_a_bad_prefer_is_400_and_charges_nothing(db, make_container, prefer):
    container = make_container()
    status, body, headers = create(prefer)
    assert status == 400, body
    assert (body["success"], body["error_type"], body["error"]) == (
        False,
        "validation",
        "invalid_prefer",
    )
    assert [d["field"] for d in body["details"]] == ["Prefer"]
    assert "Preference-Applied" not in headers
    assert balance(db, "arda") == 500
    assert transactions(db, "arda") == [] and requests_of(db, "arda") == []
    assert container.queue.enqueued == []


# --- getGenerationStatus ----------------------------------------------------------------------
def settle_midway(container: Container, request_id: str, how: str) -> threading.Thread:
    def run() -> None:
        time.sleep(0.5)
        if how == "cancel":
            send(main.cancelGenerationRequest, json_body={"generationRequestId": request_id})
        else:
            container.worker_controller.handle_task({"generationRequestId": request_id})

    thread = threading.Thread(target=run)
    thread.start()
    return thread


@pytest.mark.parametrize(("how", "final"), [("cancel", "cancelled"), ("deliver", "completed")])
def test_a_status_wait_returns_as_soon_as_another_caller_settles_it(make_container, how, final):
    container = make_container()
    request_id = create(None)[1]["generationRequestId"]
    other = settle_midway(container, request_id, how)
    started = time.monotonic()
    status, body, headers = status_of(request_id, "wait=30")
    elapsed = time.monotonic() - started
    other.join()
    assert status == 200, body
    assert (body["generationRequestId"], body["status"]) == (request_id, final)
    assert headers["Preference-Applied"] == "wait=30"
    assert 0.5 <= elapsed < 5.0  # within a poll interval of the change, far from 30 s


def test_a_status_wait_that_ends_is_200_with_the_request_as_it_stands(make_container):
    make_container()
    request_id = create(None)[1]["generationRequestId"]
    started = time.monotonic()
    status, body, headers = status_of(request_id, "wait=1")
    assert 1.0 <= time.monotonic() - started < 5.0
    assert (status, body["status"], headers["Preference-Applied"]) == (200, "queued", "wait=1")


def test_a_status_read_without_prefer_is_unchanged(make_container):
    make_container()
    request_id = create(None)[1]["generationRequestId"]
    status, body, headers = status_of(request_id, None)
    assert (status, body["status"]) == (200, "queued")
    assert "Preference-Applied" not in headers


@pytest.mark.parametrize("prefer", ["wait=abc", "wait=61", "wait=1, wait=2"])
def test_a_status_read_with_a_bad_prefer_is_400(make_container, prefer):
    make_container()
    request_id = create(None)[1]["generationRequestId"]
    status, body, _ = status_of(request_id, prefer)
    assert (status, body["error"]) == (400, "invalid_prefer")


def test_an_unknown_request_is_404_without_waiting(make_container):
    make_container()
    started = time.monotonic()
    status, body, headers = status_of("00000000-0000-4000-8000-000000000000", "wait=30")
    assert (status, body["error"]) == (404, "generation_not_found")
    assert time.monotonic() - started < 5.0 and "Preference-Applied" not in headers


# --- with auth required -----------------------------------------------------------------------
def test_with_auth_required_the_owner_waits_with_a_token(db, delivering, tokens):
    container = delivering(require_auth=True)
    token = bearer(tokens[OWNER])
    status, body, headers = create("wait=10", headers=token)
    assert status == 200, body
    assert body["status"] == "completed" and headers["Preference-Applied"] == "wait=10"
    request_id = body["generationRequestId"]

    status, again, _ = status_of(request_id, "wait=5", **token)
    assert (status, again["status"]) == (200, "completed")
    # Another user's token: the request stays hidden, answered at once (no wait on it).
    started = time.monotonic()
    status, hidden, _ = status_of(request_id, "wait=30", **bearer(tokens[OTHER]))
    assert (status, hidden["error"]) == (404, "generation_not_found")
    assert time.monotonic() - started < 5.0
    assert container.queue.enqueued == [request_id]


def test_with_auth_required_the_credential_is_checked_before_the_header(db, make_container):
    make_container(require_auth=True)
    status, body, _ = create("wait=abc")  # no token, and a bad Prefer: the 401 comes first
    assert (status, body["error_type"]) == (401, "unauthenticated")
    status, body, _ = create("wait=10", headers={"Authorization": "Bearer garbage"})
    assert (status, body["error_type"]) == (401, "unauthenticated")
    assert balance(db, "arda") == 500 and requests_of(db, "arda") == []


# --- end to end through the Functions emulator ------------------------------------------------
needs_suite = pytest.mark.skipif(
    not os.environ.get("CLOUD_TASKS_EMULATOR_HOST"), reason="needs the full emulator suite"
)
AUTH_REQUIRED = os.environ.get("REQUIRE_AUTH", "").strip().lower() == "true"


@needs_suite
@pytest.mark.parametrize(
    "credential",
    [
        pytest.param(
            "none", marks=pytest.mark.skipif(AUTH_REQUIRED, reason="the open emulator mode")
        ),
        "token",
    ],
)
def test_one_http_call_returns_the_finished_image(db, tokens, credential):
    """The README's `curl -H 'Prefer: wait'`: one call, the image URL in the answer."""
    headers = {"Prefer": "wait"} | (bearer(tokens[OWNER]) if credential == "token" else {})
    response = requests.post(
        f"{FUNCTIONS_BASE}/createGenerationRequest",
        json=request_body(),
        headers=headers,
        timeout=90,
    )
    assert response.status_code == 200, response.text
    assert response.headers["Preference-Applied"] == "wait=60"
    assert response.headers["Access-Control-Expose-Headers"] == "Preference-Applied"
    body = response.json()
    assert body["status"] == "completed" and body["deductedCredits"] == 3
    assert_image(body["imageUrl"], body["generationRequestId"], (1024, 1024))

    status = requests.get(
        f"{FUNCTIONS_BASE}/getGenerationStatus",
        params={"generationRequestId": body["generationRequestId"]},
        headers=headers | {"Prefer": "wait=5"},
        timeout=30,
    )
    assert status.status_code == 200 and status.headers["Preference-Applied"] == "wait=5"
    assert status.json()["imageUrl"] == body["imageUrl"]
    assert balance(db, "arda") == 497


@needs_suite
def test_http_preflight_allows_prefer():
    preflight = requests.options(
        f"{FUNCTIONS_BASE}/createGenerationRequest",
        headers={
            "Origin": "http://example.com",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type, prefer",
        },
        timeout=30,
    )
    assert preflight.status_code == 204
    allowed = [h.strip() for h in preflight.headers["Access-Control-Allow-Headers"].split(",")]
    assert "Prefer" in allowed
