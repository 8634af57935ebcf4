"""Stripe purchases against the Firestore emulator, through main.py's functions in-process: the
Checkout Session asked of Stripe (a recording HTTP client, the one stand-in for Stripe's API)
and signed webhook events booking on the real ledger, raced with real threads."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

import main
from container import Container
from tests.integration.conftest import add_user, balance, transactions
from tests.support import stripe_events as se
from tests.support.http import call

SECRET = "whsec_aW50ZWdyYXRpb24tdGVzdHMtb2YtdGhlLXdlYmhvb2s"
SESSION = "cs_test_recorded"


@pytest.fixture
def stripe_client() -> se.RecordingStripeClient:
    return se.RecordingStripeClient(session_id=SESSION)


@pytest.fixture
def payments(
    make_container: Callable[..., Container], stripe_client: se.RecordingStripeClient
) -> Container:
    built = make_container(stripe_secret_key="sk_test_integration", stripe_webhook_secret=SECRET)
    built.stripe_http_client = stripe_client
    built.verify_token = lambda token: {"uid": token.removeprefix("token-of-")}
    return built


def deliver(event: dict[str, Any]) -> tuple[int, Any]:
    raw = se.body(event)
    headers = {"Stripe-Signature": se.signature(raw, SECRET)}
    return call(main.stripeWebhook, data=raw, content_type="application/json", headers=headers)


def at_once(event: dict[str, Any], times: int = 10) -> list[tuple[int, Any]]:
    with ThreadPoolExecutor(times) as pool:
        return list(pool.map(lambda _: deliver(event), range(times)))


def entries(db: Any, user_id: str, kind: str) -> list[dict[str, Any]]:
    return [t for t in transactions(db, user_id) if t["type"] == kind]


def test_checkout_then_its_paid_event_credits_the_pack(db, payments, stripe_client):
    status, answer = call(
        main.createCheckoutSession,
        json_body={"packId": "pack_200"},
        headers={"Authorization": "Bearer token-of-arda"},
    )
    assert (status, answer["sessionId"]) == (200, SESSION), answer
    form = stripe_client.form
    assert (form["mode"], form["client_reference_id"], form["metadata[userId]"]) == (
        "payment",
        "arda",
        "arda",
    )
    assert (form["metadata[packId]"], form["line_items[0][price_data][unit_amount]"]) == (
        "pack_200",
        "1800",
    )
    before = balance(db, "arda")
    assert deliver(se.checkout_session(SESSION, "arda", "pack_200", 1800))[0] == 200
    assert balance(db, "arda") == before + 200
    [bought] = entries(db, "arda", "purchase")
    assert (bought["session_id"], bought["amount"], bought["currency"]) == (SESSION, 1800, "usd")


def test_ten_concurrent_deliveries_of_a_paid_session_credit_once(db, payments, host_lock):
    before = balance(db, "arda")
    event = se.checkout_session("cs_test_race", "arda", "pack_200", 1800)
    answers = at_once(event)
    assert [status for status, _ in answers] == [200] * 10, answers
    assert balance(db, "arda") == before + 200
    assert len(entries(db, "arda", "purchase")) == 1


def test_ten_concurrent_full_refunds_take_back_once(db, payments, host_lock):
    add_user(db, "buyer", 0)
    deliver(se.checkout_session("cs_test_refund", "buyer", "pack_200", 1800))
    answers = at_once(se.charge_refunded("pi_test_refund", 1800, 1800))
    assert [status for status, _ in answers] == [200] * 10, answers
    assert balance(db, "buyer") == 0
    [taken] = entries(db, "buyer", "purchase_refund")
    assert taken["credits"] == 200 and "shortfall" not in taken


def test_racing_partial_and_full_refunds_take_back_the_pack_exactly(db, payments, host_lock):
    add_user(db, "buyer", 5)
    deliver(se.checkout_session("cs_test_parts", "buyer", "pack_200", 1800))
    events = [se.charge_refunded("pi_test_parts", 1800, n) for n in (600, 1200, 1800)] * 3
    with ThreadPoolExecutor(len(events)) as pool:
        answers = list(pool.map(deliver, events))
    assert [status for status, _ in answers] == [200] * len(events), answers
    assert balance(db, "buyer") == 5
    assert sum(t["credits"] for t in entries(db, "buyer", "purchase_refund")) == 200


def test_a_refund_after_the_credits_were_spent_records_the_shortfall(db, payments):
    add_user(db, "buyer", 0)
    deliver(se.checkout_session("cs_test_spent", "buyer", "pack_50", 500))
    status, created = call(
        main.createGenerationRequest,
        json_body={
            "userId": "buyer",
            "model": "Model A",
            "style": "realistic",
            "color": "vibrant",
            "size": "1024x1792",
            "prompt": "spending the pack",
        },
    )
    assert status == 202, created
    assert balance(db, "buyer") == 50 - 4
    deliver(se.charge_refunded("pi_test_spent", 500, 500))
    [taken] = entries(db, "buyer", "purchase_refund")
    assert (taken["credits"], taken["shortfall"], balance(db, "buyer")) == (46, 4, 0)


def test_events_that_cannot_be_booked_change_nothing(db, payments):
    before = balance(db, "arda")
    assert deliver(se.checkout_session("cs_test_cheap", "arda", "pack_200", 500))[0] == 200
    assert deliver(se.checkout_session("cs_test_nobody", "nobody", "pack_200", 1800))[0] == 200
    assert deliver(se.charge_refunded("pi_test_unknown", 1800, 1800))[0] == 200
    assert deliver(se.event("invoice.paid", {"id": "in_1"}))[0] == 200
    assert balance(db, "arda") == before
    assert entries(db, "arda", "purchase") == []
    assert not db.collection("users").document("nobody").get().exists
