"""createCheckoutSession and stripeWebhook."""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import Request, Response

from controllers.http import json_body, json_response, raw_body, validate
from core.errors import PaymentsNotConfiguredError, ValidationError
from core.logging import warn
from core.payments import InvalidEvent, InvalidSignature, is_webhook_secret, verify_event
from schemas.requests import CheckoutRequest

if TYPE_CHECKING:
    from controllers.auth import UserAuthorizer
    from services.payments import PaymentService


class PaymentsController:
    def __init__(self, service: PaymentService, auth: UserAuthorizer, webhook_secret: str) -> None:
        self._service = service
        self._auth = auth
        self._webhook_secret = webhook_secret

    def checkout(self, request: Request) -> Response:
        """The signed-in user's own purchase: an ID token, never an API key."""
        uid = self._auth.identify(request)
        body = validate(CheckoutRequest, json_body(request))
        session = self._service.checkout(uid, body.packId)
        return json_response({"success": True, "url": session.url, "sessionId": session.id})

    def webhook(self, request: Request) -> Response:
        """Stripe's events: no Firebase credentials, the Stripe-Signature over the raw body
        instead. A bad signature stores nothing."""
        if not is_webhook_secret(self._webhook_secret):
            raise PaymentsNotConfiguredError(
                "Payments are not set up here (the STRIPE_WEBHOOK_SECRET secret is not set)"
            )
        try:
            event = verify_event(
                raw_body(request), request.headers.get("Stripe-Signature"), self._webhook_secret
            )
        except InvalidSignature as refused:
            warn("stripe signature refused", reason=str(refused), path=request.path)
            raise ValidationError(
                "The Stripe-Signature header is missing, wrong or too old",
                error="invalid_signature",
            ) from None
        except InvalidEvent:
            raise ValidationError(
                "The signed body is not a Stripe event", error="invalid_event"
            ) from None
        self._service.handle(event)
        return json_response({"success": True, "received": True})
