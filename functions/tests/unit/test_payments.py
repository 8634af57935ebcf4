"""createCheckoutSession and stripeWebhook in-process: the session Stripe is asked for (through a
recording HTTP client, the one stand-in for Stripe's API), signatures, and what each event books
on the in-memory ledger."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import pytest

from container import Container
from controllers.auth import UserAuthorizer
from controllers.http import endpoint
from controllers.payments_controller import PaymentsController
from core.payments import StripeCheckout
from schemas.documents import Catalog, CreditPackRecord
from services import payments
from services.catalog_service import CatalogService
from services.payments import PaymentService
from tests.integration.conftest import settings_for_tests
from tests.support import stripe_events as se
from tests.support.fakes import (
    FakeAccounts,
    FakeCatalog,
    FakeLedger,
    Logged,
    ManualClock,
    record_logs,
)
from tests.support.http import call

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
SECRET = "whsec_dGVzdC1zZWNyZXQtZm9yLXRoZS11bml0LXRlc3Rz"
PACK = CreditPackRecord(
    id="pack_200", name="Creator — 200 credits", credits=200, amount=1800, currency="usd"
)
CATALOG = Catalog(styles=[], colors=[], sizes=[], credit_packs=[PACK])


class Harness:
    def __init__(
        self, *, stripe_client: se.RecordingStripeClient | None, webhook_secret: str
    ) -> None:
        self.catalog = FakeCatalog(CATALOG)
        self.ledger = FakeLedger({"arda": 10, "havanur": 0})
        self.stripe = stripe_client
        gateway = StripeCheckout("sk_test_unit", stripe_client) if stripe_client else None
        service = PaymentService(
            CatalogService(self.catalog, ManualClock(NOW)),
            self.catalog,
            FakeAccounts(self.ledger.balances),
            self.ledger,
            ManualClock(NOW),
            lambda: gateway,
            "http://127.0.0.1:8888/",
        )
        auth = UserAuthorizer(True, lambda token: {"uid": token.removeprefix("token-of-")})
        controller = PaymentsController(service, auth, webhook_secret)
        self.checkout = endpoint(["POST"])(controller.checkout)
        self.webhook = endpoint(["POST"])(controller.webhook)

    def buy(self, pack_id: str = "pack_200", token: str = "token-of-arda") -> tuple[int, Any]:
        return call(
            self.checkout,
            json_body={"packId": pack_id},
            headers={"Authorization": f"Bearer {token}"},
        )

    def deliver(self, event: dict[str, Any], **sign: Any) -> tuple[int, Any]:
        raw = se.body(event)
        return call(
            self.webhook,
            data=raw,
            content_type="application/json",
            headers={"Stripe-Signature": se.signature(raw, SECRET, **sign)},
        )


@pytest.fixture
def h() -> Harness:
    return Harness(stripe_client=se.RecordingStripeClient(), webhook_secret=SECRET)


@pytest.fixture
def logs(monkeypatch: pytest.MonkeyPatch) -> list[Logged]:
    return record_logs(monkeypatch, payments)


def errors(logs: list[Logged]) -> list[dict[str, Any]]:
    return [fields for level, _, fields in logs if level == "error"]


# --- createCheckoutSession ---------------------------------------------------------------------


def test_checkout_asks_stripe_for_a_payment_session_of_the_pack(h):
    status, answer = h.buy()
    assert (status, answer) == (
        200,
        {
            "success": True,
            "url": se.SESSION_URL.format(id="cs_test_recorded"),
            "sessionId": "cs_test_recorded",
        },
    )
    method, url, headers, _ = h.stripe.requests[-1]
    assert (method, url) == ("post", "https://api.stripe.com/v1/checkout/sessions")
    assert headers["Authorization"] == "Bearer sk_test_unit"
    assert h.stripe.form == {
        "mode": "payment",
        "client_reference_id": "arda",
        "metadata[userId]": "arda",
        "metadata[packId]": "pack_200",
        "line_items[0][quantity]": "1",
        "line_items[0][price_data][currency]": "usd",
        "line_items[0][price_data][unit_amount]": "1800",
        "line_items[0][price_data][product_data][name]": "Creator — 200 credits",
        "success_url": "http://127.0.0.1:8888/?checkout=success",
        "cancel_url": "http://127.0.0.1:8888/?checkout=cancelled",
    }


def test_checkout_without_a_stripe_key_is_503_payments_not_configured():
    h = Harness(stripe_client=None, webhook_secret=SECRET)
    status, answer = h.buy()
    assert (status, answer["error"], answer["error_type"]) == (
        503,
        "payments_not_configured",
        "payments_not_configured",
    )
    assert (
        "STRIPE_SECRET_KEY" in answer["message"] and "scripts/stripe_event.py" in answer["message"]
    )


@pytest.mark.parametrize("key", ["", "not-configured", "pk_test_publishable", "sk_"])
def test_the_container_builds_no_gateway_without_a_stripe_secret_key(key):
    built = Container(settings_for_tests(stripe_secret_key=key), db=None, queue=None)  # type: ignore[arg-type]
    assert built.checkout_gateway is None


def test_the_container_builds_the_gateway_with_its_http_client():
    recorder = se.RecordingStripeClient()
    built = Container(
        settings_for_tests(stripe_secret_key="sk_test_x"),
        db=None,
        queue=None,
        stripe_http_client=recorder,  # type: ignore[arg-type]
    )
    assert built.checkout_gateway is not None
    built.checkout_gateway.create_session({"mode": "payment"})
    assert recorder.form == {"mode": "payment"}


@pytest.mark.parametrize(
    ("pack_id", "status", "error"),
    [
        ("pack_missing", 404, "pack_not_found"),
        ("pack_50", 404, "pack_not_found"),
        ("", 400, "validation_failed"),
    ],
)
def test_checkout_of_a_pack_not_on_sale_asks_stripe_nothing(h, pack_id, status, error):
    h.catalog.retired_packs.append(PACK.model_copy(update={"id": "pack_50", "is_active": False}))
    answer = h.buy(pack_id)
    assert (answer[0], answer[1]["error"]) == (status, error)
    assert h.stripe.requests == []


def test_checkout_needs_an_account(h):
    status, answer = h.buy(token="token-of-nobody")
    assert (status, answer["error"]) == (404, "account_not_found")
    assert "createAccount" in answer["message"]
    assert h.stripe.requests == []


def test_checkout_needs_an_id_token_not_an_api_key(h):
    assert call(h.checkout, json_body={"packId": "pack_200"})[0] == 401
    status, answer = h.buy(token="fsk_" + "a" * 40)
    assert (status, answer["error"]) == (403, "id_token_required")
    assert h.stripe.requests == []


@pytest.mark.parametrize(
    ("stripe_status", "error"), [(401, "payments_not_configured"), (400, "payments_unavailable")]
)
def test_a_stripe_refusal_is_a_clean_503(stripe_status, error):
    h = Harness(stripe_client=se.RecordingStripeClient(status=stripe_status), webhook_secret=SECRET)
    status, answer = h.buy()
    assert (status, answer["error"]) == (503, error)
    assert "recorded failure" not in answer["message"]


# --- stripeWebhook: signatures -----------------------------------------------------------------


def paid(session_id: str = "cs_test_a", user: str = "arda", **overrides: Any) -> dict[str, Any]:
    return se.checkout_session(session_id, user, "pack_200", 1800, **overrides)


def test_a_webhook_without_its_secret_is_503_and_books_nothing():
    for secret in ("", "not-a-whsec"):
        h = Harness(stripe_client=None, webhook_secret=secret)
        status, answer = h.deliver(paid())
        assert (status, answer["error"]) == (503, "payments_not_configured")
        assert "STRIPE_WEBHOOK_SECRET" in answer["message"]
        assert h.ledger.entries == {}


def test_missing_wrong_and_stale_signatures_are_400_and_book_nothing(h):
    raw = se.body(paid())
    refusals = [
        {},
        {"Stripe-Signature": se.signature(raw, "whsec_another")},
        {"Stripe-Signature": se.signature(raw, SECRET, timestamp=int(time.time()) - 301)},
        {"Stripe-Signature": se.signature(raw + b" ", SECRET)},
        {"Stripe-Signature": "t=now,v1=abc"},
        {"Stripe-Signature": "t=1,v0=abc"},
        {"Stripe-Signature": "v1=é"},
    ]
    for headers in refusals:
        status, answer = call(h.webhook, data=raw, content_type="application/json", headers=headers)
        assert (status, answer["error"], answer["error_type"]) == (
            400,
            "invalid_signature",
            "validation",
        ), headers
    assert h.ledger.entries == {}
    assert h.ledger.balances["arda"] == 10


def test_a_body_that_is_not_utf8_is_an_invalid_signature(h):
    raw = b"\xff\xfe{}"
    status, answer = call(h.webhook, data=raw, headers={"Stripe-Signature": "t=1,v1=00"})
    assert (status, answer["error"]) == (400, "invalid_signature")


def test_a_signature_inside_the_tolerance_is_accepted(h):
    assert h.deliver(paid(), timestamp=int(time.time()) - 290)[0] == 200


def test_a_signed_body_that_is_no_event_is_400_invalid_event(h):
    hostile = (b"[" * 60_000, b'{"a":' * 12_000, b'{"id": ' + b"7" * 5000 + b"}")
    for raw in (b"[1, 2]", b"not json", b'{"id": "evt_1", "object": "event"}', *hostile):
        status, answer = call(
            h.webhook, data=raw, headers={"Stripe-Signature": se.signature(raw, SECRET)}
        )
        assert (status, answer["error"]) == (400, "invalid_event"), raw
    event = se.event("charge.refunded", {"id": "ch_1", "amount": "lots"})
    assert h.deliver(event)[1]["error"] == "invalid_event"
    assert h.ledger.entries == {}


# --- stripeWebhook: purchases ------------------------------------------------------------------


def entry(h: Harness, user: str, entry_id: str) -> Any:
    return h.ledger.entries.get(f"{user}/{entry_id}")


def test_a_paid_session_books_the_pack_once(h, logs):
    assert h.deliver(paid()) == (200, {"success": True, "received": True})
    assert h.deliver(paid()) == (200, {"success": True, "received": True})  # redelivered
    assert h.ledger.balances["arda"] == 10 + 200
    booked = entry(h, "arda", "purchase_cs_test_a")
    assert booked.model_dump(exclude={"timestamp"}) | {"timestamp": None} == {
        "id": "purchase_cs_test_a",
        "type": "purchase",
        "credits": 200,
        "generation_request_id": None,
        "user_id": "arda",
        "timestamp": None,
        "description": "Purchase: Creator — 200 credits",
        "granted_by": None,
        "reason": None,
        "pack_id": "pack_200",
        "amount": 1800,
        "currency": "usd",
        "session_id": "cs_test_a",
        "payment_intent": "pi_test_a",
        "shortfall": None,
    }
    assert errors(logs) == []


def test_an_unpaid_session_waits_for_async_payment_succeeded(h):
    assert h.deliver(paid(payment_status="unpaid"))[0] == 200
    assert h.ledger.entries == {}
    later = paid(payment_status="paid", kind="checkout.session.async_payment_succeeded")
    assert h.deliver(later)[0] == 200
    assert h.deliver(paid())[0] == 200  # a second event for the same session
    assert h.ledger.balances["arda"] == 210
    assert len(h.ledger.entries) == 1


def test_a_retired_pack_still_credits_a_session_paid_for_it(h):
    h.catalog.catalog = CATALOG.model_copy(update={"credit_packs": []})
    h.catalog.retired_packs.append(PACK.model_copy(update={"is_active": False}))
    assert h.deliver(paid())[0] == 200
    assert h.ledger.balances["arda"] == 210


def test_the_user_falls_back_to_client_reference_id(h):
    event = paid()
    del event["data"]["object"]["metadata"]["userId"]
    assert h.deliver(event)[0] == 200
    assert h.ledger.balances["arda"] == 210


@pytest.mark.parametrize(
    ("change", "outcome"),
    [
        ({"amount_total": 500}, "amount_mismatch"),
        ({"currency": "eur"}, "amount_mismatch"),
        ({"amount_total": None}, "amount_mismatch"),
        ({"metadata": {"userId": "arda", "packId": "pack_gone"}}, "unknown_pack"),
        ({"metadata": {"userId": "nobody", "packId": "pack_200"}}, "unknown_user"),
        ({"metadata": {}, "client_reference_id": None}, "no_user_or_pack"),
        ({"metadata": {"userId": "../x", "packId": "pack_200"}}, "no_user_or_pack"),
    ],
)
def test_a_session_that_does_not_match_books_nothing_and_logs_an_error(h, logs, change, outcome):
    event = paid()
    event["data"]["object"].update(change)
    assert h.deliver(event) == (200, {"success": True, "received": True})
    assert h.ledger.entries == {}
    assert [(e["outcome"], e["object_id"]) for e in errors(logs)] == [(outcome, "cs_test_a")]


def test_other_event_types_are_acknowledged_and_ignored(h, logs):
    for kind in ("payment_intent.succeeded", "checkout.session.expired", "customer.created"):
        assert h.deliver(se.event(kind, {"id": "x"})) == (200, {"success": True, "received": True})
    assert h.ledger.entries == {}
    assert [f["outcome"] for level, _, f in logs if level == "info"] == ["ignored"] * 3


# --- stripeWebhook: refunds --------------------------------------------------------------------


def refund(amount_refunded: int, pi: str = "pi_test_a") -> dict[str, Any]:
    return se.charge_refunded(pi, 1800, amount_refunded)


def test_a_full_refund_takes_the_credits_back_once(h):
    h.deliver(paid())
    assert h.deliver(refund(1800))[0] == 200
    assert h.deliver(refund(1800))[0] == 200
    assert h.ledger.balances["arda"] == 10
    taken = entry(h, "arda", "purchase_refund_cs_test_a_1800")
    assert (taken.type, taken.credits, taken.shortfall, taken.session_id, taken.pack_id) == (
        "purchase_refund",
        200,
        None,
        "cs_test_a",
        "pack_200",
    )


def test_partial_refunds_take_back_their_share_rounded_down(h):
    h.deliver(paid())
    h.deliver(refund(1000))  # 200 * 1000 / 1800 = 111.1
    assert h.ledger.balances["arda"] == 210 - 111
    h.deliver(refund(1000))
    h.deliver(refund(1800))
    assert h.ledger.balances["arda"] == 10
    assert entry(h, "arda", "purchase_refund_cs_test_a_1800").credits == 200 - 111
    # Each take-back carries the money refunded since the one before, so revenue nets to 0.
    first, last = (entry(h, "arda", f"purchase_refund_cs_test_a_{n}") for n in (1000, 1800))
    assert (first.amount, last.amount, last.currency) == (1000, 800, "usd")


def test_a_late_smaller_refund_event_takes_nothing_more(h):
    h.deliver(paid())
    h.deliver(refund(1800))
    h.deliver(refund(900))
    assert h.ledger.balances["arda"] == 10
    assert entry(h, "arda", "purchase_refund_cs_test_a_900") is None


def test_a_refund_after_the_credits_were_spent_stops_at_zero(h):
    h.deliver(paid())
    h.ledger.balances["arda"] = 50  # spent (the fake keeps no deductions)
    h.deliver(refund(1800))
    taken = entry(h, "arda", "purchase_refund_cs_test_a_1800")
    assert (taken.credits, taken.shortfall, h.ledger.balances["arda"]) == (50, 150, 0)
    h.deliver(refund(1800))
    assert h.ledger.balances["arda"] == 0


def test_a_refund_of_an_unknown_payment_is_logged_and_acknowledged(h, logs):
    assert h.deliver(refund(1800, pi="pi_unknown"))[0] == 200
    assert [e["outcome"] for e in errors(logs)] == ["unknown_payment"]
    assert h.ledger.entries == {}


def test_any_uid_that_names_a_document_is_credited(h):
    """A paid session must not be refused over the spelling of a (custom) Firebase uid."""
    uid = "custom.uid+with@odd-chars"
    h.ledger.balances[uid] = 0
    assert h.deliver(paid(user=uid))[0] == 200
    assert h.ledger.balances[uid] == 200
