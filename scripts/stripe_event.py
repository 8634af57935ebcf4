"""Send a signed Stripe test event to the local stack's stripeWebhook (the local `stripe trigger`).

Usage (from the repository root, with `make dev` running; python = functions/venv/bin/python):
  python scripts/stripe_event.py checkout-completed --user arda --pack pack_200 [--unpaid]
  python scripts/stripe_event.py async-succeeded --user arda --pack pack_200 --session cs_test_...
  python scripts/stripe_event.py charge-refunded --session cs_test_... [--amount-refunded 900]
  python scripts/stripe_event.py charge-refunded --payment-intent pi_test_... --amount 1800 \
      --currency usd [--amount-refunded 900]

A purchase takes the pack's amount and currency from getCatalog's creditPacks (--amount and
--currency override them, to watch a mismatch being refused). The event is signed as Stripe signs
it (`Stripe-Signature: t=<unix>,v1=<HMAC-SHA256 of "<t>.<payload>">`) with STRIPE_WEBHOOK_SECRET
from the environment, else from functions/.secret.local (the stack's, written by `make dev`), and
POSTed to FUNCTIONS_BASE_URL/stripeWebhook. A refund by session finds the purchase's payment in
the Firestore emulator (FIRESTORE_EMULATOR_HOST). Nothing reaches Stripe.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import secrets
import string
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import stripe

ROOT = Path(__file__).resolve().parents[1]
SECRET_LOCAL = ROOT / "functions" / ".secret.local"
PROJECT = "feraset-imagen"
DEFAULT_BASE = f"http://127.0.0.1:5551/{PROJECT}/us-central1"
DEFAULT_FIRESTORE = "127.0.0.1:5561"
RETURN_URL = "http://127.0.0.1:8888/index.html"
ALPHABET = string.ascii_letters + string.digits
SELF = "functions/venv/bin/python scripts/stripe_event.py"
NEXT = "next: "


def new_id(prefix: str) -> str:
    """A random Stripe-like test-mode id, e.g. `cs_test_a1B2...`."""
    return f"{prefix}_test_" + "".join(secrets.choice(ALPHABET) for _ in range(24))


def payment_intent_of(session_id: str) -> str:
    """The payment intent this script pairs with a session it made (same suffix), so that
    `checkout-completed --unpaid` and `async-succeeded` for one session name one payment."""
    suffix = session_id.removeprefix("cs_test_").removeprefix("cs_")
    return f"pi_test_{suffix}"


def checkout_session(
    *,
    session_id: str,
    payment_intent: str,
    user_id: str,
    pack_id: str,
    amount: int,
    currency: str,
    paid: bool,
    created: int,
) -> dict[str, Any]:
    """A payment-mode Checkout Session as Stripe sends it once the customer has finished."""
    return {
        "id": session_id,
        "object": "checkout.session",
        "amount_subtotal": amount,
        "amount_total": amount,
        "cancel_url": f"{RETURN_URL}?checkout=cancelled",
        "client_reference_id": user_id,
        "created": created,
        "currency": currency,
        "customer": None,
        "customer_details": {"email": f"{user_id}@example.com"},
        "expires_at": created + 24 * 3600,
        "livemode": False,
        "metadata": {"userId": user_id, "packId": pack_id},
        "mode": "payment",
        "payment_intent": payment_intent,
        "payment_status": "paid" if paid else "unpaid",
        "status": "complete",
        "success_url": f"{RETURN_URL}?checkout=success",
        "url": None,
    }


def refunded_charge(
    *, payment_intent: str, amount: int, amount_refunded: int, currency: str, created: int
) -> dict[str, Any]:
    """The Charge of `payment_intent` after refunds totalling `amount_refunded` (cumulative)."""
    return {
        "id": new_id("ch"),
        "object": "charge",
        "amount": amount,
        "amount_captured": amount,
        "amount_refunded": amount_refunded,
        "captured": True,
        "created": created,
        "currency": currency,
        "livemode": False,
        "metadata": {},
        "paid": True,
        "payment_intent": payment_intent,
        "refunded": amount_refunded >= amount,
        "status": "succeeded",
    }


def event(event_type: str, obj: Mapping[str, Any], *, created: int) -> dict[str, Any]:
    """A Stripe Event wrapping `obj`, as a webhook endpoint receives it."""
    return {
        "id": new_id("evt"),
        "object": "event",
        "api_version": stripe.api_version,
        "created": created,
        "data": {"object": dict(obj)},
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": event_type,
    }


def signature_header(payload: bytes, secret: str, timestamp: int) -> str:
    """Stripe's `Stripe-Signature`: HMAC-SHA256 of `<t>.<payload>` keyed with the whole
    `whsec_...` secret, hex."""
    signed = f"{timestamp}.".encode() + payload
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def webhook_secret(environ: Mapping[str, str], secret_file: Path = SECRET_LOCAL) -> str:
    """STRIPE_WEBHOOK_SECRET from the environment, else from the stack's .secret.local; '' when
    neither has it."""
    if environ.get("STRIPE_WEBHOOK_SECRET"):
        return environ["STRIPE_WEBHOOK_SECRET"]
    if secret_file.exists():
        for line in secret_file.read_text().splitlines():
            name, _, value = line.strip().partition("=")
            if name == "STRIPE_WEBHOOK_SECRET":
                return value.strip()
    return ""


def find_pack(catalog: Mapping[str, Any], pack_id: str) -> dict[str, Any]:
    """The pack `pack_id` of getCatalog's creditPacks; ValueError naming the packs there are."""
    packs = catalog.get("creditPacks") or []
    for pack in packs:
        if pack.get("id") == pack_id:
            return dict(pack)
    offered = ", ".join(str(p.get("id")) for p in packs) or "none"
    raise ValueError(f"no credit pack {pack_id!r} in getCatalog (packs: {offered})")


def purchase_query(field: str, value: str) -> dict[str, Any]:
    """A Firestore runQuery body: the purchase entries (any user's) whose `field` is `value`."""
    equals = [
        {"fieldFilter": {"field": {"fieldPath": f}, "op": "EQUAL", "value": {"stringValue": v}}}
        for f, v in ((field, value), ("type", "purchase"))
    ]
    return {
        "structuredQuery": {
            "from": [{"collectionId": "transactions", "allDescendants": True}],
            "where": {"compositeFilter": {"op": "AND", "filters": equals}},
            "limit": 1,
        }
    }


def purchase_from(results: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The first document of a runQuery answer as {payment_intent, amount, currency, session_id}."""
    for result in results:
        fields = result.get("document", {}).get("fields")
        if fields:
            return {
                "payment_intent": fields.get("payment_intent", {}).get("stringValue"),
                "amount": int(fields.get("amount", {}).get("integerValue", 0)),
                "currency": fields.get("currency", {}).get("stringValue"),
                "session_id": fields.get("session_id", {}).get("stringValue"),
            }
    return None


# --- I/O ------------------------------------------------------------------------------------


def request_json(
    url: str, body: bytes | None = None, headers: Mapping[str, str] | None = None
) -> Any:
    req = urllib.request.Request(url, data=body, headers=dict(headers or {}))
    with urllib.request.urlopen(req, timeout=30) as response:
        return json.loads(response.read() or b"null")


def get_catalog(base: str) -> dict[str, Any]:
    return request_json(f"{base}/getCatalog", headers={"Accept": "application/json"})


def lookup_purchase(host: str, field: str, value: str) -> dict[str, Any] | None:
    """The stored purchase whose `field` is `value`, read from the Firestore emulator."""
    url = f"http://{host}/v1/projects/{PROJECT}/databases/(default)/documents:runQuery"
    body = json.dumps(purchase_query(field, value)).encode()
    # "Bearer owner": the emulator's admin access (rules do not apply).
    headers = {"Authorization": "Bearer owner", "Content-Type": "application/json"}
    return purchase_from(request_json(url, body, headers))


def post_event(base: str, payload: bytes, secret: str) -> tuple[int, str]:
    """POST the signed event; the answer's status and body."""
    headers = {
        "Content-Type": "application/json",
        "Stripe-Signature": signature_header(payload, secret, int(time.time())),
    }
    req = urllib.request.Request(f"{base}/stripeWebhook", data=payload, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=60) as response:
            return response.status, response.read().decode(errors="replace")
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode(errors="replace")


# --- The commands -----------------------------------------------------------------------------


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="scripts/stripe_event.py",
        description="Send a signed Stripe test event to the local stack's stripeWebhook.",
    )
    parser.add_argument(
        "--base-url",
        default=os.environ.get("FUNCTIONS_BASE_URL", DEFAULT_BASE),
        help="the Functions emulator's base (default: $FUNCTIONS_BASE_URL or %(default)s)",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    for name, what in (
        ("checkout-completed", "checkout.session.completed: a finished purchase of a pack"),
        ("async-succeeded", "checkout.session.async_payment_succeeded: a delayed payment arrived"),
    ):
        sub = commands.add_parser(name, help=what)
        sub.add_argument("--user", required=True, help="the buyer's userId")
        sub.add_argument("--pack", required=True, help="a credit pack id of getCatalog")
        sub.add_argument(
            "--session", required=name == "async-succeeded", help="Checkout Session id to reuse"
        )
        sub.add_argument("--payment-intent", help="payment intent id to reuse")
        sub.add_argument("--amount", type=int, help="amount_total (default: the pack's)")
        sub.add_argument("--currency", help="currency (default: the pack's)")
        if name == "checkout-completed":
            sub.add_argument(
                "--unpaid",
                action="store_true",
                help="payment_status unpaid (a delayed payment method; nothing is granted yet)",
            )
    refund = commands.add_parser(
        "charge-refunded", help="charge.refunded: a purchase's payment refunded (cumulative)"
    )
    which = refund.add_mutually_exclusive_group(required=True)
    which.add_argument("--session", help="the purchase's Checkout Session (looked up)")
    which.add_argument("--payment-intent", help="the purchase's payment intent")
    refund.add_argument("--amount", type=int, help="the charge's amount (default: the purchase's)")
    refund.add_argument(
        "--amount-refunded", type=int, help="refunded so far, cumulative (default: all of it)"
    )
    refund.add_argument("--currency", help="the charge's currency (default: the purchase's)")
    args = parser.parse_args(argv)
    for name in ("amount", "amount_refunded"):
        if getattr(args, name, None) is not None and getattr(args, name) < 0:
            parser.error(f"--{name.replace('_', '-')} must not be negative")
    return args


def build(args: argparse.Namespace, now: int) -> tuple[dict[str, Any], list[str]]:
    """The event for `args` and the lines naming the ids to reuse; may read the catalog or the
    Firestore emulator."""
    if args.command == "charge-refunded":
        return build_refund(args, now)
    amount, currency = args.amount, args.currency
    if amount is None or currency is None:
        pack = find_pack(get_catalog(args.base_url), args.pack)
        amount = pack["amount"] if amount is None else amount
        currency = pack["currency"] if currency is None else currency
    session_id = args.session or new_id("cs")
    payment_intent = args.payment_intent or payment_intent_of(session_id)
    paid = not getattr(args, "unpaid", False)
    session = checkout_session(
        session_id=session_id,
        payment_intent=payment_intent,
        user_id=args.user,
        pack_id=args.pack,
        amount=amount,
        currency=str(currency).lower(),
        paid=paid,
        created=now,
    )
    kind = (
        "checkout.session.completed"
        if args.command == "checkout-completed"
        else "checkout.session.async_payment_succeeded"
    )
    reuse = [f"session         {session_id}", f"payment intent  {payment_intent}"]
    if not paid:
        reuse.append(
            f"{NEXT}{SELF} async-succeeded --user {args.user} --pack {args.pack} "
            f"--session {session_id}"
        )
    else:
        reuse.append(f"{NEXT}{SELF} charge-refunded --session {session_id}")
    return event(kind, session, created=now), reuse


def build_refund(args: argparse.Namespace, now: int) -> tuple[dict[str, Any], list[str]]:
    payment_intent, amount, currency = args.payment_intent, args.amount, args.currency
    if args.session or amount is None or currency is None:
        field, value = (
            ("session_id", args.session) if args.session else ("payment_intent", payment_intent)
        )
        host = os.environ.get("FIRESTORE_EMULATOR_HOST", DEFAULT_FIRESTORE)
        found = lookup_purchase(host, field, value)
        if found is None:
            raise ValueError(
                f"no purchase with {field} {value} in the Firestore emulator ({host}); "
                "pass --payment-intent, --amount and --currency"
            )
        payment_intent = payment_intent or found["payment_intent"]
        amount = found["amount"] if amount is None else amount
        currency = found["currency"] if currency is None else currency
    refunded = amount if args.amount_refunded is None else args.amount_refunded
    charge = refunded_charge(
        payment_intent=payment_intent,
        amount=amount,
        amount_refunded=refunded,
        currency=str(currency).lower(),
        created=now,
    )
    reuse = [f"payment intent  {payment_intent}", f"refunded        {refunded} of {amount}"]
    return event("charge.refunded", charge, created=now), reuse


def main(argv: list[str]) -> int:
    args = parse(argv)
    secret = webhook_secret(os.environ, SECRET_LOCAL)
    if not secret:
        print(
            f"No STRIPE_WEBHOOK_SECRET in the environment or {SECRET_LOCAL.relative_to(ROOT)} "
            "(`make dev` writes it).",
            file=sys.stderr,
        )
        return 2
    try:
        body, reuse = build(args, int(time.time()))
    except ValueError as err:
        print(err, file=sys.stderr)
        return 2
    except (urllib.error.URLError, OSError) as err:
        print(
            f"The local stack could not be reached ({err}); is `make dev` running?", file=sys.stderr
        )
        return 1
    payload = json.dumps(body, indent=2).encode()
    try:
        status, answer = post_event(args.base_url, payload, secret)
    except (urllib.error.URLError, OSError) as err:
        print(
            f"stripeWebhook could not be reached ({err}); is `make dev` running?", file=sys.stderr
        )
        return 1
    print(f"{body['type']} {body['id']} -> HTTP {status} {answer.strip()}")
    ok = 200 <= status < 300
    for line in reuse:
        if ok or not line.startswith(NEXT):  # what to send next, once this one was taken
            print(f"  {line}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
