"""scheduleWeeklyReport (admin), weeklyReportScheduler (schedule), listReports and getReport;
the daily rollups: scheduleDailyRollup (admin) and rollupDailyUsage (schedule)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from flask import Request, Response

from controllers.http import json_response, optional_json_body, params, validate
from core.errors import AppError, InternalError
from core.logging import info, log_exception
from schemas.operator_requests import (
    DailyRollupOptions,
    ReportQuery,
    ReportsQuery,
    WeeklyReportOptions,
)

if TYPE_CHECKING:
    from controllers.auth import AdminGuard
    from schemas.report import ReportSource
    from services.report_service import ReportRun, ReportService
    from services.reports.daily import DayRollup


class ScheduledReportFailed(RuntimeError):
    def __init__(self, correlation_id: str) -> None:
        super().__init__(f"Weekly report failed (correlation id {correlation_id})")
        self.correlation_id = correlation_id


class ScheduledRollupFailed(RuntimeError):
    def __init__(self, correlation_id: str) -> None:
        super().__init__(f"Daily rollup failed (correlation id {correlation_id})")
        self.correlation_id = correlation_id


class ReportController:
    def __init__(self, service: ReportService, guard: AdminGuard) -> None:
        self._service = service
        self._guard = guard

    def schedule(self, request: Request) -> Response:
        """Run the report now (error envelopes get `reportStatus: "failed"` in main.py)."""
        with (
            _internal_error("weekly report failed", "Weekly report generation failed"),
            self._guard.call(request, "scheduleWeeklyReport") as call,
        ):
            options = validate(WeeklyReportOptions, optional_json_body(request))
            run = self._run(options.weekStart, trigger="http", source=options.source)
            call.counts = {"total_anomalies": run.anomaly_summary.total_anomalies}
        return json_response(
            {
                "reportStatus": "success",
                "report_data": run.report.model_dump(),
                "summary": run.summary.model_dump(),
                "anomaly_summary": run.anomaly_summary.model_dump(),
            }
        )

    def run_scheduled(self) -> None:
        """The Monday job: the week that just ended. A failure is logged and raised again
        without its text (the SDK answers 500 with the message), so the scheduler may retry."""
        try:
            self._run(None, trigger="schedule")
        except Exception as exc:
            correlation_id = log_exception("weekly report failed", exc, trigger="schedule")
            raise ScheduledReportFailed(correlation_id) from None

    def list_reports(self, request: Request) -> Response:
        with self._guard.call(request, "listReports") as call:
            query = validate(ReportsQuery, params(request))
            reports = self._service.list_reports(query.limit)
            call.counts = {"reports": len(reports)}
        return json_response({"success": True, "reports": reports})

    def get_report(self, request: Request) -> Response:
        with self._guard.call(request, "getReport"):
            query = validate(ReportQuery, params(request))
            report = self._service.get_report(query.reportId)
        return json_response({"success": True, "report": report})

    def rollup(self, request: Request) -> Response:
        """(Re)compute one UTC day's rollup now, e.g. after correcting that day's records."""
        with (
            _internal_error("daily rollup failed", "Daily rollup failed"),
            self._guard.call(request, "scheduleDailyRollup") as call,
        ):
            options = validate(DailyRollupOptions, optional_json_body(request))
            rollup = self._service.rollup_day(options.day)
            call.counts = {"total_requests": rollup.figures.total_requests}
        info("daily rollup stored", date=rollup.day.isoformat(), trigger="http")
        return json_response({"success": True, "rollup": _rollup_summary(rollup)})

    def run_scheduled_rollup(self, schedule_time: datetime) -> None:
        """The daily job: the day before the schedule time (so a retried run computes the same
        day) and any earlier unsettled day."""
        day = schedule_time.astimezone(UTC).date() - timedelta(days=1)
        try:
            rollups = self._service.run_daily(day)
        except Exception as exc:
            correlation_id = log_exception("daily rollup failed", exc, trigger="schedule")
            raise ScheduledRollupFailed(correlation_id) from None
        info(
            "daily rollups stored",
            trigger="schedule",
            dates=[r.day.isoformat() for r in rollups],
        )

    def _run(
        self, week_start: date | None, *, trigger: str, source: ReportSource = "rollups"
    ) -> ReportRun:
        run = self._service.run(week_start, source)
        info(
            "weekly report stored",
            reportId=run.report.id,
            trigger=trigger,
            source=source,
            severity_level=run.anomaly_summary.severity_level,
            total_anomalies=run.anomaly_summary.total_anomalies,
        )
        return run


@contextmanager
def _internal_error(log_message: str, public_message: str) -> Iterator[None]:
    """An unexpected failure becomes a 500 whose `error` is the logged correlation id (no
    exception text in the answer); typed errors pass unchanged."""
    try:
        yield
    except AppError:
        raise
    except Exception as exc:
        correlation_id = log_exception(log_message, exc, trigger="http")
        raise InternalError(public_message, error=correlation_id) from None


def _rollup_summary(rollup: DayRollup) -> dict[str, Any]:
    figures = rollup.figures
    return {
        "date": rollup.day.isoformat(),
        "settled": rollup.settled,
        "unsettled_requests": rollup.unsettled_requests,
        "total_requests": figures.total_requests,
        "net_credits": figures.net_credits,
        "active_users": figures.active_users_count,
        "new_users": figures.new_users_count,
        "computed_at": rollup.computed_at.isoformat(),
    }
