"""scripts/stripe_event.py: the events it sends are signed as Stripe signs them and carry what
stripeWebhook reads; a tampered, foreign or stale one does not verify."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import ModuleType
from typing import ClassVar

import pytest
import stripe

from tests.support.scripts import load_script

SECRET = "whsec_" + "a1" * 16
CATALOG = {
    "creditPacks": [
        {"id": "pack_50", "name": "Starter", "credits": 50, "amount": 500, "currency": "usd"},
        {"id": "pack_200", "name": "Creator", "credits": 200, "amount": 1800, "currency": "usd"},
    ]
}


@pytest.fixture(scope="module")
def script() -> ModuleType:
    return load_script("stripe_event")


def signed(script: ModuleType, body: dict, secret: str = SECRET, at: int | None = None):
    payload = json.dumps(body).encode()
    return payload, script.signature_header(payload, secret, int(time.time()) if at is None else at)


def verify(payload: bytes, header: str, secret: str = SECRET) -> stripe.Event:
    return stripe.Webhook.construct_event(payload, header, secret, tolerance=300)


def completed(script: ModuleType, **overrides) -> dict:
    fields = {
        "session_id": "cs_test_abc",
        "payment_intent": "pi_test_abc",
        "user_id": "arda",
        "pack_id": "pack_200",
        "amount": 1800,
        "currency": "usd",
        "paid": True,
        "created": int(time.time()),
    } | overrides
    return script.event(
        "checkout.session.completed", script.checkout_session(**fields), created=fields["created"]
    )


def test_the_signature_verifies_with_the_stripe_library(script):
    payload, header = signed(script, completed(script))
    assert header.startswith("t=") and ",v1=" in header
    event = verify(payload, header)
    assert event.type == "checkout.session.completed"
    assert event.id.startswith("evt_test_")


@pytest.mark.parametrize(
    "change",
    ["tampered payload", "wrong secret", "stale timestamp"],
)
def test_a_tampered_foreign_or_stale_event_does_not_verify(script, change):
    body = completed(script)
    at = int(time.time()) - (301 if change == "stale timestamp" else 0)
    payload, header = signed(script, body, SECRET if change != "wrong secret" else SECRET + "x", at)
    if change == "tampered payload":
        payload = payload.replace(b'"amount_total": 1800', b'"amount_total": 18')
        assert b'"amount_total": 18,' in payload
    with pytest.raises(stripe.SignatureVerificationError):
        verify(payload, header)


def test_a_checkout_session_event_carries_what_the_webhook_reads(script):
    body = completed(script)
    event = verify(*signed(script, body))
    session = event.data.object
    assert event.object == "event" and event.api_version == stripe.api_version
    assert session.object == "checkout.session" and session.mode == "payment"
    assert (session.id, session.payment_intent) == ("cs_test_abc", "pi_test_abc")
    assert (session.amount_total, session.currency, session.payment_status) == (1800, "usd", "paid")
    assert session.client_reference_id == "arda"
    assert session.metadata.to_dict() == {"userId": "arda", "packId": "pack_200"}
    unpaid = completed(script, paid=False)["data"]["object"]
    assert unpaid["payment_status"] == "unpaid" and unpaid["status"] == "complete"


def test_a_refunded_charge_carries_the_payment_and_cumulative_refund(script):
    charge = script.refunded_charge(
        payment_intent="pi_test_abc", amount=1800, amount_refunded=900, currency="usd", created=1
    )
    event = verify(*signed(script, script.event("charge.refunded", charge, created=1)))
    got = event.data.object
    assert got.object == "charge" and got.id.startswith("ch_test_")
    assert (got.payment_intent, got.amount, got.amount_refunded, got.currency) == (
        "pi_test_abc",
        1800,
        900,
        "usd",
    )
    assert got.refunded is False
    assert script.refunded_charge(
        payment_intent="p", amount=5, amount_refunded=5, currency="usd", created=1
    )["refunded"]


def test_ids_are_random_test_mode_ids_and_a_session_names_its_payment(script):
    ids = {script.new_id("cs") for _ in range(20)}
    assert len(ids) == 20 and all(i.startswith("cs_test_") and i.isascii() for i in ids)
    assert script.payment_intent_of("cs_test_XyZ") == "pi_test_XyZ"


def test_the_secret_comes_from_the_environment_else_the_stacks_file(script, tmp_path):
    secret_file = tmp_path / ".secret.local"
    assert script.webhook_secret({}, secret_file) == ""
    secret_file.write_text(f"ADMIN_API_KEY=emulator-only-x\nSTRIPE_WEBHOOK_SECRET={SECRET}\n")
    assert script.webhook_secret({}, secret_file) == SECRET
    assert script.webhook_secret({"STRIPE_WEBHOOK_SECRET": "whsec_env"}, secret_file) == "whsec_env"


def test_a_pack_is_found_in_the_catalog_or_the_error_names_the_packs(script):
    assert script.find_pack(CATALOG, "pack_50")["amount"] == 500
    with pytest.raises(ValueError, match=r"pack_9.*packs: pack_50, pack_200"):
        script.find_pack(CATALOG, "pack_9")
    with pytest.raises(ValueError, match="packs: none"):
        script.find_pack({}, "pack_50")


def test_a_stored_purchase_is_read_from_a_firestore_query_answer(script):
    query = script.purchase_query("session_id", "cs_test_abc")["structuredQuery"]
    assert query["from"] == [{"collectionId": "transactions", "allDescendants": True}]
    filters = query["where"]["compositeFilter"]["filters"]
    assert {f["fieldFilter"]["field"]["fieldPath"] for f in filters} == {"session_id", "type"}
    fields = {
        "payment_intent": {"stringValue": "pi_test_abc"},
        "amount": {"integerValue": "1800"},
        "currency": {"stringValue": "usd"},
        "session_id": {"stringValue": "cs_test_abc"},
    }
    answer = [{"readTime": "x"}, {"document": {"fields": fields}}]
    assert script.purchase_from(answer) == {
        "payment_intent": "pi_test_abc",
        "amount": 1800,
        "currency": "usd",
        "session_id": "cs_test_abc",
    }
    assert script.purchase_from([{"readTime": "x"}]) is None


@pytest.mark.parametrize(
    "argv",
    [
        ["checkout-completed", "--pack", "pack_50"],  # no user
        ["checkout-completed", "--user", "arda"],  # no pack
        ["async-succeeded", "--user", "arda", "--pack", "pack_50"],  # no session to continue
        ["charge-refunded", "--amount", "500"],  # no payment named
        ["charge-refunded", "--session", "cs_test_a", "--payment-intent", "pi_test_a"],
        ["charge-refunded", "--session", "cs_test_a", "--amount-refunded", "-1"],
        ["checkout-completed", "--user", "arda", "--pack", "pack_50", "--amount", "x"],
        ["refund-everything"],
    ],
)
def test_the_command_line_refuses_incomplete_or_wrong_arguments(script, argv):
    with pytest.raises(SystemExit) as exit_:
        script.parse(argv)
    assert exit_.value.code == 2


def test_a_purchase_takes_the_packs_amount_and_currency(script, monkeypatch):
    monkeypatch.setattr(script, "get_catalog", lambda base: CATALOG)
    args = script.parse(["checkout-completed", "--user", "arda", "--pack", "pack_200", "--unpaid"])
    body, reuse = script.build(args, now=1_700_000_000)
    session = body["data"]["object"]
    assert body["type"] == "checkout.session.completed" and body["created"] == 1_700_000_000
    assert (session["amount_total"], session["currency"], session["payment_status"]) == (
        1800,
        "usd",
        "unpaid",
    )
    assert session["id"].startswith("cs_test_")
    assert any(
        f"async-succeeded --user arda --pack pack_200 --session {session['id']}" in line
        for line in reuse
    )

    later = script.parse(
        ["async-succeeded", "--user", "arda", "--pack", "pack_200", "--session", session["id"]]
    )
    body2, _ = script.build(later, now=1_700_000_100)
    again = body2["data"]["object"]
    assert body2["type"] == "checkout.session.async_payment_succeeded"
    assert (again["id"], again["payment_intent"]) == (session["id"], session["payment_intent"])
    assert again["payment_status"] == "paid" and body2["id"] != body["id"]

    mismatch = script.parse(
        ["checkout-completed", "--user", "arda", "--pack", "pack_50", "--amount", "1"]
    )
    assert script.build(mismatch, now=1)[0]["data"]["object"]["amount_total"] == 1


def test_a_refund_by_session_finds_the_purchases_payment(script, monkeypatch):
    asked = []

    def lookup(host, field, value):
        asked.append((field, value))
        return {"payment_intent": "pi_test_q", "amount": 1800, "currency": "usd"}

    monkeypatch.setattr(script, "lookup_purchase", lookup)
    args = script.parse(["charge-refunded", "--session", "cs_test_q", "--amount-refunded", "900"])
    charge = script.build(args, now=1)[0]["data"]["object"]
    assert asked == [("session_id", "cs_test_q")]
    assert (charge["payment_intent"], charge["amount"], charge["amount_refunded"]) == (
        "pi_test_q",
        1800,
        900,
    )
    full = script.parse(
        ["charge-refunded", "--payment-intent", "pi_x", "--amount", "500", "--currency", "USD"]
    )
    charge = script.build(full, now=1)[0]["data"]["object"]
    assert (charge["amount_refunded"], charge["currency"]) == (500, "usd")
    assert len(asked) == 1  # everything given: nothing looked up

    monkeypatch.setattr(script, "lookup_purchase", lambda *a: None)
    with pytest.raises(ValueError, match="no purchase with session_id cs_test_none"):
        script.build(script.parse(["charge-refunded", "--session", "cs_test_none"]), now=1)


class Stack(BaseHTTPRequestHandler):
    """The two functions the script calls: getCatalog, and a stripeWebhook that verifies."""

    received: ClassVar[list[stripe.Event]] = []

    def do_GET(self) -> None:
        self.answer(200, CATALOG)

    def do_POST(self) -> None:
        payload = self.rfile.read(int(self.headers["Content-Length"]))
        try:
            event = verify(payload, self.headers.get("Stripe-Signature", ""))
        except (stripe.SignatureVerificationError, ValueError):
            self.answer(400, {"success": False, "error_type": "validation"})
            return
        Stack.received.append(event)
        self.answer(200, {"success": True, "received": True})

    def answer(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *_args) -> None:
        pass


@pytest.fixture
def stack() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Stack)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    Stack.received = []
    yield f"http://127.0.0.1:{server.server_address[1]}/feraset-imagen/us-central1"
    server.shutdown()
    server.server_close()


def test_the_script_posts_a_signed_event_and_prints_the_ids_to_reuse(
    script, stack, monkeypatch, capsys
):
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", SECRET)
    argv = ["--base-url", stack, "checkout-completed", "--user", "arda", "--pack", "pack_50"]
    assert script.main(argv) == 0
    [event] = Stack.received
    out = capsys.readouterr().out
    assert f"checkout.session.completed {event.id} -> HTTP 200" in out
    assert event.data.object.id in out and event.data.object.payment_intent in out
    assert event.data.object.amount_total == 500

    assert f"next: {script.SELF} charge-refunded --session {event.data.object.id}" in out

    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", "whsec_not_the_stacks")
    assert script.main(argv) == 1  # refused: the answer is printed, the exit status says so
    out = capsys.readouterr().out
    assert "HTTP 400" in out and "next:" not in out and len(Stack.received) == 1


def test_without_a_secret_or_a_stack_the_script_says_what_is_missing(
    script, monkeypatch, capsys, tmp_path
):
    monkeypatch.delenv("STRIPE_WEBHOOK_SECRET", raising=False)
    monkeypatch.setattr(script, "SECRET_LOCAL", tmp_path / ".secret.local")
    monkeypatch.setattr(script, "ROOT", tmp_path)
    argv = ["checkout-completed", "--user", "arda", "--pack", "pack_50"]
    assert script.main(argv) == 2
    assert "No STRIPE_WEBHOOK_SECRET" in capsys.readouterr().err

    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", SECRET)
    assert script.main(["--base-url", "http://127.0.0.1:9/x", *argv]) == 1
    assert "is `make dev` running?" in capsys.readouterr().err
