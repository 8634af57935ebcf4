"""Stripe in tests, without Stripe: a recording HTTP client for the stripe library (the one
stand-in allowed for Stripe's API) and signed webhook events.

Signing is Stripe's scheme (what scripts/stripe_event.py mirrors): the header
`Stripe-Signature: t=<unix time>,v1=<hex>` where hex is HMAC-SHA256, keyed with the whole
`whsec_...` secret, of `<t>.<raw body>`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

import stripe

SESSION_URL = "https://checkout.stripe.com/c/pay/{id}"


class RecordingStripeClient(stripe.HTTPClient):
    """Answers every request with a canned Checkout Session (or `status` with an error body) and
    records what was sent."""

    name = "recording"

    def __init__(self, status: int = 200, session_id: str = "cs_test_recorded") -> None:
        super().__init__()
        self.status = status
        self.session_id = session_id
        self.requests: list[tuple[str, str, dict[str, str], str]] = []

    def request(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | None,
        post_data: Any = None,
        *,
        _usage: list[str] | None = None,
    ) -> tuple[str, int, Mapping[str, str]]:
        self.requests.append((method, url, dict(headers or {}), post_data or ""))
        if self.status != 200:
            body = {"error": {"type": "api_error", "message": "recorded failure"}}
            return json.dumps(body), self.status, {}
        session = {
            "id": self.session_id,
            "object": "checkout.session",
            "mode": "payment",
            "url": SESSION_URL.format(id=self.session_id),
        }
        return json.dumps(session), 200, {}

    def request_stream(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError

    def close(self) -> None:
        return None

    @property
    def form(self) -> dict[str, str]:
        """The last request's form parameters (`metadata[userId]` style keys)."""
        return dict(parse_qsl(self.requests[-1][3]))


def signature(payload: bytes, secret: str, timestamp: int | None = None) -> str:
    """The Stripe-Signature header of `payload`, signed `timestamp` (default: now)."""
    t = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{t}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={t},v1={digest}"


def body(event: dict[str, Any]) -> bytes:
    return json.dumps(event).encode()


def event(kind: str, data_object: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": f"evt_{uuid.uuid4().hex[:24]}",
        "object": "event",
        "api_version": "2026-10-28.endive",
        "created": int(time.time()),
        "livemode": False,
        "type": kind,
        "data": {"object": data_object},
    }


def checkout_session(
    session_id: str,
    user_id: str,
    pack_id: str,
    amount: int,
    *,
    currency: str = "usd",
    payment_status: str = "paid",
    payment_intent: str | None = None,
    kind: str = "checkout.session.completed",
) -> dict[str, Any]:
    """A checkout.session.* event of a session created by createCheckoutSession."""
    return event(
        kind,
        {
            "id": session_id,
            "object": "checkout.session",
            "mode": "payment",
            "payment_status": payment_status,
            "status": "complete",
            "amount_total": amount,
            "currency": currency,
            "client_reference_id": user_id,
            "metadata": {"userId": user_id, "packId": pack_id},
            "payment_intent": payment_intent or f"pi_{session_id.removeprefix('cs_')}",
        },
    )


def charge_refunded(payment_intent: str, amount: int, amount_refunded: int) -> dict[str, Any]:
    """A charge.refunded event: `amount_refunded` is the charge's cumulative refunded amount."""
    return event(
        "charge.refunded",
        {
            "id": f"ch_{payment_intent.removeprefix('pi_')}",
            "object": "charge",
            "payment_intent": payment_intent,
            "amount": amount,
            "amount_refunded": amount_refunded,
            "currency": "usd",
            "refunded": amount_refunded >= amount,
        },
    )
