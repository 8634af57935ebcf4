"""Operator grants: credits for one user, booked once per caller-chosen grantId."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from core.errors import GrantConflictError
from schemas.documents import GrantRecord

if TYPE_CHECKING:
    from core.clock import Clock
    from services.ports import GrantLedger


@dataclass(frozen=True)
class GrantOutcome:
    grant: GrantRecord  # the grant as booked (the first call's, on a repeat)
    granted: bool  # False: a repeat of a grant already booked; nothing changed
    balance: int  # the user's current_credits after this call


class GrantService:
    def __init__(self, ledger: GrantLedger, clock: Clock) -> None:
        self._ledger = ledger
        self._clock = clock

    def grant(
        self, *, user_id: str, credits: int, reason: str, grant_id: str, granted_by: str
    ) -> GrantOutcome:
        """Books the grant once. The same grantId with the same user, credits and reason is a
        retry (nothing more is credited); with other terms it is a 409 `grant_conflict`."""
        asked = GrantRecord(
            id=grant_id,
            user_id=user_id,
            credits=credits,
            reason=reason,
            granted_by=granted_by,
            created_at=self._clock.now(),
        )
        booking = self._ledger.book_grant(asked)
        if not booking.grant.same_terms(asked):
            raise GrantConflictError(
                f"grantId {grant_id} was already used for a grant of {booking.grant.credits} "
                f"credits to {booking.grant.user_id} ({booking.grant.reason!r}); "
                "choose a new grantId for a new grant",
                error="grant_conflict",
            )
        return GrantOutcome(booking.grant, granted=booking.created, balance=booking.balance)
