"""Stripe over real HTTP against the Functions emulator: events signed here with the stack's
STRIPE_WEBHOOK_SECRET (functions/.secret.local, as scripts/stripe_event.py signs them), and
createCheckoutSession where no STRIPE_SECRET_KEY is set (the local stack)."""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests

from tests.integration.conftest import FUNCTIONS_BASE, add_user, balance, transactions
from tests.support import stripe_events as se
from tests.support.auth_emulator import bearer
from tests.support.secret_local import local_secret

pytestmark = pytest.mark.skipif(
    not os.environ.get("CLOUD_TASKS_EMULATOR_HOST"), reason="needs the full emulator suite"
)

WEBHOOK = f"{FUNCTIONS_BASE}/stripeWebhook"
CHECKOUT = f"{FUNCTIONS_BASE}/createCheckoutSession"


@pytest.fixture(scope="module")
def secret() -> str:
    value = local_secret("STRIPE_WEBHOOK_SECRET")
    assert value.startswith("whsec_"), "scripts/stack/env_local.py writes it for every profile"
    return value


def post(raw: bytes, signature: str | None) -> requests.Response:
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["Stripe-Signature"] = signature
    return requests.post(WEBHOOK, data=raw, headers=headers, timeout=60)


def send(event: dict[str, Any], secret: str, **sign: Any) -> requests.Response:
    raw = se.body(event)
    return post(raw, se.signature(raw, secret, **sign))


def of_type(user_id: str, kind: str, db: Any) -> list[dict[str, Any]]:
    return [t for t in transactions(db, user_id) if t["type"] == kind]


def test_a_signed_paid_session_sent_ten_times_at_once_credits_once(db, secret):
    before = balance(db, "arda")
    event = se.checkout_session("cs_test_http_race", "arda", "pack_200", 1800)
    with ThreadPoolExecutor(10) as pool:
        answers = list(pool.map(lambda _: send(event, secret), range(10)))
    assert [a.status_code for a in answers] == [200] * 10, [a.text for a in answers]
    assert answers[0].json() == {"success": True, "received": True}
    assert balance(db, "arda") == before + 200
    [bought] = of_type("arda", "purchase", db)
    assert (bought["pack_id"], bought["amount"], bought["session_id"]) == (
        "pack_200",
        1800,
        "cs_test_http_race",
    )


@pytest.mark.parametrize("case", ["missing", "wrong secret", "tampered body", "stale"])
def test_a_bad_signature_is_400_and_changes_nothing(db, secret, case):
    before = balance(db, "arda")
    raw = se.body(se.checkout_session("cs_test_http_bad", "arda", "pack_200", 1800))
    signature = {
        "missing": None,
        "wrong secret": se.signature(raw, "whsec_not_the_stack_s"),
        "tampered body": se.signature(raw.replace(b"1800", b"1801"), secret),
        "stale": se.signature(raw, secret, timestamp=int(time.time()) - 301),
    }[case]
    answer = post(raw, signature)
    assert answer.status_code == 400, answer.text
    assert (answer.json()["error"], answer.json()["error_type"]) == (
        "invalid_signature",
        "validation",
    )
    assert balance(db, "arda") == before
    assert of_type("arda", "purchase", db) == []


def test_an_amount_that_does_not_match_the_pack_credits_nothing(db, secret):
    before = balance(db, "arda")
    answer = send(se.checkout_session("cs_test_http_cheap", "arda", "pack_1000", 500), secret)
    assert answer.status_code == 200, answer.text
    assert balance(db, "arda") == before
    assert of_type("arda", "purchase", db) == []


def test_async_payment_succeeded_after_an_unpaid_completion_credits_once(db, secret):
    before = balance(db, "arda")
    unpaid = se.checkout_session(
        "cs_test_http_async", "arda", "pack_50", 500, payment_status="unpaid"
    )
    assert send(unpaid, secret).status_code == 200
    assert balance(db, "arda") == before
    succeeded = se.checkout_session(
        "cs_test_http_async",
        "arda",
        "pack_50",
        500,
        kind="checkout.session.async_payment_succeeded",
    )
    assert send(succeeded, secret).status_code == 200
    assert send(succeeded, secret).status_code == 200
    assert balance(db, "arda") == before + 50
    assert len(of_type("arda", "purchase", db)) == 1


def test_a_full_refund_sent_twice_takes_the_credits_back_once(db, secret):
    before = balance(db, "arda")
    send(se.checkout_session("cs_test_http_full", "arda", "pack_200", 1800), secret)
    refund = se.charge_refunded("pi_test_http_full", 1800, 1800)
    assert send(refund, secret).status_code == 200
    assert send(refund, secret).status_code == 200
    assert balance(db, "arda") == before
    assert [t["credits"] for t in of_type("arda", "purchase_refund", db)] == [200]


def test_a_partial_then_a_full_refund_take_back_in_proportion(db, secret):
    before = balance(db, "arda")
    send(se.checkout_session("cs_test_http_part", "arda", "pack_200", 1800), secret)
    send(se.charge_refunded("pi_test_http_part", 1800, 450), secret)  # a quarter
    assert balance(db, "arda") == before + 200 - 50
    send(se.charge_refunded("pi_test_http_part", 1800, 1800), secret)
    assert balance(db, "arda") == before
    taken = sorted(t["credits"] for t in of_type("arda", "purchase_refund", db))
    assert taken == [50, 150]


def test_a_refund_after_the_credits_were_spent_leaves_zero_and_a_shortfall(db, secret):
    add_user(db, "spender", 0)
    send(se.checkout_session("cs_test_http_spent", "spender", "pack_50", 500), secret)
    created = requests.post(
        f"{FUNCTIONS_BASE}/createGenerationRequest",
        json={
            "userId": "spender",
            "model": "Model A",
            "style": "realistic",
            "color": "vibrant",
            "size": "1024x1792",
            "prompt": "spending what was bought",
        },
        headers={"Prefer": "wait=20"},
        timeout=60,
    )
    assert created.status_code in (200, 202), created.text
    assert balance(db, "spender") == 50 - 4
    assert send(se.charge_refunded("pi_test_http_spent", 500, 500), secret).status_code == 200
    [taken] = of_type("spender", "purchase_refund", db)
    assert (taken["credits"], taken["shortfall"], balance(db, "spender")) == (46, 4, 0)
    request_id = created.json()["generationRequestId"]
    wait_settled(db, request_id)


def wait_settled(db: Any, request_id: str, timeout: float = 45.0) -> None:
    """Let the worker finish before the ledger check runs."""
    deadline = time.monotonic() + timeout
    ref = db.collection("generation_requests").document(request_id)
    while ref.get().get("status") in ("queued", "processing") and time.monotonic() < deadline:
        time.sleep(0.2)


def test_an_unknown_event_type_is_acknowledged(db, secret):
    answer = send(se.event("customer.subscription.created", {"id": "sub_1"}), secret)
    assert (answer.status_code, answer.json()) == (200, {"success": True, "received": True})


def test_the_webhook_answers_preflight_and_refuses_get():
    assert requests.options(WEBHOOK, timeout=30).status_code == 204
    answer = requests.get(WEBHOOK, timeout=30)
    assert (answer.status_code, answer.json()["error"]) == (405, "method_not_allowed")


def test_checkout_without_a_stripe_key_is_503_payments_not_configured(tokens):
    answer = requests.post(
        CHECKOUT, json={"packId": "pack_200"}, headers=bearer(tokens["arda"]), timeout=60
    )
    assert answer.status_code == 503, answer.text
    assert answer.json()["error"] == "payments_not_configured"
    assert "scripts/stripe_event.py" in answer.json()["message"]


def test_checkout_refuses_keys_strangers_and_unknown_packs(tokens):
    key = requests.post(
        CHECKOUT, json={"packId": "pack_200"}, headers=bearer("fsk_" + "x" * 40), timeout=60
    )
    assert (key.status_code, key.json()["error"]) == (403, "id_token_required")
    anonymous = requests.post(CHECKOUT, json={"packId": "pack_200"}, timeout=60)
    assert anonymous.status_code == 401
    unknown = requests.post(
        CHECKOUT, json={"packId": "pack_none"}, headers=bearer(tokens["arda"]), timeout=60
    )
    assert (unknown.status_code, unknown.json()["error"]) == (404, "pack_not_found")
