"""Daily rollups: the seven merged days of a week are the week the scan builds, figure for figure.

Randomized histories carry the cases that make a day's figures move after midnight: requests
settled late, refunds booked the next day, cancellations, deductions stamped a moment after the
midnight their request was created before, and users whose deduction and refund cancel out.
"""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from typing import Any

import pytest

from core.errors import ValidationError
from core.settings import AnomalyThresholds
from services.report_service import ReportService
from services.reports.aggregation import DIMENSIONS, WeekAggregate, WeekSeries
from services.reports.daily import SETTLE_GRACE, DayRollup, day_window, days_of
from services.reports.window import WeekWindow, week_for
from tests.support.fakes import ManualClock
from tests.support.memory_reports import MemoryReportStore

WEEK_START = date(2025, 7, 28)
WINDOW = week_for(WEEK_START)
SPAN = WeekWindow(WINDOW.start - timedelta(days=28), WINDOW.end)
STATUSES = ["completed", "completed", "completed", "failed", "cancelled", "queued", "processing"]
REFUNDED = {"failed", "cancelled"}


def history(seed: int, requests: int = 600) -> MemoryReportStore:
    """Requests over the five weeks and a little around them, with their ledgers."""
    rng = random.Random(seed)
    users = [f"user{n}" for n in range(15)]
    store = MemoryReportStore()
    span_seconds = int((SPAN.end - SPAN.start).total_seconds())
    for n in range(requests):
        created = SPAN.start + timedelta(seconds=rng.randrange(-86_400, span_seconds + 86_400))
        if rng.random() < 0.05:  # right before a midnight: the deduction lands the next day
            created = created.replace(hour=23, minute=59, second=59, microsecond=999_000)
        status = rng.choice(STATUSES)
        user = rng.choice(users)
        store.requests[f"r{n}"] = {
            "user_id": user,
            "model": rng.choice(["Model A", "Model B"]),
            "style": rng.choice(["anime", "realistic", "sketch"]),
            "color": rng.choice(["neon", "pastel"]),
            "size": rng.choice(["512x512", "1024x1024"]),
            "status": status,
            "created_at": created,
        }
        cost = rng.choice([1, 3, 5])
        entry = {"user_id": user, "credits": cost, "generation_request_id": f"r{n}"}
        booked = created + timedelta(milliseconds=rng.randrange(0, 2_000))
        store.transactions.append(entry | {"type": "deduction", "timestamp": booked})
        if status in REFUNDED:  # the same minute, or the next day (a late settlement)
            later = timedelta(seconds=rng.choice([5, 3_600 * 20, 3_600 * 30]))
            store.transactions.append(entry | {"type": "refund", "timestamp": created + later})
    for user in users:
        store.users[user] = SPAN.start + timedelta(seconds=rng.randrange(0, span_seconds))
    for n in range(requests // 10):  # credits coming in, and purchases taken back
        at = SPAN.start + timedelta(seconds=rng.randrange(-86_400, span_seconds + 86_400))
        entry = {
            "user_id": rng.choice(users),
            "credits": rng.choice([10, 50, 200]),
            "timestamp": at,
        }
        kind = rng.choice(["grant", "welcome", "purchase", "purchase_refund"])
        money = {"amount": rng.choice([499, 1999]), "currency": rng.choice(["usd", "eur"])}
        if kind == "purchase" or (kind == "purchase_refund" and n % 2):
            entry |= money  # some take-backs carry the refunded amount, some do not
        store.transactions.append(entry | {"type": kind})
    return store


def feed(target: Any, store: MemoryReportStore, start: datetime, end: datetime) -> None:
    for request in store.requests_created(start, end):
        target.add_request(request)
    for transaction in store.transactions_booked(start, end):
        target.add_transaction(transaction)
    for user in store.users_created(start, end):
        target.add_user(user)


def figures(agg: WeekAggregate) -> dict[str, Any]:
    """Every figure of an aggregate, zero-valued entries included."""
    return {
        "window": agg.window,
        "requests": agg.requests,
        "breakdowns": {dim: dict(sorted(agg.breakdowns[dim].items())) for dim in DIMENSIONS},
        "user_requests": dict(sorted(agg.user_requests.items())),
        "user_credits": dict(sorted(agg.user_credits.items())),
        "user_day_credits": dict(sorted(agg.user_day_credits.items())),
        "new_users_by_day": dict(sorted(agg.new_users_by_day.items())),
        "credits": (
            agg.credits_deducted,
            agg.credits_refunded,
            agg.deduction_count,
            agg.refund_count,
        ),
        "money_in": (agg.credits_granted, agg.credits_purchased, agg.credits_purchase_refunded),
        "revenue": dict(sorted(agg.revenue.items())),
        "active": agg.active_users,
    }


def rollup(store: MemoryReportStore, day: date, computed_at: datetime) -> DayRollup:
    result = DayRollup.empty(day, computed_at)
    feed(result, store, *day_window(day))
    return result


def stored_round_trip(day: DayRollup) -> DayRollup:
    header, users = day.to_stored()
    return DayRollup.from_stored(header, users)


@pytest.mark.parametrize("seed", range(8))
def test_merged_days_are_the_scanned_weeks(seed):
    store = history(seed)
    scanned = WeekSeries(WINDOW)
    feed(scanned, store, *scanned.span)

    merged = WeekSeries(WINDOW)
    later = SPAN.end + timedelta(days=1)
    for day in days_of(SPAN):
        merged.merge(stored_round_trip(rollup(store, day, later)).figures)

    assert merged.current.total_requests > 50  # the data is not trivially empty
    assert merged.current.credits_granted > 0 and merged.current.revenue  # nor the money in
    for scan_week, rollup_week in zip(
        [scanned.current, *scanned.previous], [merged.current, *merged.previous], strict=True
    ):
        assert figures(rollup_week) == figures(scan_week)


def test_a_zero_net_user_is_kept_through_the_stored_form():
    day = WINDOW.start.date()
    store = MemoryReportStore(
        transactions=[
            {"user_id": "arda", "type": "deduction", "credits": 3, "timestamp": WINDOW.start},
            {"user_id": "arda", "type": "refund", "credits": 3, "timestamp": WINDOW.start},
        ]
    )
    back = stored_round_trip(rollup(store, day, WINDOW.end))
    assert dict(back.figures.user_credits) == {"arda": 0}
    assert dict(back.figures.user_day_credits) == {("arda", day): 0}
    assert back.figures.active_users == ["arda"] and not back.figures.user_requests


def test_settled_needs_no_open_request_and_a_finished_day():
    day = WINDOW.start.date()
    end = day_window(day).end
    store = history(1)
    open_day = next(
        d
        for d in days_of(SPAN)
        if any(not r.status.is_terminal for r in store.requests_created(*day_window(d)))
    )
    assert not rollup(store, open_day, end + timedelta(days=40)).settled
    empty = MemoryReportStore()
    assert not rollup(empty, day, end).settled  # too soon after midnight
    assert rollup(empty, day, end + SETTLE_GRACE).settled
    header, _ = rollup(store, open_day, end + timedelta(days=40)).to_stored()
    assert header["settled"] is False and header["unsettled_requests"] > 0


def test_a_rollup_read_without_users_feeds_totals_only():
    store = history(2)
    day = WINDOW.start.date()
    header, _ = rollup(store, day, WINDOW.end).to_stored()
    totals = DayRollup.from_stored(header, None)
    assert totals.figures.total_requests == header["requests"]["total"] > 0
    assert not totals.figures.user_requests and not totals.has_users
    with pytest.raises(ValueError, match="without its users"):
        totals.to_stored()
    with pytest.raises(ValueError, match="format"):
        DayRollup.from_stored({**header, "format": 99}, [])


def test_merging_outside_the_week_is_refused():
    series = WeekSeries(WINDOW)
    with pytest.raises(ValueError):
        series.merge(WeekAggregate(day_window(WINDOW.end.date())))
    with pytest.raises(ValueError):
        WeekAggregate(day_window(WEEK_START)).merge(WeekAggregate(WINDOW))


# --- the service ----------------------------------------------------------------------------


def comparable(report: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in report.items() if k not in {"source", "generated_at"}}


def service(store: MemoryReportStore, clock: ManualClock) -> ReportService:
    return ReportService(store, clock, AnomalyThresholds(new_users_per_day=0))


@pytest.mark.parametrize("seed", range(4))
def test_both_sources_give_the_same_report(seed):
    store = history(seed)
    svc = service(store, ManualClock(WINDOW.end + timedelta(hours=2)))

    from_rollups = svc.run(WEEK_START).report.model_dump()
    assert from_rollups["source"] == "rollups"
    scanned = svc.run(WEEK_START, source="scan").report.model_dump()
    assert scanned["source"] == "scan"

    assert comparable(from_rollups) == comparable(scanned)
    assert from_rollups["generation_stats"]["total_requests"] > 50
    assert len(store.days) == 35  # every missing day was computed and stored


def test_late_settlements_and_next_day_refunds_are_picked_up():
    """The daily job ran (twice) while a request was open; it settled the next day with a
    refund. The report recomputes the open day and reads the others as stored."""
    store = history(5)
    clock = ManualClock(WINDOW.start + timedelta(days=3, hours=0, minutes=15))  # Thursday 00:15
    svc = service(store, clock)
    for doc in store.requests.values():  # the history's own open requests settled in time
        if doc["status"] in {"queued", "processing"}:
            doc["status"] = "completed"
    wednesday = WINDOW.start.date() + timedelta(days=2)
    _, end = day_window(wednesday)
    store.requests["open"] = {
        **store.requests["r0"],
        "user_id": "late_user",
        "status": "processing",
        "created_at": end - timedelta(minutes=1),
    }
    store.transactions.append(
        {
            "user_id": "late_user",
            "type": "deduction",
            "credits": 5,
            "timestamp": end - timedelta(minutes=1),
        }
    )
    for day in days_of(WeekWindow(SPAN.start, end)):  # the job, caught up, then run again
        svc.rollup_day(day)
    svc.rollup_day(wednesday)
    assert store.days[wednesday].header["settled"] is False

    # Thursday: it fails and is refunded; the Thursday job runs after that.
    store.requests["open"]["status"] = "failed"
    store.transactions.append(
        {
            "user_id": "late_user",
            "type": "refund",
            "credits": 5,
            "timestamp": end + timedelta(hours=3),
        }
    )
    clock.current = WINDOW.end + timedelta(hours=1)
    svc.rollup_day(wednesday + timedelta(days=1))
    writes_before = len(store.rollup_writes)

    from_rollups = svc.run(WEEK_START).report.model_dump()
    recomputed = set(store.rollup_writes[writes_before:])
    scanned = svc.run(WEEK_START, source="scan").report.model_dump()

    assert comparable(from_rollups) == comparable(scanned)
    assert wednesday in recomputed  # it was unsettled
    assert WINDOW.start.date() + timedelta(days=6) in recomputed  # never computed
    assert WINDOW.start.date() not in recomputed  # settled: read as stored
    assert from_rollups["user_stats"]["user_credit_breakdown"]["late_user"] == 0
    assert (
        from_rollups["credit_stats"]["refund_transactions"]
        == scanned["credit_stats"]["refund_transactions"]
    )


def test_settled_days_are_not_scanned_again():
    store = history(6)
    svc = service(store, ManualClock(WINDOW.end + timedelta(days=1)))
    for doc in store.requests.values():
        doc["status"] = "completed" if doc["status"] in {"queued", "processing"} else doc["status"]
    svc.run(WEEK_START)
    scans = len(store.request_scans)
    svc.run(WEEK_START)
    # the 35 missing days were computed from one stream over their span; none is scanned again
    assert len(store.request_scans) == scans == 1


def test_a_day_that_has_not_ended_is_refused():
    svc = service(MemoryReportStore(), ManualClock(WINDOW.start + timedelta(hours=12)))
    with pytest.raises(ValidationError) as caught:
        svc.rollup_day(WINDOW.start.date())
    assert caught.value.details[0].field == "date"


def test_days_apart_are_streamed_apart_and_adjacent_days_together():
    """The daily job recomputes the unsettled stored days and yesterday: the streams cover
    those days only, never the settled weeks between them."""
    store = history(6)
    svc = service(store, ManualClock(WINDOW.end + timedelta(days=1)))
    open_days = {WINDOW.start.date() - timedelta(days=10), WINDOW.start.date() + timedelta(days=2)}
    for day in open_days:  # one request left open on each of two days apart, all others final
        assert any(d["created_at"].date() == day for d in store.requests.values())
    left_open: set[date] = set()
    for doc in store.requests.values():
        day = doc["created_at"].date()
        if day in open_days and day not in left_open:
            doc["status"] = "queued"
            left_open.add(day)
        elif doc["status"] in {"queued", "processing"}:
            doc["status"] = "completed"
    svc.run(WEEK_START)  # stores the 35 days; the two with an open request are unsettled
    unsettled = {day for day, stored in store.days.items() if not stored.header["settled"]}
    assert unsettled == open_days
    recomputed = unsettled | {WINDOW.end.date()}
    store.request_scans.clear()
    svc.run_daily(WINDOW.end.date())
    scanned = {day for start, end in store.request_scans for day in days_of(WeekWindow(start, end))}
    assert scanned == recomputed


def test_a_rollup_stored_before_money_came_in_reads_as_none_coming_in():
    header, users = rollup(MemoryReportStore(), WINDOW.start.date(), WINDOW.end).to_stored()
    for name in ("credits_granted", "credits_purchased", "credits_purchase_refunded", "revenue"):
        del header[name]
    back = DayRollup.from_stored(header, users).figures
    assert (back.credits_granted, back.credits_purchased, back.credits_purchase_refunded) == (
        0,
        0,
        0,
    )
    assert not back.revenue


def test_money_in_round_trips_through_the_stored_form():
    at = WINDOW.start + timedelta(hours=3)
    store = MemoryReportStore(
        transactions=[
            {"user_id": "a", "type": "purchase", "credits": 200, "timestamp": at}
            | {"amount": 1999, "currency": "usd"},
            {"user_id": "a", "type": "purchase_refund", "credits": 100, "timestamp": at}
            | {"amount": 1000, "currency": "usd"},
            {"user_id": "b", "type": "welcome", "credits": 10, "timestamp": at},
        ]
    )
    day = rollup(store, WINDOW.start.date(), WINDOW.end)
    header, _ = day.to_stored()
    assert header["revenue"] == {"usd": 999} and header["credits_granted"] == 10
    assert figures(stored_round_trip(day).figures) == figures(day.figures)
