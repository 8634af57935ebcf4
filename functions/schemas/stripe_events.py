"""The parts of Stripe's webhook events the payments service reads (stripeWebhook). Stripe adds
fields over time: everything else is ignored, and what may be absent is optional."""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, Field

from core.models import Model


class _StripeObject(Model):
    model_config = ConfigDict(extra="ignore")


class StripeEvent(_StripeObject):
    id: str
    type: str
    object_: dict[str, Any] = Field(alias="object")  # data.object, lifted by `from_payload`

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> StripeEvent:
        data = payload.get("data")
        return cls.model_validate(
            {**payload, "object": data.get("object") if isinstance(data, dict) else None}
        )


class CheckoutSessionObject(_StripeObject):
    """A `checkout.session` (checkout.session.completed / async_payment_succeeded)."""

    id: str = Field(min_length=1)
    payment_status: str | None = None  # paid | unpaid | no_payment_required
    amount_total: int | None = None
    currency: str | None = None
    client_reference_id: str | None = None
    metadata: dict[str, str] | None = None
    payment_intent: str | None = None


class ChargeObject(_StripeObject):
    """A `charge` (charge.refunded): `amount_refunded` is cumulative over its refunds."""

    id: str
    payment_intent: str | None = None
    amount: int = Field(ge=0)
    amount_refunded: int = Field(ge=0)
    currency: str | None = None
