"""Streaming accumulators for a report week: records are fed one at a time and only counters
are kept, never a whole collection."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from fractions import Fraction
from typing import TYPE_CHECKING

from services.reports.window import WEEK, WeekWindow, history_span, previous_weeks

if TYPE_CHECKING:
    from schemas.documents import RequestRecord, TransactionRecord, UserRecord

DIMENSIONS: tuple[str, ...] = ("model", "style", "color", "size")


def percent(part: int, whole: int) -> float:
    """`part / whole` as a percentage rounded to 2 decimals; 0.0 when `whole` is 0."""
    return round(100 * part / whole, 2) if whole else 0.0


@dataclass(slots=True)
class Tally:
    """Request outcomes for one group (the whole week, a model, a style...)."""

    total: int = 0
    completed: int = 0
    failed: int = 0
    cancelled: int = 0  # counted on their own: a cancellation is not a failure

    def add(self, status: str) -> None:
        self.total += 1
        if status == "completed":
            self.completed += 1
        elif status == "failed":
            self.failed += 1
        elif status == "cancelled":
            self.cancelled += 1

    def merge(self, other: Tally) -> None:
        self.total += other.total
        self.completed += other.completed
        self.failed += other.failed
        self.cancelled += other.cancelled

    @property
    def pending(self) -> int:
        """pending + queued + processing: everything not yet terminal."""
        return self.total - self.completed - self.failed - self.cancelled

    @property
    def exact_failure_rate(self) -> Fraction:
        """Failure percentage without rounding, for threshold comparisons."""
        return Fraction(100 * self.failed, self.total) if self.total else Fraction(0)

    @property
    def success_rate(self) -> float:
        return percent(self.completed, self.total)

    @property
    def failure_rate(self) -> float:
        return percent(self.failed, self.total)


class WeekAggregate:
    """Figures of one week; records outside the window are ignored (the `add_*` return False)."""

    def __init__(self, window: WeekWindow) -> None:
        self.window = window
        self.requests = Tally()
        self.breakdowns: dict[str, dict[str, Tally]] = {dim: {} for dim in DIMENSIONS}
        self.user_requests: Counter[str] = Counter()
        self.credits_deducted = 0
        self.credits_refunded = 0
        self.deduction_count = 0
        self.refund_count = 0
        # Credits from outside the money path; they are neither deductions nor refunds and
        # make nobody active (see `add_transaction`).
        self.credits_granted = 0  # grant and welcome entries
        self.credits_purchased = 0  # purchase entries
        self.credits_purchase_refunded = 0  # purchase_refund entries (what was taken back)
        self.revenue: Counter[str] = Counter()  # currency -> smallest unit, net of take-backs
        self.user_credits: Counter[str] = Counter()
        self.user_day_credits: Counter[tuple[str, date]] = Counter()
        self.new_users_by_day: Counter[date] = Counter()
        self._active: set[str] = set()

    # --- feeding ------------------------------------------------------------------------------

    def add_request(self, record: RequestRecord) -> bool:
        if not self.window.contains(record.created_at):
            return False
        self.requests.add(record.status)
        for dim in DIMENSIONS:
            group = self.breakdowns[dim].setdefault(getattr(record, dim), Tally())
            group.add(record.status)
        self.user_requests[record.user_id] += 1
        self._active.add(record.user_id)
        return True

    def add_transaction(self, record: TransactionRecord) -> bool:
        """Credit figures are net: a refund counts against the day it was booked on. Money-in
        entries (and their take-backs) only feed their own figures: consumption, the per-user
        figures and who is active stay those of the money path."""
        if not self.window.contains(record.timestamp):
            return False
        if record.type == "deduction":
            self.credits_deducted += record.credits
            self.deduction_count += 1
            signed = record.credits
        elif record.type == "refund":
            self.credits_refunded += record.credits
            self.refund_count += 1
            signed = -record.credits
        else:
            self._add_money_in(record)
            return True
        self.user_credits[record.user_id] += signed
        self.user_day_credits[(record.user_id, record.timestamp.date())] += signed
        self._active.add(record.user_id)
        return True

    def _add_money_in(self, record: TransactionRecord) -> None:
        if record.type in ("grant", "welcome"):
            self.credits_granted += record.credits
        elif record.type == "purchase":
            self.credits_purchased += record.credits
            if record.amount is not None and record.currency:
                self.revenue[record.currency] += record.amount
        elif record.type == "purchase_refund":
            self.credits_purchase_refunded += record.credits
            if record.amount is not None and record.currency:
                self.revenue[record.currency] -= record.amount

    def add_user(self, record: UserRecord) -> bool:
        if record.created_at is None or not self.window.contains(record.created_at):
            return False
        self.new_users_by_day[record.created_at.date()] += 1
        return True

    def merge(self, other: WeekAggregate) -> None:
        """Add the figures of `other` (a window inside this one, e.g. a day), keeping per-user
        credits of 0: the scan lists a user whose deduction and refund cancel out."""
        if not (self.window.start <= other.window.start and other.window.end <= self.window.end):
            raise ValueError("the merged figures lie outside this window")
        self.requests.merge(other.requests)
        for dim in DIMENSIONS:
            groups = self.breakdowns[dim]
            for key, tally in other.breakdowns[dim].items():
                groups.setdefault(key, Tally()).merge(tally)
        for user_id, requests in other.user_requests.items():
            self.user_requests[user_id] += requests
        self.credits_deducted += other.credits_deducted
        self.credits_refunded += other.credits_refunded
        self.deduction_count += other.deduction_count
        self.refund_count += other.refund_count
        self.credits_granted += other.credits_granted
        self.credits_purchased += other.credits_purchased
        self.credits_purchase_refunded += other.credits_purchase_refunded
        for currency, amount in other.revenue.items():
            self.revenue[currency] += amount
        for user_id, credits in other.user_credits.items():
            self.user_credits[user_id] += credits
        for user_day, credits in other.user_day_credits.items():
            self.user_day_credits[user_day] += credits
        for day, count in other.new_users_by_day.items():
            self.new_users_by_day[day] += count
        self._active |= other._active

    def mark_active(self, user_id: str) -> None:
        """A user active in the window (for figures rebuilt from a stored rollup)."""
        self._active.add(user_id)

    # --- derived figures ----------------------------------------------------------------------

    @property
    def total_requests(self) -> int:
        return self.requests.total

    @property
    def models(self) -> dict[str, Tally]:
        return self.breakdowns["model"]

    @property
    def net_credits(self) -> int:
        return self.credits_deducted - self.credits_refunded

    @property
    def active_users(self) -> list[str]:
        """Users with a request or a credit transaction in the week, sorted."""
        return sorted(self._active)

    @property
    def active_users_count(self) -> int:
        return len(self._active)

    @property
    def new_users_count(self) -> int:
        return sum(self.new_users_by_day.values())

    @property
    def average_requests_per_user(self) -> float:
        """Requests per user who made at least one request."""
        users = len(self.user_requests)
        return round(self.total_requests / users, 2) if users else 0.0

    @property
    def average_credits_per_request(self) -> float:
        count = self.deduction_count
        return round(self.credits_deducted / count, 2) if count else 0.0


@dataclass(frozen=True, slots=True)
class Baseline:
    """Means over the weeks before the report week, the reference for spike ratios."""

    windows: tuple[WeekWindow, ...]
    total_requests: int
    total_net_credits: int

    @classmethod
    def of(cls, aggregates: Sequence[WeekAggregate]) -> Baseline:
        return cls(
            windows=tuple(agg.window for agg in aggregates),
            total_requests=sum(agg.total_requests for agg in aggregates),
            total_net_credits=sum(agg.net_credits for agg in aggregates),
        )

    @property
    def mean_requests(self) -> Fraction:
        return Fraction(self.total_requests, len(self.windows)) if self.windows else Fraction(0)

    @property
    def mean_net_credits(self) -> Fraction:
        return Fraction(self.total_net_credits, len(self.windows)) if self.windows else Fraction(0)


class WeekSeries:
    """The report week and the `history` weeks before it, fed by streams spanning all (`span`)."""

    def __init__(self, window: WeekWindow, history: int = 4) -> None:
        self.span = history_span(window, history)
        self.current = WeekAggregate(window)
        self.previous = [WeekAggregate(w) for w in previous_weeks(window, history)]
        # Oldest first, so a record's week index is (moment - span.start) // WEEK.
        self._weeks = [*reversed(self.previous), self.current]

    def _week(self, moment: datetime | None) -> WeekAggregate | None:
        if moment is None or not self.span.contains(moment):
            return None
        return self._weeks[(moment - self.span.start) // WEEK]

    def add_request(self, record: RequestRecord) -> bool:
        week = self._week(record.created_at)
        return week.add_request(record) if week else False

    def add_transaction(self, record: TransactionRecord) -> bool:
        week = self._week(record.timestamp)
        return week.add_transaction(record) if week else False

    def add_user(self, record: UserRecord) -> bool:
        week = self._week(record.created_at)
        return week.add_user(record) if week else False

    def merge(self, figures: WeekAggregate) -> None:
        """Add figures of a shorter window (a day's rollup) to the week that contains them."""
        week = self._week(figures.window.start)
        if week is None:
            raise ValueError("the merged figures lie outside the report's weeks")
        week.merge(figures)

    @property
    def previous_week(self) -> WeekAggregate:
        if not self.previous:
            return WeekAggregate(self.current.window.shifted(-1))
        return self.previous[0]
