"""At most MAX_PENDING_WEBHOOKS_PER_USER undelivered webhook events per user.

The cap is the user's `pending_webhooks` counter, checked and moved in the charging commit
(before any charge) and given back by the one attempt that ends the delivery (delivered, 410,
the last attempt) or by a quarantine. The ledger check after each test compares every user's
counter with its requests. In-process on the Firestore emulator, with a recording webhook queue;
the last test goes through the functions emulator with the deployed default (20).
"""

from __future__ import annotations

import contextlib
import os
import random
import socket
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

import main
from core.errors import ContentionError
from tests.integration.conftest import FUNCTIONS_BASE, balance, request_body
from tests.integration.test_stuck_recovery import TIMEOUT, TIMEOUTS, later_sweeper
from tests.integration.test_webhooks import (
    WebhookTasks,
    cancel,
    deliver_task,
    dispatch,
    hooks,  # noqa: F401  (fixture)
    receiver,  # noqa: F401  (fixture)
    request_doc,
    status_of,
    work,
)
from tests.support.auth_emulator import OWNER, bearer
from tests.support.http import _APP, call, make_request

DEFAULT_CAP = 20


def pending_webhooks(db: Any, user_id: str = OWNER) -> int:
    return int((db.collection("users").document(user_id).get().to_dict() or {})["pending_webhooks"])


def create_with(
    url: str | None, key: str | None = None, *, once: bool = False, **overrides: Any
) -> tuple[int, Any, Any]:
    """(status, body, headers) of one in-process create, sent again after a pause while the
    answer is 503 busy (nothing was written: what a client does with Retry-After)."""
    body = request_body(OWNER, **overrides) | ({"webhookUrl": url} if url else {})
    headers = {"Idempotency-Key": key} if key else {}
    give_up = time.monotonic() + 180
    while True:
        with _APP.app_context():
            response = main.createGenerationRequest(
                make_request("POST", json_body=body, headers=headers)
            )
        answer = response.get_json()
        if once or response.status_code != 503 or answer.get("error_type") != "busy":
            return response.status_code, answer, response.headers
        assert time.monotonic() < give_up, answer
        time.sleep(random.uniform(0.2, 1.5))


def accepted(url: str) -> str:
    """The id of a new 1-credit request with this webhookUrl."""
    status, body, _ = create_with(url, size="512x512")
    assert status == 202, body
    return str(body["generationRequestId"])


def requests_of(db: Any, user_id: str = OWNER) -> list[dict[str, Any]]:
    return [
        snap.to_dict() or {}
        for snap in db.collection("generation_requests").stream()
        if snap.get("user_id") == user_id
    ]


def test_one_more_than_the_cap_is_429_before_any_charge(db, hooks, receiver):  # noqa: F811
    hooks(max_pending_webhooks_per_user=3)
    ids = [accepted(receiver.url()) for _ in range(3)]
    assert pending_webhooks(db) == 3
    key = str(uuid.uuid4())

    status, body, headers = create_with(receiver.url(), key)

    assert status == 429, body
    assert (body["error_type"], body["error"]) == ("too_many_pending_webhooks",) * 2
    assert body["maxPendingWebhooks"] == 3
    assert int(headers["Retry-After"]) > 0
    assert balance(db, OWNER) == 500 - 3 and len(requests_of(db)) == 3
    assert pending_webhooks(db) == 3
    # a create without a webhookUrl is not affected
    status, body, _ = create_with(None, size="512x512")
    assert status == 202, body
    # a delivery that ends gives its slot back, and the refused key was not used up
    assert work(ids[0]) == "completed" and dispatch(ids[0])[1]["result"] == {"result": "delivered"}
    assert pending_webhooks(db) == 2
    status, body, _ = create_with(receiver.url(), key)
    assert status == 202, body
    assert create_with(receiver.url(), key)[0] == 202  # replayed: charged once
    assert balance(db, OWNER) == 500 - 3 - 1 - 3


def test_concurrent_creates_stop_at_the_default_cap(db, hooks, receiver, host_lock):  # noqa: F811
    """25 concurrent creates with a webhookUrl for one user with credits: exactly 20 accepted,
    every refusal charged nothing; once their events are delivered, creates are accepted.

    Without the host lock the emulator's pessimistic locks may answer some creates 503 busy
    (nothing written); the creates that follow, one at a time, then fill exactly the rest."""
    container = hooks()
    assert container.settings.max_pending_webhooks_per_user == DEFAULT_CAP
    clients = DEFAULT_CAP + 5
    barrier = threading.Barrier(clients)

    def one(_: int) -> tuple[int, Any]:
        barrier.wait()
        status, body, _ = create_with(receiver.url(), size="512x512", once=True)
        return status, body

    with ThreadPoolExecutor(clients) as pool:
        answers = list(pool.map(one, range(clients)))

    statuses = [status for status, _ in answers]
    accepted = statuses.count(202)
    assert set(statuses) <= {202, 429, 503}, statuses
    refusals = {b["error_type"] for s, b in answers if s != 202}
    assert refusals <= {"too_many_pending_webhooks", "busy"}, answers
    assert host_lock == "no-host-lock" or statuses.count(503) == 0, statuses
    assert accepted <= DEFAULT_CAP and balance(db, OWNER) == 500 - accepted
    assert pending_webhooks(db) == accepted
    if 429 in statuses:
        assert accepted == DEFAULT_CAP, statuses
    ids = [b["generationRequestId"] for s, b in answers if s == 202]
    while (answer := create_with(receiver.url(), size="512x512"))[0] == 202:
        ids.append(answer[1]["generationRequestId"])
    assert answer[0] == 429 and answer[1]["error_type"] == "too_many_pending_webhooks"
    assert len(ids) == DEFAULT_CAP and balance(db, OWNER) == 500 - DEFAULT_CAP
    assert pending_webhooks(db) == DEFAULT_CAP

    for request_id in ids:
        assert work(request_id) == "completed"
        assert dispatch(request_id)[1]["result"] == {"result": "delivered"}
    assert pending_webhooks(db) == 0
    assert create_with(receiver.url())[0] == 202


def test_the_slot_is_given_back_once_under_redelivery_sweeps_and_races(
    db,
    hooks,  # noqa: F811
    receiver,  # noqa: F811
    host_lock,
):
    """Per request at once: two worker deliveries, a cancel and a sweep; then each delivery
    task dispatched three times at once and the sweeper re-enqueueing it. One event each, and
    each request's slot given back exactly once."""
    container = hooks()
    sweeper = later_sweeper(container, container.webhook_notifier)
    ids = [accepted(receiver.url()) for _ in range(4)]
    assert pending_webhooks(db) == 4

    def at_once(actions: list[Any]) -> None:
        barrier = threading.Barrier(len(actions))

        def run(action: Any) -> None:
            barrier.wait()
            # a task that lost at its deadline: Cloud Tasks delivers it again (below)
            with contextlib.suppress(ContentionError):
                action()

        with ThreadPoolExecutor(len(actions)) as pool:
            for future in [pool.submit(run, action) for action in actions]:
                future.result()

    settles: list[Any] = []
    for request_id in ids:
        settles += [lambda r=request_id: deliver_task(r)] * 2
        settles += [lambda r=request_id: cancel(r), lambda: sweeper.recover_stuck(TIMEOUTS)]
    at_once(settles)
    for request_id in ids:  # whatever lost at its deadline, delivered again
        if request_doc(db, request_id)["status"] in ("queued", "processing"):
            deliver_task(request_id)
    assert pending_webhooks(db) == 4  # settled, not delivered yet

    deliveries: list[Any] = [lambda: sweeper.recover_stuck(TIMEOUTS)] * 2
    for request_id in ids:
        deliveries += [lambda r=request_id: dispatch(r)] * 3
    at_once(deliveries)
    for request_id in container.webhooks.tasks:  # the tasks that failed, retried
        dispatch(request_id)

    assert {request_doc(db, r)["webhook"]["state"] for r in ids} == {"delivered"}
    assert pending_webhooks(db) == 0


@pytest.fixture
def private_name(monkeypatch) -> str:
    """A host name that the system resolver answers with a private address."""
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host == "hooks.example.com":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.7", port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return "https://hooks.example.com/hook"  # a name: accepted at create


@pytest.mark.parametrize("ending", ["410", "last attempt", "refused address"])
def test_a_delivery_that_stops_gives_its_slot_back_once(db, hooks, receiver, private_name, ending):  # noqa: F811
    hooks(webhook_max_attempts=2)
    receiver.script = {"410": [410], "last attempt": [500, 502]}.get(ending, [])
    url = private_name if ending == "refused address" else receiver.url()
    request_id = accepted(url)
    work(request_id)
    for _ in range(2):
        assert pending_webhooks(db) == 1
        dispatch(request_id)
        if request_doc(db, request_id)["webhook"]["state"] != "pending":
            break
    assert request_doc(db, request_id)["webhook"]["state"] == "failed"
    assert pending_webhooks(db) == 0
    assert dispatch(request_id)[1]["result"] == {"result": "skipped"}  # one more from the queue
    assert pending_webhooks(db) == 0


def test_a_quarantined_request_gives_its_slot_back(db, hooks, receiver):  # noqa: F811
    hooks()
    malformed = accepted(receiver.url())
    stale = datetime.now(UTC) - TIMEOUT - timedelta(minutes=1)
    db.collection("generation_requests").document(malformed).update(
        {"updated_at": stale, "credits_deducted": "x"}
    )
    assert pending_webhooks(db) == 1
    status, counts = call(main.sweepStuckGenerations, json_body={})
    assert status == 200 and counts["quarantined"] == 1, counts
    assert pending_webhooks(db) == 0


def test_an_event_whose_owner_is_gone_is_still_delivered(db, hooks, receiver):  # noqa: F811
    hooks()
    request_id = accepted(receiver.url())
    work(request_id)
    for tx in db.collection("users").document(OWNER).collection("transactions").stream():
        tx.reference.delete()
    db.collection("users").document(OWNER).delete()
    status, body = dispatch(request_id)
    assert (status, body["result"]) == (200, {"result": "delivered"}), body
    assert not db.collection("users").document(OWNER).get().exists  # not re-created
    assert status_of(request_id)["webhook"]["state"] == "delivered"


# --- through the functions emulator, with the deployed default ---------------------------------
@pytest.mark.skipif(
    not os.environ.get("CLOUD_TASKS_EMULATOR_HOST"), reason="needs the full emulator suite"
)
def test_the_deployed_function_answers_429_at_the_default_cap(db, hooks, receiver, tokens):  # noqa: F811
    """20 settled requests whose events are not delivered yet (made in-process, their delivery
    tasks held by a recording queue); then the functions emulator's createGenerationRequest."""
    container = hooks()
    held = [accepted(receiver.url()) for _ in range(20)]
    for request_id in held:
        assert cancel(request_id)[0] == 200
    assert isinstance(container.webhooks, WebhookTasks) and len(container.webhooks.tasks) == 20
    url = f"{FUNCTIONS_BASE}/createGenerationRequest"
    auth = bearer(tokens[OWNER])

    def over_http(webhook_url: str | None) -> requests.Response:
        body = request_body(OWNER, size="512x512")
        body |= {"webhookUrl": webhook_url} if webhook_url else {}
        return requests.post(url, json=body, headers=auth, timeout=30)

    refused = over_http(receiver.url())
    assert refused.status_code == 429, refused.text
    assert refused.json()["error_type"] == "too_many_pending_webhooks"
    assert int(refused.headers["Retry-After"]) > 0
    assert balance(db, OWNER) == 500
    assert over_http(None).status_code == 202  # without a webhookUrl: accepted

    assert dispatch(held[0])[1]["result"] == {"result": "delivered"}
    again = over_http(receiver.url())
    assert again.status_code == 202, again.text
    # let the emulator finish it before the ledger check reads the counters
    request_id = again.json()["generationRequestId"]
    deadline = time.monotonic() + 45
    while status_of(request_id)["webhook"]["state"] == "pending" or status_of(request_id)[
        "status"
    ] not in ("completed", "failed"):
        assert time.monotonic() < deadline, status_of(request_id)
        time.sleep(0.2)
