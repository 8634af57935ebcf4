"""ISO week windows for the weekly report."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from schemas.operator_requests import WeeklyReportOptions
from services.reports.window import (
    WeekWindow,
    history_span,
    last_complete_week,
    previous_weeks,
    report_id,
    week_for,
)

PLUS3 = timezone(timedelta(hours=3))
MINUS5 = timezone(timedelta(hours=-5))


def utc(y: int, m: int, d: int, hh: int = 0, mm: int = 0, ss: int = 0, us: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, ss, us, tzinfo=UTC)


def week(y: int, m: int, d: int) -> WeekWindow:
    return WeekWindow(utc(y, m, d), utc(y, m, d) + timedelta(days=7))


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        # Exactly Monday 00:00: the week that just ended is complete.
        (utc(2025, 8, 4), week(2025, 7, 28)),
        # One microsecond before: still inside the week of 07-28, so the one before it.
        (utc(2025, 8, 3, 23, 59, 59, 999999), week(2025, 7, 21)),
        (utc(2025, 8, 4, 0, 0, 0, 1), week(2025, 7, 28)),
        # The scheduled run, Monday 20:25 UTC.
        (utc(2025, 8, 4, 20, 25), week(2025, 7, 28)),
        (utc(2025, 8, 10, 23, 59), week(2025, 7, 28)),
        # A local Monday that is still Sunday in UTC.
        (datetime(2025, 8, 4, 1, 30, tzinfo=PLUS3), week(2025, 7, 21)),
        # A local Sunday evening that is already Monday in UTC.
        (datetime(2025, 8, 3, 20, 0, tzinfo=MINUS5), week(2025, 7, 28)),
        # Across a year boundary.
        (utc(2025, 1, 1, 12), week(2024, 12, 23)),
    ],
)
def test_last_complete_week(now: datetime, expected: WeekWindow) -> None:
    window = last_complete_week(now)
    assert window == expected
    assert window.start.tzinfo is UTC
    assert window.start.weekday() == 0
    assert window.is_complete(now)


def test_last_complete_week_rejects_naive_datetimes() -> None:
    with pytest.raises(ValueError, match="naive"):
        last_complete_week(datetime(2025, 8, 4, 12))


def test_window_unpacks_as_start_end() -> None:
    start, end = last_complete_week(utc(2025, 8, 6))
    assert (start, end) == (utc(2025, 7, 28), utc(2025, 8, 4))


@pytest.mark.parametrize(
    ("moment", "inside"),
    [
        (utc(2025, 7, 27, 23, 59, 59, 999999), False),
        (utc(2025, 7, 28), True),
        (utc(2025, 8, 3, 23, 59, 59, 999999), True),
        (utc(2025, 8, 4), False),
    ],
)
def test_window_is_half_open(moment: datetime, inside: bool) -> None:
    assert week(2025, 7, 28).contains(moment) is inside


@pytest.mark.parametrize(
    ("now", "complete"),
    [
        (utc(2025, 8, 3, 23, 59), False),
        (utc(2025, 8, 4), True),
        (utc(2025, 8, 5), True),
    ],
)
def test_is_complete(now: datetime, complete: bool) -> None:
    assert week(2025, 7, 28).is_complete(now) is complete


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2025, 7, 28), week(2025, 7, 28)),
        (date(2024, 12, 30), week(2024, 12, 30)),
    ],
)
def test_week_for_a_monday(day: date, expected: WeekWindow) -> None:
    assert week_for(day) == expected


@pytest.mark.parametrize("day", [date(2025, 7, 27), date(2025, 7, 29), date(2025, 8, 3)])
def test_week_for_rejects_other_weekdays(day: date) -> None:
    with pytest.raises(ValueError, match="not a Monday"):
        week_for(day)


def test_week_for_rejects_datetimes() -> None:
    with pytest.raises(TypeError):
        week_for(utc(2025, 7, 28))


@pytest.mark.parametrize(
    ("text", "expected"),
    [("2025-07-28", date(2025, 7, 28)), (" 2024-12-30 ", date(2024, 12, 30))],
)
def test_week_start_accepts_mondays(text: str, expected: date) -> None:
    assert WeeklyReportOptions.model_validate({"weekStart": text}).weekStart == expected


def test_week_start_is_optional() -> None:
    assert WeeklyReportOptions.model_validate({}).weekStart is None
    assert WeeklyReportOptions.model_validate({"weekStart": None}).weekStart is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("2025-07-29", "Monday"),
        ("2025-02-30", "valid calendar date"),
        ("20250728", "YYYY-MM-DD"),
        ("2025-W31-1", "YYYY-MM-DD"),
        ("2025-7-28", "YYYY-MM-DD"),
        ("", "YYYY-MM-DD"),
        ("2025-07-28T00:00:00", "YYYY-MM-DD"),
        (20250728, "valid string"),
        (["2025-07-28"], "valid string"),
    ],
)
def test_week_start_rejects(text: object, message: str) -> None:
    with pytest.raises(ValidationError, match=message) as raised:
        WeeklyReportOptions.model_validate({"weekStart": text})
    assert [error["loc"] for error in raised.value.errors()] == [("weekStart",)]


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        (utc(2025, 8, 4), "weekly_report_2025_W32"),
        (utc(2025, 1, 6), "weekly_report_2025_W02"),
        # ISO year differs from the calendar year at both ends.
        (utc(2024, 12, 30), "weekly_report_2025_W01"),
        (utc(2021, 1, 4), "weekly_report_2021_W01"),
        (utc(2020, 12, 28), "weekly_report_2020_W53"),
        (utc(2026, 12, 28), "weekly_report_2026_W53"),
        # Any moment of the week names the same week; offsets are taken to UTC first.
        (utc(2025, 8, 10, 23, 59), "weekly_report_2025_W32"),
        (datetime(2025, 8, 4, 1, 0, tzinfo=PLUS3), "weekly_report_2025_W31"),
    ],
)
def test_report_id(start: datetime, expected: str) -> None:
    assert report_id(start) == expected


def test_previous_weeks() -> None:
    current = week(2025, 8, 4)
    assert previous_weeks(current) == [
        week(2025, 7, 28),
        week(2025, 7, 21),
        week(2025, 7, 14),
        week(2025, 7, 7),
    ]
    assert previous_weeks(current, 2) == [week(2025, 7, 28), week(2025, 7, 21)]
    assert previous_weeks(current, 0) == []


def test_previous_weeks_rejects_negative_count() -> None:
    with pytest.raises(ValueError):
        previous_weeks(week(2025, 8, 4), -1)


def test_history_span_covers_the_previous_weeks_and_the_week() -> None:
    assert history_span(week(2025, 8, 4)) == WeekWindow(utc(2025, 7, 7), utc(2025, 8, 11))
    assert history_span(week(2025, 8, 4), 1) == WeekWindow(utc(2025, 7, 28), utc(2025, 8, 11))
