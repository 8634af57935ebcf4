"""Credits bought through Stripe Checkout: the session a buyer pays in, and the webhook events
that book the purchase (once per session) and take credits back for refunds (once per refunded
amount). Every effect is a ledger entry whose id says what made it, so a redelivered or repeated
event books nothing twice; Stripe's event ids need not be kept."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pydantic

from core.errors import (
    ConflictError,
    NotFoundError,
    PaymentsNotConfiguredError,
    ValidationError,
)
from core.logging import error, info
from schemas import ledger
from schemas.stripe_events import ChargeObject, CheckoutSessionObject, StripeEvent

if TYPE_CHECKING:
    from core.clock import Clock
    from core.payments import CheckoutSession
    from schemas.documents import CreditPackRecord, TransactionRecord
    from schemas.store import Booked
    from services.catalog_service import CatalogService
    from services.ports import AccountReader, CheckoutGateway, CreditPackReader, PurchaseLedger

PURCHASE_EVENTS = ("checkout.session.completed", "checkout.session.async_payment_succeeded")
REFUND_EVENT = "charge.refunded"
# Firebase Auth uids are at most 128 characters.
MAX_ID_LENGTH = 128


class PaymentService:
    def __init__(
        self,
        catalog: CatalogService,
        packs: CreditPackReader,
        accounts: AccountReader,
        credits: PurchaseLedger,
        clock: Clock,
        checkout: Callable[[], CheckoutGateway | None],
        return_url: str,
    ) -> None:
        self._catalog = catalog
        self._packs = packs
        self._accounts = accounts
        self._credits = credits
        self._clock = clock
        self._checkout = checkout
        self._return_url = return_url

    # --- createCheckoutSession -----------------------------------------------------------------

    def checkout(self, user_id: str, pack_id: str) -> CheckoutSession:
        """A Checkout Session in which `user_id` pays for pack `pack_id` (on sale now)."""
        if self._accounts.get(user_id) is None:
            raise NotFoundError(
                f"No account for uid {user_id}; call createAccount first",
                error="account_not_found",
            )
        pack = next((p for p in self._catalog.catalog().credit_packs if p.id == pack_id), None)
        if pack is None:
            raise NotFoundError(f"No credit pack {pack_id!r} is on sale", error="pack_not_found")
        gateway = self._checkout()
        if gateway is None:
            raise PaymentsNotConfiguredError()
        session = gateway.create_session(self._session_params(user_id, pack))
        info("checkout session created", user_id=user_id, pack_id=pack.id, session_id=session.id)
        return session

    def _session_params(self, user_id: str, pack: CreditPackRecord) -> dict[str, object]:
        return {
            "mode": "payment",
            "client_reference_id": user_id,
            "metadata": {"userId": user_id, "packId": pack.id},
            "line_items": [
                {
                    "quantity": 1,
                    "price_data": {
                        "currency": pack.currency,
                        "unit_amount": pack.amount,
                        "product_data": {"name": pack.name},
                    },
                }
            ],
            "success_url": _with_query(self._return_url, "checkout=success"),
            "cancel_url": _with_query(self._return_url, "checkout=cancelled"),
        }

    # --- stripeWebhook -------------------------------------------------------------------------

    def handle(self, payload: dict[str, object]) -> str:
        """Apply one verified event; what it did (for the log). A 400 only for a body that is
        no Stripe event; everything else is acknowledged, so Stripe does not retry what a retry
        cannot fix (each refusal is logged as an error for an operator)."""
        try:
            event = StripeEvent.from_payload(dict(payload))
            session = (
                CheckoutSessionObject.model_validate(event.object_)
                if event.type in PURCHASE_EVENTS
                else None
            )
            charge = (
                ChargeObject.model_validate(event.object_) if event.type == REFUND_EVENT else None
            )
        except pydantic.ValidationError:
            raise ValidationError(
                "The signed body is not a Stripe event this endpoint understands",
                error="invalid_event",
            ) from None
        if session is not None:
            outcome = self._purchase(event, session)
        elif charge is not None:
            outcome = self._refund(event, charge)
        else:
            outcome = "ignored"
        info("stripe event", event_id=event.id, type=event.type, outcome=outcome)
        return outcome

    def _purchase(self, event: StripeEvent, session: CheckoutSessionObject) -> str:
        if event.type == "checkout.session.completed" and session.payment_status != "paid":
            return "awaiting_payment"  # checkout.session.async_payment_succeeded follows
        metadata = session.metadata or {}
        user_id = metadata.get("userId") or session.client_reference_id or ""
        pack_id = metadata.get("packId", "")
        if not (_document_id(user_id) and _document_id(pack_id)):
            return _refused("no_user_or_pack", event, session.id, user_id=user_id, pack_id=pack_id)
        pack = self._packs.credit_pack(pack_id)
        if pack is None:
            return _refused("unknown_pack", event, session.id, pack_id=pack_id)
        if session.amount_total != pack.amount or (session.currency or "").lower() != pack.currency:
            return _refused(
                "amount_mismatch",
                event,
                session.id,
                pack_id=pack_id,
                paid=f"{session.amount_total} {session.currency}",
                price=f"{pack.amount} {pack.currency}",
            )
        entry = ledger.purchase(
            user_id, pack, session.id, session.payment_intent, self._clock.now()
        )
        return self._book(event, session.id, lambda: self._credits.book(entry))

    def _refund(self, event: StripeEvent, charge: ChargeObject) -> str:
        if not charge.payment_intent:
            return _refused("no_payment_intent", event, charge.id)
        bought = self._credits.find_purchase(charge.payment_intent)
        if bought is None:
            return _refused(
                "unknown_payment", event, charge.id, payment_intent=charge.payment_intent
            )
        paid = charge.amount or bought.amount or 0
        if paid <= 0:
            return _refused("nothing_paid", event, charge.id)
        refunded = min(charge.amount_refunded, paid)
        # What the refunded share of the payment is worth in credits, rounded down.
        owed = bought.credits * refunded // paid
        now = self._clock.now()

        def plan(taken: int, refunded_before: int) -> TransactionRecord | None:
            take = owed - taken
            if take <= 0:
                return None
            # The money this take-back stands for: what was refunded since the last one.
            money = max(refunded - refunded_before, 0)
            return ledger.purchase_refund(bought, refunded, take, money, now)

        return self._book(event, charge.id, lambda: self._credits.take_back(bought, plan))

    def _book(self, event: StripeEvent, object_id: str, book: Callable[[], Booked | None]) -> str:
        try:
            booked = book()
        except NotFoundError:
            return _refused("unknown_user", event, object_id)
        except ConflictError:  # a concurrent delivery created the same entry first
            return "unchanged"
        if booked is None or not booked.created:
            return "unchanged"
        info(
            "credits booked",
            entry_id=booked.entry.id,
            user_id=booked.entry.user_id,
            credits=booked.entry.signed_credits,
            shortfall=booked.entry.shortfall,
            balance=booked.balance,
        )
        return "booked"


def _refused(outcome: str, event: StripeEvent, object_id: str, **fields: object) -> str:
    """An event that books nothing and that a retry would not change: logged for an operator."""
    error(
        "stripe event not booked",
        outcome=outcome,
        event_id=event.id,
        type=event.type,
        object_id=object_id,
        **fields,
    )
    return outcome


def _document_id(value: str) -> bool:
    """Whether a user or pack id from an event's metadata can name a Firestore document."""
    reserved = value in (".", "..") or (value.startswith("__") and value.endswith("__"))
    return 0 < len(value) <= MAX_ID_LENGTH and "/" not in value and not reserved


def _with_query(url: str, query: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}{query}"
