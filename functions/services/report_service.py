"""Run the weekly report from the daily rollups (or by scanning the source collections), build,
store and summarise; compute and store the daily rollups."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, NamedTuple

from core.errors import FieldError, NotFoundError, ValidationError
from services.reports.aggregation import WeekSeries
from services.reports.daily import DAY, DayRollup, day_window, days_of
from services.reports.report_builder import build_report, summarize
from services.reports.window import WEEK, WeekWindow, as_utc, last_complete_week, week_for

if TYPE_CHECKING:
    from core.clock import Clock
    from core.settings import AnomalyThresholds
    from schemas.report import AnomalySummary, ReportSource, ReportSummary, WeeklyReport
    from services.ports import ReportStore

MAX_LISTED_REPORTS = 100


class ReportRun(NamedTuple):
    report: WeeklyReport
    summary: ReportSummary
    anomaly_summary: AnomalySummary


class ReportService:
    def __init__(self, store: ReportStore, clock: Clock, thresholds: AnomalyThresholds) -> None:
        self._store = store
        self._clock = clock
        self._thresholds = thresholds

    def run(self, week_start: date | None = None, source: ReportSource = "rollups") -> ReportRun:
        """Report on the ended ISO week starting `week_start` (default: the last complete week),
        replacing an earlier report of it. `rollups` merges the five weeks' daily rollups
        (computing missing or unsettled days), `scan` streams the collections: same figures."""
        now = self._clock.now()
        window = last_complete_week(now) if week_start is None else week_for(week_start)
        if not window.is_complete(now):
            raise ValidationError(
                "Request validation failed",
                error="validation_failed",
                details=[FieldError("weekStart", "The week has not ended yet")],
            )
        series = self._stream(window) if source == "scan" else self._merge_rollups(window)
        report = build_report(
            window,
            series.current,
            series.previous_week,
            series.previous,
            self._thresholds,
            now,
            source,
        )
        self._store.save(report)
        summary, anomaly_summary = summarize(report)
        return ReportRun(report, summary, anomaly_summary)

    def _stream(self, window: WeekWindow) -> WeekSeries:
        series = WeekSeries(window)
        start, end = series.span
        for request in self._store.requests_created(start, end):
            series.add_request(request)
        for transaction in self._store.transactions_booked(start, end):
            series.add_transaction(transaction)
        for user in self._store.users_created(window.start, window.end):
            series.add_user(user)
        return series

    def _merge_rollups(self, window: WeekWindow) -> WeekSeries:
        """The series from rollups: per-user entries are read for the report week and the week
        before it only (the baseline weeks use totals)."""
        series = WeekSeries(window)
        days = days_of(series.span)
        with_users = set(days_of(WeekWindow(window.start - WEEK, window.end)))
        stored = self._store.rollups(days, with_users)
        rollups: dict[date, DayRollup] = {}
        for day in days:
            if day in stored:
                header, users = stored[day]
                rollup = DayRollup.from_stored(header, users)
                if rollup is not None and rollup.settled:
                    rollups[day] = rollup
        missing = [day for day in days if day not in rollups]
        rollups |= {r.day: r for r in self._compute_and_save(missing)}
        for day in days:
            series.merge(rollups[day].figures)
        return series

    # --- daily rollups ----------------------------------------------------------------------

    def rollup_day(self, day: date) -> DayRollup:
        """Compute and store (replacing) the rollup of a UTC day that has ended."""
        self._check_ended(day)
        (rollup,) = self._compute_and_save([day])
        return rollup

    def _check_ended(self, day: date) -> None:
        if day >= as_utc(self._clock.now()).date():  # (also keeps date.max out of the window)
            raise ValidationError(
                "Request validation failed",
                error="validation_failed",
                details=[FieldError("date", "The day has not ended yet")],
            )

    def run_daily(self, day: date, lookback_days: int = 35) -> list[DayRollup]:
        """The daily job: (re)compute `day` and every stored, unsettled day of the `lookback_days`
        before it. Missing days are left to the report, which computes them on demand."""
        earlier = [day - n * DAY for n in range(lookback_days, 0, -1)]
        stored = self._store.rollups(earlier, ())
        unsettled = [
            d
            for d in earlier
            if d in stored and not DayRollup.from_stored(stored[d].header, None).settled
        ]
        self._check_ended(day)
        return self._compute_and_save([*unsettled, day])

    def _compute_and_save(self, days: Sequence[date]) -> list[DayRollup]:
        """Compute and store the rollups of `days`: one stream per collection for each run of
        consecutive days."""
        runs: list[list[date]] = []
        for day in sorted(set(days)):
            if runs and runs[-1][-1] + DAY == day:
                runs[-1].append(day)
            else:
                runs.append([day])
        return [rollup for run in runs for rollup in self._compute_run(run)]

    def _compute_run(self, days: list[date]) -> list[DayRollup]:
        """Consecutive `days`: each record of their span goes to the rollup of its own day."""
        now = self._clock.now()
        rollups = {day: DayRollup.empty(day, now) for day in days}
        start, end = day_window(days[0]).start, day_window(days[-1]).end

        def of(moment: datetime | None) -> DayRollup | None:
            return rollups.get(as_utc(moment).date()) if moment is not None else None

        for request in self._store.requests_created(start, end):
            if (rollup := of(request.created_at)) is not None:
                rollup.add_request(request)
        for transaction in self._store.transactions_booked(start, end):
            if (rollup := of(transaction.timestamp)) is not None:
                rollup.add_transaction(transaction)
        for user in self._store.users_created(start, end):
            if (rollup := of(user.created_at)) is not None:
                rollup.add_user(user)
        for rollup in rollups.values():
            self._store.save_rollup(*rollup.to_stored())
        return list(rollups.values())

    def list_reports(self, limit: int) -> list[dict[str, Any]]:
        return self._store.list_summaries(min(max(limit, 1), MAX_LISTED_REPORTS))

    def get_report(self, report_id: str | None = None) -> dict[str, Any]:
        """The named report, or the newest one when `report_id` is None."""
        report = self._store.latest() if report_id is None else self._store.get(report_id)
        if report is None:
            message = "No reports yet" if report_id is None else f"Report not found: {report_id}"
            raise NotFoundError(message, error="report_not_found")
        return report
