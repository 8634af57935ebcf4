"""ReportService over an in-memory store: window choice, storage, listing, lookups."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from container import Container
from core.errors import NotFoundError, ValidationError
from core.settings import AnomalyThresholds, Settings
from schemas.report import WeeklyReport
from services.report_service import ReportService
from tests.support.fakes import ManualClock
from tests.support.memory_reports import MemoryReportStore

NOW = datetime(2025, 8, 6, 13, 45, tzinfo=UTC)


def request(n: int, created_at: datetime, status: str = "completed") -> tuple[str, dict]:
    return f"r{n}", {
        "user_id": "arda",
        "model": "Model A",
        "style": "anime",
        "color": "neon",
        "size": "512x512",
        "status": status,
        "created_at": created_at,
    }


def service(store: MemoryReportStore, thresholds: AnomalyThresholds | None = None) -> ReportService:
    return ReportService(store, ManualClock(NOW), thresholds or AnomalyThresholds())


def test_default_window_is_the_last_complete_week_and_the_report_is_stored():
    monday = datetime(2025, 7, 28, tzinfo=UTC)
    store = MemoryReportStore(
        requests=dict(
            [
                request(1, monday + timedelta(hours=1)),
                request(2, monday + timedelta(days=6, hours=23), "failed"),
                request(3, monday + timedelta(days=7)),  # this week: not counted
                request(4, monday - timedelta(seconds=1)),  # previous week
            ]
        )
    )
    run = service(store).run()

    assert isinstance(run.report, WeeklyReport)
    assert run.report.id == "weekly_report_2025_W31"
    assert store.saved == {"weekly_report_2025_W31": run.report.model_dump()}
    stats = run.report.generation_stats
    assert (stats.total_requests, stats.completed_requests, stats.failed_requests) == (2, 1, 1)
    assert run.summary.total_requests == 2
    assert run.anomaly_summary.total_anomalies == run.report.anomaly_analysis.total_anomalies


def test_the_thresholds_passed_in_are_the_ones_applied():
    monday = datetime(2025, 7, 28, tzinfo=UTC)
    store = MemoryReportStore(
        requests=dict(request(n, monday + timedelta(hours=n)) for n in range(3))
    )
    perfect = "suspicious_perfect_performance"
    default_run = service(store).run()
    assert perfect not in default_run.anomaly_summary.type_breakdown  # 3 is not above 20
    strict_run = service(store, AnomalyThresholds(perfect_min_requests=2)).run()
    assert strict_run.anomaly_summary.type_breakdown[perfect] == 1


def test_the_container_hands_the_settings_thresholds_to_the_report_service():
    custom = AnomalyThresholds(perfect_min_requests=2)
    built = Container(settings=Settings(anomaly_thresholds=custom), db=None, queue=None)  # type: ignore[arg-type]
    assert built.report_controller._service._thresholds is custom


def test_an_explicit_week_start_picks_that_week():
    run = service(MemoryReportStore()).run(date(2025, 7, 7))
    assert run.report.report_period.model_dump() == {
        "start_date": "2025-07-07T00:00:00+00:00",
        "end_date": "2025-07-14T00:00:00+00:00",
    }


@pytest.mark.parametrize("week_start", [date(2025, 8, 4), date(2025, 8, 11)])
def test_a_week_that_has_not_ended_is_rejected(week_start):
    store = MemoryReportStore()
    with pytest.raises(ValidationError) as caught:
        service(store).run(week_start)
    assert caught.value.details and caught.value.details[0].field == "weekStart"
    assert store.saved == {}


def test_lookups_list_newest_first_and_404_when_missing():
    store = MemoryReportStore()
    reports = service(store)
    with pytest.raises(NotFoundError):
        reports.get_report()
    for week in (date(2025, 7, 14), date(2025, 7, 28), date(2025, 7, 21)):
        reports.run(week)
    assert [r["id"] for r in reports.list_reports(2)] == [
        "weekly_report_2025_W31",
        "weekly_report_2025_W30",
    ]
    assert reports.get_report()["id"] == "weekly_report_2025_W31"
    assert reports.get_report("weekly_report_2025_W29")["id"] == "weekly_report_2025_W29"
    with pytest.raises(NotFoundError):
        reports.get_report("weekly_report_1999_W01")
