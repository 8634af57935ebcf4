"""ISO week windows in UTC: `[Monday 00:00, next Monday 00:00)`."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import NamedTuple

WEEK = timedelta(days=7)


class WeekWindow(NamedTuple):
    """A half-open UTC interval `[start, end)`; unpacks as `(start, end)`."""

    start: datetime
    end: datetime

    def contains(self, moment: datetime) -> bool:
        return self.start <= moment < self.end

    def is_complete(self, now: datetime) -> bool:
        return self.end <= as_utc(now)

    def shifted(self, weeks: int) -> WeekWindow:
        return WeekWindow(self.start + weeks * WEEK, self.end + weeks * WEEK)


def as_utc(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("naive datetimes are not accepted; pass a timezone-aware value")
    return moment.astimezone(UTC)


def _monday_midnight(day: date) -> datetime:
    monday = day - timedelta(days=day.weekday())
    return datetime.combine(monday, time.min, tzinfo=UTC)


def last_complete_week(now: datetime) -> WeekWindow:
    """The latest ISO week ended at or before `now` (at Monday 00:00: the week just ended)."""
    current_start = _monday_midnight(as_utc(now).date())
    return WeekWindow(current_start - WEEK, current_start)


def week_for(week_start: date) -> WeekWindow:
    """The ISO week starting on `week_start`, which must be a Monday."""
    if isinstance(week_start, datetime):
        raise TypeError("week_for takes a date, not a datetime")
    if week_start.weekday() != 0:
        raise ValueError(f"{week_start.isoformat()} is not a Monday")
    start = datetime.combine(week_start, time.min, tzinfo=UTC)
    return WeekWindow(start, start + WEEK)


def report_id(start: datetime) -> str:
    """`weekly_report_<ISO year>_W<ISO week, 2 digits>` of the week containing `start`."""
    iso = as_utc(start).isocalendar()
    return f"weekly_report_{iso.year}_W{iso.week:02d}"


def previous_weeks(window: WeekWindow, count: int = 4) -> list[WeekWindow]:
    """The `count` weeks before `window`, most recent first."""
    if count < 0:
        raise ValueError("count must not be negative")
    return [window.shifted(-n) for n in range(1, count + 1)]


def history_span(window: WeekWindow, count: int = 4) -> WeekWindow:
    """`window` and the `count` weeks before it: one range query per collection for a run."""
    return WeekWindow(window.start - count * WEEK, window.end)
