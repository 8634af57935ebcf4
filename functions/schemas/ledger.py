"""Ledger entries, for the money path and the seeder alike. A request's deduction and refund
have ids derived from its id, so `create()` makes each at most once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from schemas.documents import (
    OWNER_MISSING,
    REFUNDED,
    CreditPackRecord,
    GenerationRecord,
    GrantRecord,
    TransactionRecord,
)


def deduction_id(request_id: str) -> str:
    return f"deduction_{request_id}"


def refund_id(request_id: str) -> str:
    return f"refund_{request_id}"


def deduction(request: GenerationRecord, at: datetime) -> TransactionRecord:
    """What the owner pays for `request`: its `credits_deducted`."""
    description = f"Image generation ({request.model}, {request.size})"
    return _entry("deduction", deduction_id(request.id), request, at, description)


def refund(request: GenerationRecord, reason: str, at: datetime) -> TransactionRecord:
    """Everything `request` cost, given back (a failed request)."""
    description = f"Refund: {reason}" if reason else "Refund"
    return _entry("refund", refund_id(request.id), request, at, description)


def refunded_credits(request: GenerationRecord) -> int:
    """What `refund(request)` booked, read off the record alone: all it cost once it failed or
    was cancelled, 0 otherwise or when it was settled without an owner to refund."""
    if request.status not in REFUNDED or request.settle_problem == OWNER_MISSING:
        return 0
    return request.credits_deducted


def _entry(
    kind: Literal["deduction", "refund"],
    entry_id: str,
    request: GenerationRecord,
    at: datetime,
    description: str,
) -> TransactionRecord:
    return TransactionRecord(
        id=entry_id,
        type=kind,
        credits=request.credits_deducted,
        generation_request_id=request.id,
        user_id=request.user_id,
        timestamp=at,
        description=description,
    )


# Credits from outside the money path. Each id is derived from what makes the credit unique, so
# `create()` books it at most once however often it is asked for.


def welcome_id(user_id: str) -> str:
    return f"welcome_{user_id}"


def welcome(user_id: str, credits: int, at: datetime) -> TransactionRecord:
    """A new account's welcome credits: one per user, ever."""
    return TransactionRecord(
        id=welcome_id(user_id),
        type="welcome",
        credits=credits,
        user_id=user_id,
        timestamp=at,
        description="Welcome credits",
    )


def grant_id(caller_grant_id: str) -> str:
    return f"grant_{caller_grant_id}"


def purchase_id(session_id: str) -> str:
    return f"purchase_{session_id}"


def purchase_refund_id(session_id: str, amount_refunded: int) -> str:
    """One take-back per cumulative refunded amount: a redelivered charge.refunded takes nothing
    more, a further partial refund (a larger amount) takes its difference."""
    return f"purchase_refund_{session_id}_{amount_refunded}"


def purchase(
    user_id: str, pack: CreditPackRecord, session_id: str, payment_intent: str | None, at: datetime
) -> TransactionRecord:
    """The credits of `pack`, paid through Checkout Session `session_id`."""
    return TransactionRecord(
        id=purchase_id(session_id),
        type="purchase",
        credits=pack.credits,
        user_id=user_id,
        timestamp=at,
        description=f"Purchase: {pack.name}",
        pack_id=pack.id,
        amount=pack.amount,
        currency=pack.currency,
        session_id=session_id,
        payment_intent=payment_intent,
    )


def purchase_refund(
    bought: TransactionRecord, amount_refunded: int, credits: int, money: int, at: datetime
) -> TransactionRecord:
    """Takes back `credits` of purchase `bought`, whose payment is refunded up to
    `amount_refunded` (cumulative, in the currency's smallest unit); `money` is the part of it
    this entry stands for (the report's revenue is net of it)."""
    session_id = bought.session_id or bought.id.removeprefix("purchase_")
    return TransactionRecord(
        id=purchase_refund_id(session_id, amount_refunded),
        type="purchase_refund",
        credits=credits,
        user_id=bought.user_id,
        timestamp=at,
        description=f"Purchase refunded ({amount_refunded} of {bought.amount} {bought.currency})",
        pack_id=bought.pack_id,
        session_id=session_id,
        amount=money,
        currency=bought.currency,
    )


def grant(record: GrantRecord) -> TransactionRecord:
    """The ledger entry of an operator's grant; its description shows in any client's history."""
    return TransactionRecord(
        id=grant_id(record.id),
        type="grant",
        credits=record.credits,
        user_id=record.user_id,
        timestamp=record.created_at,
        description=f"Credit grant: {record.reason}",
        granted_by=record.granted_by,
        reason=record.reason,
    )
