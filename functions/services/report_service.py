"""Run the weekly report: stream a week and its history, build, store and summarise."""

from __future__ import annotations

from datetime import date
from typing import Any, NamedTuple

from core.clock import Clock
from core.config import AnomalyThresholds
from core.errors import FieldError, NotFoundError, ValidationError
from schemas.report import AnomalySummary, ReportSummary, WeeklyReport
from services.ports import ReportStore
from services.reports.aggregation import WeekSeries
from services.reports.report_builder import build_report, summarize
from services.reports.window import WeekWindow, last_complete_week, week_for

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

    def run(self, week_start: date | None = None) -> ReportRun:
        """Report on the ISO week starting `week_start` (a Monday of a week that has ended),
        or on the last complete week. Overwrites an earlier report of the same week."""
        now = self._clock.now()
        window = last_complete_week(now) if week_start is None else week_for(week_start)
        if not window.is_complete(now):
            raise ValidationError(
                "Request validation failed",
                error="validation_failed",
                details=[FieldError("weekStart", "The week has not ended yet")],
            )
        series = self._stream(window)
        report = build_report(
            window,
            series.current,
            series.previous_week,
            series.previous,
            self._thresholds,
            now,
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

    def list_reports(self, limit: int) -> list[dict[str, Any]]:
        return self._store.list_summaries(min(max(limit, 1), MAX_LISTED_REPORTS))

    def get_report(self, report_id: str | None = None) -> dict[str, Any]:
        """The named report, or the newest one when `report_id` is None."""
        report = self._store.latest() if report_id is None else self._store.get(report_id)
        if report is None:
            message = "No reports yet" if report_id is None else f"Report not found: {report_id}"
            raise NotFoundError(message, error="report_not_found")
        return report
