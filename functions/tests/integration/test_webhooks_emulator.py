"""Signed webhooks end to end through the emulator suite: createGenerationRequest over HTTP ->
Cloud Tasks emulator -> worker -> settle -> webhook task queue -> deliverWebhook, which runs in
the functions emulator's process and POSTs to a receiver thread of this test on 127.0.0.1.

Every call carries an Auth emulator ID token, so the file passes with REQUIRE_AUTH=true as well
as in the open mode. The `test` profile makes Model A succeed and Model B fail, and retries a
failed webhook after 1-2 s.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from standardwebhooks import Webhook

from tests.integration.conftest import FUNCTIONS_BASE, balance, request_body
from tests.support.auth_emulator import OWNER, bearer
from tests.support.http import emulator_transport_error
from tests.support.webhook_receiver import Received, Receiver, as_event_data, running_receiver

pytestmark = pytest.mark.skipif(
    not os.environ.get("CLOUD_TASKS_EMULATOR_HOST"), reason="needs the full emulator suite"
)
TERMINAL = {"completed", "failed", "cancelled"}


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as running:
        yield running


def url(function: str) -> str:
    return f"{FUNCTIONS_BASE}/{function}"


def create(token: str, webhook_url: str, **overrides: Any) -> str:
    body = request_body(OWNER, **overrides) | {"webhookUrl": webhook_url}
    # With an Idempotency-Key, so that resending once when the emulator lost its worker
    # process (its own 500, not our answer) cannot charge twice.
    headers = bearer(token) | {"Idempotency-Key": str(uuid.uuid4())}
    for _ in range(2):
        response = requests.post(
            url("createGenerationRequest"), json=body, headers=headers, timeout=30
        )
        if not emulator_transport_error(response):
            break
    assert response.status_code == 202, response.text
    return str(response.json()["generationRequestId"])


def status_of(token: str, request_id: str) -> dict[str, Any]:
    response = requests.get(
        url("getGenerationStatus"),
        params={"generationRequestId": request_id},
        headers=bearer(token),
        timeout=30,
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


def wait_delivered(token: str, request_id: str, timeout: float = 45.0) -> dict[str, Any]:
    """The status once the request is terminal and its webhook no longer pending."""
    deadline = time.monotonic() + timeout
    while True:
        body = status_of(token, request_id)
        done = body["status"] in TERMINAL and body["webhook"]["state"] != "pending"
        if done or time.monotonic() > deadline:
            return body
        time.sleep(0.2)


def secret_of(token: str) -> str:
    response = requests.get(url("getWebhookSecret"), headers=bearer(token), timeout=30)
    assert response.status_code == 200, response.text
    return str(response.json()["secret"])


def verified(secret: str, received: Received) -> dict[str, Any]:
    return dict(Webhook(secret).verify(received.body, received.headers))


def test_completed_and_failed_events_arrive_signed(receiver, tokens):
    token = tokens[OWNER]
    completed = create(token, receiver.url("/a"))
    failed = create(token, receiver.url("/b"), model="Model B", size="512x512")

    for request_id, path, final in ((completed, "/a", "completed"), (failed, "/b", "failed")):
        status = wait_delivered(token, request_id)
        assert status["status"] == final, status
        assert status["webhook"] == {
            "state": "delivered",
            "attempts": 1,
            "lastStatusCode": 200,
            "lastError": None,
        }
        [received] = receiver.for_path(path)
        event = verified(secret_of(token), received)
        assert received.webhook_id == f"msg_{request_id}"
        assert event["type"] == f"generation.{final}"
        assert event["data"] == as_event_data(status)
    assert len(receiver.requests) == 2


def test_a_500_is_retried_by_the_queue_with_the_same_webhook_id(receiver, tokens):
    token = tokens[OWNER]
    receiver.script = [500]
    request_id = create(token, receiver.url())
    first, second = receiver.wait_for(2, timeout=45)
    assert first.webhook_id == second.webhook_id == f"msg_{request_id}"
    secret = secret_of(token)
    assert verified(secret, first) == verified(secret, second)
    webhook = wait_delivered(token, request_id)["webhook"]
    assert (webhook["state"], webhook["attempts"], webhook["lastStatusCode"]) == (
        "delivered",
        2,
        200,
    )


def test_a_cancelled_request_announces_whichever_outcome_won(receiver, tokens):
    token = tokens[OWNER]
    request_id = create(token, receiver.url())
    requests.post(
        url("cancelGenerationRequest"),
        json={"generationRequestId": request_id},
        headers=bearer(token),
        timeout=30,
    )
    final = wait_delivered(token, request_id)
    [received] = receiver.wait_for(1)
    assert verified(secret_of(token), received)["type"] == f"generation.{final['status']}"
    time.sleep(1.5)  # a second event would have arrived by now
    assert len(receiver.requests) == 1


def test_a_bad_webhook_url_is_refused_over_http(db, tokens):
    body = request_body(OWNER) | {"webhookUrl": "http://169.254.169.254/latest/meta-data/"}
    response = requests.post(
        url("createGenerationRequest"), json=body, headers=bearer(tokens[OWNER]), timeout=30
    )
    assert response.status_code == 400, response.text
    assert [d["field"] for d in response.json()["details"]] == ["webhookUrl"]
    assert balance(db, OWNER) == 500
