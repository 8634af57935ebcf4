"""Streaming aggregation of one report week."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from fractions import Fraction
from itertools import count
from typing import Any

import pytest
from pydantic import ValidationError

from repositories.reports import REQUEST_FIELDS
from schemas.documents import GenerationRecord, RequestRecord, TransactionRecord, UserRecord
from services.reports.aggregation import Baseline, Tally, WeekAggregate, WeekSeries, percent
from services.reports.window import WeekWindow
from tests.support.records import request_options

START = datetime(2025, 7, 28, tzinfo=UTC)
WINDOW = WeekWindow(START, START + timedelta(days=7))
_ids = count()


def at(days: float = 0, **delta: float) -> datetime:
    return START + timedelta(days=days, **delta)


def req(
    created_at: datetime | None = None,
    *,
    user: str = "arda",
    **options: str,
) -> RequestRecord:
    return RequestRecord.model_validate(
        request_options(**options)
        | {
            "id": f"r{next(_ids)}",
            "user_id": user,
            "created_at": created_at or at(1),
            "credits_deducted": 1,
        }
    )


def tx(credits: int, kind: str = "deduction", *, user: str = "arda", when: Any = None) -> Any:
    return TransactionRecord(
        id="tx",
        user_id=user,
        type=kind,  # type: ignore[arg-type]
        credits=credits,
        timestamp=when or at(1),
        generation_request_id="r",
    )


# --- records ------------------------------------------------------------------------------------


def test_records_convert_offsets_to_utc_and_ignore_extra_fields() -> None:
    record = RequestRecord.model_validate(
        {
            "id": "r1",
            "user_id": "u",
            "model": "Model B",
            "style": "anime",
            "color": "neon",
            "size": "512x512",
            "status": "queued",
            "created_at": datetime(2025, 7, 28, 1, tzinfo=timezone(timedelta(hours=2))),
            "prompt": "not needed",
        }
    )
    assert record.created_at == datetime(2025, 7, 27, 23, tzinfo=UTC)
    assert record.created_at.utcoffset() == timedelta(0)
    assert not hasattr(record, "prompt")


def test_the_report_reads_a_projection_of_the_stored_generation_record() -> None:
    assert issubclass(GenerationRecord, RequestRecord)
    assert [name for name in RequestRecord.model_fields if name != "id"] == REQUEST_FIELDS
    assert set(REQUEST_FIELDS) < set(GenerationRecord.model_fields)


@pytest.mark.parametrize(
    ("model", "data"),
    [
        (UserRecord, {"id": "u", "created_at": datetime(2025, 7, 28)}),  # naive
        (
            TransactionRecord,
            {"id": "t", "user_id": "u", "type": "bonus", "credits": 1, "timestamp": START},
        ),
        (
            TransactionRecord,
            {
                "id": "t",
                "user_id": "u",
                "type": "refund",
                "credits": 1,
                "timestamp": datetime(2025, 7, 28),
            },
        ),
    ],
)
def test_records_reject_invalid_documents(model: Any, data: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        model.model_validate(data)


def test_request_record_rejects_unknown_status() -> None:
    with pytest.raises(ValidationError):
        req(status="done")


# --- rates --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("part", "whole", "expected"),
    [(0, 0, 0.0), (5, 0, 0.0), (0, 3, 0.0), (1, 3, 33.33), (2, 3, 66.67), (3, 3, 100.0)],
)
def test_percent(part: int, whole: int, expected: float) -> None:
    assert percent(part, whole) == expected


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        ([], (0, 0, 0, 0, 0, 0.0, 0.0)),
        (["completed", "failed", "queued"], (3, 1, 1, 0, 1, 33.33, 33.33)),
        (["pending", "processing", "queued"], (3, 0, 0, 0, 3, 0.0, 0.0)),
        (["failed"] * 3 + ["completed"] * 17, (20, 17, 3, 0, 0, 85.0, 15.0)),
        # A cancellation is neither a failure nor pending; it still counts in the total.
        (["cancelled", "completed", "failed", "queued"], (4, 1, 1, 1, 1, 25.0, 25.0)),
    ],
)
def test_tally(statuses: list[str], expected: tuple[int, ...]) -> None:
    tally = Tally()
    for status in statuses:
        tally.add(status)
    got = (
        tally.total,
        tally.completed,
        tally.failed,
        tally.cancelled,
        tally.pending,
        tally.success_rate,
        tally.failure_rate,
    )
    assert got == expected


def test_exact_failure_rate_is_unrounded() -> None:
    tally = Tally(total=3, failed=1)
    assert tally.exact_failure_rate == Fraction(100, 3)
    assert Tally().exact_failure_rate == 0


# --- window boundaries --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("moment", "accepted"),
    [
        (at(0, microseconds=-1), False),
        (at(0), True),
        (at(7, microseconds=-1), True),
        (at(7), False),
    ],
)
def test_records_outside_the_window_are_ignored(moment: datetime, accepted: bool) -> None:
    agg = WeekAggregate(WINDOW)
    assert agg.add_request(req(moment)) is accepted
    assert agg.add_transaction(tx(3, when=moment)) is accepted
    assert agg.add_user(UserRecord(id="u", created_at=moment)) is accepted
    expected = 1 if accepted else 0
    assert (agg.total_requests, agg.credits_deducted, agg.new_users_count) == (
        expected,
        3 * expected,
        expected,
    )


# --- requests -----------------------------------------------------------------------------------


def test_request_totals_and_breakdowns() -> None:
    agg = WeekAggregate(WINDOW)
    for record in [
        req(status="completed", model="Model A", style="anime", size="512x512"),
        req(status="failed", model="Model B", style="anime", size="1024x1024"),
        req(status="queued", model="Model B", style="sketch", size="1024x1024", user="bob"),
        req(status="processing", model="Model B", style="sketch", color="pastel", user="bob"),
    ]:
        agg.add_request(record)

    assert (agg.requests.total, agg.requests.completed, agg.requests.failed) == (4, 1, 1)
    assert agg.requests.pending == 2
    assert agg.models == {
        "Model A": Tally(total=1, completed=1),
        "Model B": Tally(total=3, failed=1),
    }
    assert agg.breakdowns["style"] == {
        "anime": Tally(total=2, completed=1, failed=1),
        "sketch": Tally(total=2),
    }
    assert agg.breakdowns["color"] == {
        "neon": Tally(total=3, completed=1, failed=1),
        "pastel": Tally(total=1),
    }
    assert agg.breakdowns["size"]["1024x1024"] == Tally(total=2, failed=1)
    assert agg.user_requests == {"arda": 2, "bob": 2}
    assert agg.active_users == ["arda", "bob"]
    assert agg.average_requests_per_user == 2.0


def test_average_requests_per_user_rounds_and_handles_no_requests() -> None:
    agg = WeekAggregate(WINDOW)
    assert agg.average_requests_per_user == 0.0
    for user in ["a", "a", "b"]:
        agg.add_request(req(user=user))
    assert agg.average_requests_per_user == 1.5
    agg.add_request(req(user="c"))
    agg.add_request(req(user="c"))
    assert agg.average_requests_per_user == pytest.approx(1.67)


# --- transactions -------------------------------------------------------------------------------


def test_credit_totals_are_net_of_refunds() -> None:
    agg = WeekAggregate(WINDOW)
    for record in [
        tx(4),
        tx(3),
        tx(4, "refund"),
        tx(1, user="bob"),
    ]:
        agg.add_transaction(record)
    assert (agg.credits_deducted, agg.credits_refunded, agg.net_credits) == (8, 4, 4)
    assert (agg.deduction_count, agg.refund_count) == (3, 1)
    assert agg.user_credits == {"arda": 3, "bob": 1}
    assert agg.average_credits_per_request == pytest.approx(2.67)


def test_average_credits_per_request_without_deductions_is_zero() -> None:
    agg = WeekAggregate(WINDOW)
    agg.add_transaction(tx(4, "refund"))
    assert agg.average_credits_per_request == 0.0
    assert agg.net_credits == -4


def test_daily_credits_split_on_utc_midnight() -> None:
    agg = WeekAggregate(WINDOW)
    agg.add_transaction(tx(30, when=at(1, microseconds=-1)))  # Monday 23:59:59.999999
    agg.add_transaction(tx(20, when=at(1)))  # Tuesday 00:00
    agg.add_transaction(tx(25, when=at(1, hours=5)))
    agg.add_transaction(tx(4, "refund", when=at(1, hours=6)))
    # 01:00 at +02:00 is 23:00 UTC on the Tuesday.
    agg.add_transaction(tx(2, when=datetime(2025, 7, 30, 1, tzinfo=timezone(timedelta(hours=2)))))
    assert agg.user_day_credits == {
        ("arda", date(2025, 7, 28)): 30,
        ("arda", date(2025, 7, 29)): 43,
    }


def test_active_users_include_transaction_only_users() -> None:
    agg = WeekAggregate(WINDOW)
    agg.add_request(req(user="zoe"))
    agg.add_transaction(tx(4, "refund", user="abe"))
    assert agg.active_users == ["abe", "zoe"]
    assert agg.active_users_count == 2
    # Only users with requests count for the per-user request average.
    assert agg.average_requests_per_user == 1.0


# --- users --------------------------------------------------------------------------------------


def test_new_users_per_utc_day() -> None:
    agg = WeekAggregate(WINDOW)
    for n, moment in enumerate([at(2), at(2, hours=23), at(3, microseconds=-1), at(3)]):
        agg.add_user(UserRecord(id=f"u{n}", created_at=moment))
    assert agg.new_users_by_day == {date(2025, 7, 30): 3, date(2025, 7, 31): 1}
    assert agg.new_users_count == 4


# --- several weeks from one stream --------------------------------------------------------------


@pytest.mark.parametrize(
    ("moment", "week_index"),
    [
        (at(-28, microseconds=-1), None),
        (at(-28), 3),  # oldest previous week
        (at(-21, microseconds=-1), 3),
        (at(-21), 2),
        (at(-7, microseconds=-1), 1),
        (at(-7), 0),  # previous week
        (at(0, microseconds=-1), 0),
        (at(0), "current"),
        (at(7, microseconds=-1), "current"),
        (at(7), None),
    ],
)
def test_week_series_routes_each_record_to_its_week(moment: datetime, week_index: Any) -> None:
    series = WeekSeries(WINDOW)
    accepted = series.add_request(req(moment))
    series.add_transaction(tx(2, when=moment))
    series.add_user(UserRecord(id="u", created_at=moment))
    weeks = [series.current, *series.previous]
    counts = [(w.total_requests, w.credits_deducted, w.new_users_count) for w in weeks]
    if week_index is None:
        assert not accepted
        assert counts == [(0, 0, 0)] * 5
        return
    position = 0 if week_index == "current" else week_index + 1
    assert accepted
    assert counts[position] == (1, 2, 1)
    assert sum(c[0] for c in counts) == 1


def test_week_series_windows_and_baseline() -> None:
    series = WeekSeries(WINDOW)
    assert series.span == WeekWindow(at(-28), at(7))
    assert series.previous_week.window == WeekWindow(at(-7), at(0))
    assert [w.window.start for w in series.previous] == [at(-7), at(-14), at(-21), at(-28)]
    for weeks_back, n in [(1, 10), (2, 11), (3, 0), (4, 20)]:
        for _ in range(n):
            series.add_request(req(at(-7 * weeks_back + 1)))
    series.add_transaction(tx(9, when=at(-6)))
    series.add_transaction(tx(2, "refund", when=at(-20)))
    baseline = Baseline.of(series.previous)
    assert baseline.mean_requests == Fraction(41, 4)
    assert baseline.mean_net_credits == Fraction(7, 4)
    assert baseline.windows[0] == series.previous_week.window


def test_week_series_without_history() -> None:
    series = WeekSeries(WINDOW, history=0)
    assert series.previous == []
    assert series.previous_week.window == WeekWindow(at(-7), at(0))
    assert Baseline.of(series.previous).mean_requests == 0
    assert series.add_request(req(at(-1))) is False


def test_empty_baseline_means_are_zero() -> None:
    baseline = Baseline.of([])
    assert (baseline.mean_requests, baseline.mean_net_credits, baseline.windows) == (0, 0, ())
