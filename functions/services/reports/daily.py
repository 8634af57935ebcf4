"""Daily rollups: a `WeekAggregate` over one UTC day, fed as the scan feeds a week. Every figure
is a count or a sum, so seven days merge into the week the scan would build. Stored as a header
(the totals) and per-user entries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from services.reports.aggregation import DIMENSIONS, Tally, WeekAggregate
from services.reports.window import WeekWindow, as_utc

if TYPE_CHECKING:
    from schemas.documents import RequestRecord, TransactionRecord, UserRecord

DAY = timedelta(days=1)
FORMAT_VERSION = 1
# A day is final only if it was computed this long after its end: a ledger entry stamped just
# before midnight may commit a little later.
SETTLE_GRACE = timedelta(minutes=5)
_TALLY_FIELDS = ("total", "completed", "failed", "cancelled")


def day_window(day: date) -> WeekWindow:
    """`[day 00:00 UTC, next day 00:00 UTC)`."""
    if isinstance(day, datetime):
        raise TypeError("day_window takes a date, not a datetime")
    start = datetime.combine(day, time.min, tzinfo=UTC)
    return WeekWindow(start, start + DAY)


def days_of(window: WeekWindow) -> list[date]:
    """The UTC days of a window that starts and ends at midnight, oldest first."""
    count = (window.end - window.start) // DAY
    first = as_utc(window.start).date()
    return [first + n * DAY for n in range(count)]


@dataclass(slots=True)
class DayRollup:
    """One day's figures, how many of its requests were not final, and when it was made.
    Without its per-user entries (`has_users` False) it may only feed the baseline weeks."""

    day: date
    figures: WeekAggregate
    computed_at: datetime
    unsettled_requests: int = 0
    has_users: bool = True

    @classmethod
    def empty(cls, day: date, computed_at: datetime) -> DayRollup:
        return cls(day, WeekAggregate(day_window(day)), as_utc(computed_at))

    # --- feeding (the scan's rules, through WeekAggregate) ----------------------------------

    def add_request(self, record: RequestRecord) -> bool:
        added = self.figures.add_request(record)
        if added and not record.status.is_terminal:
            self.unsettled_requests += 1
        return added

    def add_transaction(self, record: TransactionRecord) -> bool:
        return self.figures.add_transaction(record)

    def add_user(self, record: UserRecord) -> bool:
        return self.figures.add_user(record)

    # --- state ------------------------------------------------------------------------------

    @property
    def settled(self) -> bool:
        """No request created that day is still pending, queued or processing, and the day had
        ended (with a grace) when this was computed: its figures will not change."""
        return (
            self.unsettled_requests == 0
            and self.computed_at >= self.figures.window.end + SETTLE_GRACE
        )

    # --- stored form ------------------------------------------------------------------------

    def to_stored(self) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """`(header with every total, users)`: one `{"id", "requests", "credits"}` per active
        user, `credits` None when the user booked nothing that day (0 when it cancels out)."""
        if not self.has_users:
            raise ValueError("a rollup read without its users cannot be stored")
        agg = self.figures
        header = {
            "date": self.day.isoformat(),
            "format": FORMAT_VERSION,
            "settled": self.settled,
            "unsettled_requests": self.unsettled_requests,
            "computed_at": self.computed_at,
            "requests": _tally_dict(agg.requests),
            "breakdowns": {dim: _groups(agg.breakdowns[dim]) for dim in DIMENSIONS},
            "credits_deducted": agg.credits_deducted,
            "credits_refunded": agg.credits_refunded,
            "deduction_count": agg.deduction_count,
            "refund_count": agg.refund_count,
            "credits_granted": agg.credits_granted,
            "credits_purchased": agg.credits_purchased,
            "credits_purchase_refunded": agg.credits_purchase_refunded,
            "revenue": dict(sorted(agg.revenue.items())),
            "new_users": agg.new_users_count,
            "active_users": agg.active_users_count,
        }
        users = [
            {
                "id": user_id,
                "requests": agg.user_requests.get(user_id, 0),
                "credits": agg.user_credits.get(user_id),  # a Counter's .get: None if absent
            }
            for user_id in agg.active_users
        ]
        return header, users

    @classmethod
    def from_stored(cls, header: dict[str, Any], users: list[dict[str, Any]] | None) -> DayRollup:
        """The inverse of `to_stored`; `users=None` reads the totals only."""
        if header.get("format") != FORMAT_VERSION:
            raise ValueError(f"unknown rollup format: {header.get('format')!r}")
        day = date.fromisoformat(header["date"])
        agg = WeekAggregate(day_window(day))
        agg.requests = _tally(header["requests"])
        for dim in DIMENSIONS:
            agg.breakdowns[dim] = {
                entry["key"]: _tally(entry) for entry in header["breakdowns"].get(dim, [])
            }
        agg.credits_deducted = header["credits_deducted"]
        agg.credits_refunded = header["credits_refunded"]
        agg.deduction_count = header["deduction_count"]
        agg.refund_count = header["refund_count"]
        # Absent from rollups stored before money came in: nothing was granted or bought then.
        agg.credits_granted = int(header.get("credits_granted", 0))
        agg.credits_purchased = int(header.get("credits_purchased", 0))
        agg.credits_purchase_refunded = int(header.get("credits_purchase_refunded", 0))
        agg.revenue.update({str(c): int(a) for c, a in (header.get("revenue") or {}).items()})
        if header["new_users"]:
            agg.new_users_by_day[day] = header["new_users"]
        for entry in users or []:
            user_id = entry["id"]
            agg.mark_active(user_id)
            if entry["requests"]:
                agg.user_requests[user_id] = entry["requests"]
            if entry["credits"] is not None:
                agg.user_credits[user_id] = entry["credits"]
                agg.user_day_credits[(user_id, day)] = entry["credits"]
        return cls(
            day=day,
            figures=agg,
            computed_at=as_utc(header["computed_at"]),
            unsettled_requests=header["unsettled_requests"],
            has_users=users is not None,
        )


def _groups(tallies: dict[str, Tally]) -> list[dict[str, Any]]:
    """`[{"key": <group>, "total": ..., ...}]`: a list, so any group value is safe to store."""
    return [{"key": key, **_tally_dict(t)} for key, t in sorted(tallies.items())]


def _tally_dict(tally: Tally) -> dict[str, int]:
    return {name: getattr(tally, name) for name in _TALLY_FIELDS}


def _tally(data: dict[str, Any]) -> Tally:
    return Tally(**{name: int(data[name]) for name in _TALLY_FIELDS})
