"""scheduleWeeklyReport (admin), weeklyReportScheduler (schedule), listReports and getReport."""

from __future__ import annotations

from datetime import date

from flask import Request, Response

from controllers.auth import AdminGuard
from controllers.http import json_response, optional_json_body, params, validate
from core.errors import AppError, InternalError
from core.logging import info, log_exception
from schemas.requests import ReportQuery, ReportsQuery, WeeklyReportOptions
from services.report_service import ReportRun, ReportService


class ScheduledReportFailed(RuntimeError):
    def __init__(self, correlation_id: str) -> None:
        super().__init__(f"Weekly report failed (correlation id {correlation_id})")
        self.correlation_id = correlation_id


class ReportController:
    def __init__(self, service: ReportService, guard: AdminGuard) -> None:
        self._service = service
        self._guard = guard

    def schedule(self, request: Request) -> Response:
        """Run the report now. An unexpected failure is a 500 whose `error` is the correlation
        id of the logged exception. (Every error answer of this function also carries
        `reportStatus: "failed"`: its endpoint adds that to each envelope, see main.py.)"""
        try:
            with self._guard.call(request, "scheduleWeeklyReport") as call:
                options = validate(WeeklyReportOptions, optional_json_body(request))
                run = self._run(options.weekStart, trigger="http")
                call.counts = {"total_anomalies": run.anomaly_summary.total_anomalies}
        except AppError:
            raise
        except Exception as exc:
            correlation_id = log_exception("weekly report failed", exc, trigger="http")
            raise InternalError("Weekly report generation failed", error=correlation_id) from None
        return json_response(
            {
                "reportStatus": "success",
                "report_data": run.report.model_dump(),
                "summary": run.summary.model_dump(),
                "anomaly_summary": run.anomaly_summary.model_dump(),
            }
        )

    def run_scheduled(self) -> None:
        """The Monday job: report on the week that just ended. A failure is logged with a
        correlation id and raised again without its text (the SDK answers 500 with the message),
        so the scheduler records the failure and may retry."""
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

    def _run(self, week_start: date | None, *, trigger: str) -> ReportRun:
        run = self._service.run(week_start)
        info(
            "weekly report stored",
            reportId=run.report.id,
            trigger=trigger,
            severity_level=run.anomaly_summary.severity_level,
            total_anomalies=run.anomaly_summary.total_anomalies,
        )
        return run
