"""scheduleWeeklyReport (admin), weeklyReportScheduler (schedule), listReports and getReport."""

from __future__ import annotations

from datetime import date

from flask import Request, Response

from controllers.auth import AdminGuard
from controllers.http import json_response, optional_json_body, params, validate
from core.errors import AppError, FieldError, InternalError, ValidationError
from core.logging import info, log_exception
from schemas.requests import ReportQuery, ReportsQuery, WeeklyReportOptions
from services.report_service import ReportRun, ReportService
from services.reports.window import parse_week_start

FAILED = {"reportStatus": "failed"}


class ScheduledReportFailed(RuntimeError):
    def __init__(self, correlation_id: str) -> None:
        super().__init__(f"Weekly report failed (correlation id {correlation_id})")
        self.correlation_id = correlation_id


class ReportController:
    def __init__(self, service: ReportService, guard: AdminGuard) -> None:
        self._service = service
        self._guard = guard

    def schedule(self, request: Request) -> Response:
        """Run the report now. Every error answer carries `reportStatus: "failed"`; an
        unexpected one is a 500 whose `error` is the correlation id of the logged exception."""
        try:
            self._guard.authorize(request)
            options = validate(WeeklyReportOptions, optional_json_body(request))
            run = self._run(_week_start(options.weekStart), trigger="http")
        except AppError as error:
            error.extra.update(FAILED)
            raise
        except Exception as exc:
            correlation_id = log_exception("weekly report failed", exc, trigger="http")
            raise InternalError(
                "Weekly report generation failed", error=correlation_id, extra=dict(FAILED)
            ) from None
        return json_response(
            {
                "reportStatus": "success",
                "report_data": run.report,
                "summary": run.summary,
                "anomaly_summary": run.anomaly_summary,
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
        self._guard.authorize(request)
        query = validate(ReportsQuery, params(request))
        return json_response({"success": True, "reports": self._service.list_reports(query.limit)})

    def get_report(self, request: Request) -> Response:
        self._guard.authorize(request)
        query = validate(ReportQuery, params(request))
        return json_response({"success": True, "report": self._service.get_report(query.reportId)})

    def _run(self, week_start: date | None, *, trigger: str) -> ReportRun:
        run = self._service.run(week_start)
        info(
            "weekly report stored",
            reportId=run.report["id"],
            trigger=trigger,
            severity_level=run.anomaly_summary["severity_level"],
            total_anomalies=run.anomaly_summary["total_anomalies"],
        )
        return run


def _week_start(text: str | None) -> date | None:
    if text is None:
        return None
    try:
        return parse_week_start(text)
    except ValueError as exc:
        raise ValidationError(
            "Request validation failed",
            error="validation_failed",
            details=[FieldError("weekStart", str(exc))],
        ) from None
