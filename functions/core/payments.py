"""Stripe through its official library: Checkout Sessions out, signed webhook events in."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import stripe

from core.errors import PaymentsNotConfiguredError, PaymentsUnavailableError
from core.logging import log_exception

# Stripe's own default: an event signed longer ago than this is refused (replays).
SIGNATURE_TOLERANCE_SECONDS = 300
# Network retries of one Checkout Session creation (the library keeps one idempotency key).
MAX_NETWORK_RETRIES = 2


def is_secret_key(value: str) -> bool:
    """A Stripe secret (`sk_`) or restricted (`rk_`) API key, as opposed to a placeholder."""
    return value.startswith(("sk_", "rk_")) and len(value) > len("sk_")


def is_webhook_secret(value: str) -> bool:
    """A webhook endpoint's signing secret, as opposed to a placeholder."""
    return value.startswith("whsec_") and len(value) > len("whsec_")


@dataclass(frozen=True)
class CheckoutSession:
    id: str
    url: str


class StripeCheckout:
    """Creates Checkout Sessions. `http_client` is stripe's default (the network) unless given:
    tests give a recording one, the only stand-in for Stripe's API."""

    def __init__(self, secret_key: str, http_client: stripe.HTTPClient | None = None) -> None:
        self._client = stripe.StripeClient(
            secret_key, http_client=http_client, max_network_retries=MAX_NETWORK_RETRIES
        )

    def create_session(self, params: dict[str, Any]) -> CheckoutSession:
        """POST /v1/checkout/sessions; a 503 AppError when Stripe refuses or is unreachable."""
        try:
            session = self._client.v1.checkout.sessions.create(params=params)  # type: ignore[arg-type]
        except (stripe.AuthenticationError, stripe.PermissionError) as exc:
            log_exception("stripe refused the secret key", exc)
            raise PaymentsNotConfiguredError(
                "Payments are not set up correctly here: Stripe refused the STRIPE_SECRET_KEY",
            ) from None
        except stripe.StripeError as exc:
            log_exception("stripe checkout session failed", exc)
            raise PaymentsUnavailableError() from None
        if not session.id or not session.url:
            raise PaymentsUnavailableError()
        return CheckoutSession(id=session.id, url=session.url)


class InvalidSignature(Exception):
    """A webhook body whose Stripe-Signature is missing, wrong or too old."""


class InvalidEvent(Exception):
    """A correctly signed body that is not a Stripe event."""


def verify_event(payload: bytes, signature: str | None, secret: str) -> dict[str, Any]:
    """The event `payload` holds, as plain data, once its Stripe-Signature checks out against
    `secret` (at most SIGNATURE_TOLERANCE_SECONDS old)."""
    try:
        event = stripe.Webhook.construct_event(
            payload, signature, secret, tolerance=SIGNATURE_TOLERANCE_SECONDS
        )
    # UnicodeDecodeError: a body that is not UTF-8; TypeError: a header that is not ASCII.
    except (stripe.SignatureVerificationError, UnicodeDecodeError, TypeError) as exc:
        raise InvalidSignature(type(exc).__name__) from None
    # Signed, but not a JSON object of an event (or nested too deeply to parse).
    except (ValueError, AttributeError, RecursionError) as exc:
        raise InvalidEvent(type(exc).__name__) from None
    return event.to_dict()
