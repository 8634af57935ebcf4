"""Assemble the stored weekly report from aggregates, and summarise it for the HTTP response."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, TypedDict

from schemas.report import (
    AnomalySummary,
    CreditStats,
    DimensionStats,
    GenerationStats,
    ModelPerformance,
    ReportPeriod,
    ReportSource,
    ReportSummary,
    UserStats,
    WeeklyReport,
)
from services.reports.aggregation import Baseline, Tally, WeekAggregate
from services.reports.anomalies import SEVERITY_SCORES, analyse
from services.reports.window import WeekWindow, as_utc, report_id

if TYPE_CHECKING:
    from core.settings import AnomalyThresholds


def _counts(tallies: Mapping[str, Tally]) -> dict[str, int]:
    """`{<id>: <request count>}`, sorted by id."""
    return {key: t.total for key, t in sorted(tallies.items())}


class _OutcomeFields(TypedDict):
    completed: int
    failed: int
    success_rate: float
    failure_rate: float


def _outcomes(t: Tally) -> _OutcomeFields:
    return {
        "completed": t.completed,
        "failed": t.failed,
        "success_rate": t.success_rate,
        "failure_rate": t.failure_rate,
    }


def _dimension(tallies: Mapping[str, Tally]) -> dict[str, DimensionStats]:
    return {
        key: DimensionStats(total=t.total, **_outcomes(t)) for key, t in sorted(tallies.items())
    }


def _generation_stats(agg: WeekAggregate) -> GenerationStats:
    req = agg.requests
    return GenerationStats(
        total_requests=req.total,
        completed_requests=req.completed,
        failed_requests=req.failed,
        cancelled_requests=req.cancelled,
        pending_requests=req.pending,
        success_rate=req.success_rate,
        failure_rate=req.failure_rate,
        style_breakdown=_counts(agg.breakdowns["style"]),
        color_breakdown=_counts(agg.breakdowns["color"]),
        size_breakdown=_counts(agg.breakdowns["size"]),
        model_breakdown=_counts(agg.breakdowns["model"]),
    )


def _credit_stats(agg: WeekAggregate) -> CreditStats:
    return CreditStats(
        total_credits_deducted=agg.credits_deducted,
        total_credits_refunded=agg.credits_refunded,
        net_credits_consumed=agg.net_credits,
        total_transactions=agg.deduction_count + agg.refund_count,
        deduction_transactions=agg.deduction_count,
        refund_transactions=agg.refund_count,
        average_credits_per_request=agg.average_credits_per_request,
        total_credits_granted=agg.credits_granted,
        total_credits_purchased=agg.credits_purchased,
        total_credits_purchase_refunded=agg.credits_purchase_refunded,
        revenue=dict(sorted(agg.revenue.items())),
    )


def _user_stats(agg: WeekAggregate) -> UserStats:
    return UserStats(
        active_users_count=agg.active_users_count,
        active_users=agg.active_users,
        user_request_breakdown=dict(sorted(agg.user_requests.items())),
        user_credit_breakdown=dict(sorted(agg.user_credits.items())),
        new_users_count=agg.new_users_count,
        average_requests_per_user=agg.average_requests_per_user,
    )


def _model_performance(agg: WeekAggregate) -> dict[str, ModelPerformance]:
    return {
        model: ModelPerformance(total_requests=t.total, **_outcomes(t))
        for model, t in sorted(agg.models.items())
    }


def build_report(
    window: WeekWindow,
    current: WeekAggregate,
    previous: WeekAggregate,
    previous_4: Sequence[WeekAggregate],
    thresholds: AnomalyThresholds,
    generated_at: datetime,
    source: ReportSource = "scan",
) -> WeeklyReport:
    """The `reports/{id}` document (datetimes as RFC 3339 UTC strings)."""
    if current.window != window:
        raise ValueError("the current aggregate does not cover the report window")
    return WeeklyReport(
        id=report_id(window.start),
        generated_at=as_utc(generated_at).isoformat(),
        report_type="weekly",
        report_period=ReportPeriod(
            start_date=window.start.isoformat(), end_date=window.end.isoformat()
        ),
        generation_stats=_generation_stats(current),
        style_stats=_dimension(current.breakdowns["style"]),
        color_stats=_dimension(current.breakdowns["color"]),
        size_stats=_dimension(current.breakdowns["size"]),
        credit_stats=_credit_stats(current),
        user_stats=_user_stats(current),
        model_performance=_model_performance(current),
        anomaly_analysis=analyse(current, previous, Baseline.of(previous_4), thresholds),
        source=source,
    )


def _most_popular(breakdown: Mapping[str, int]) -> str | None:
    """The key with the most requests; ties go to the alphabetically first key."""
    if not breakdown:
        return None
    return min(breakdown, key=lambda key: (-int(breakdown[key]), key))


def summarize(report: WeeklyReport) -> tuple[ReportSummary, AnomalySummary]:
    """`(summary, anomaly_summary)` for the `scheduleWeeklyReport` response."""
    gen, analysis = report.generation_stats, report.anomaly_analysis
    summary = ReportSummary(
        total_requests=gen.total_requests,
        success_rate=gen.success_rate,
        active_users=report.user_stats.active_users_count,
        credits_consumed=report.credit_stats.net_credits_consumed,
        most_popular_style=_most_popular(gen.style_breakdown),
        most_popular_size=_most_popular(gen.size_breakdown),
        report_period=report.report_period,
    )
    anomalies = analysis.detected_anomalies
    severities = Counter(a["severity"] for a in anomalies)
    anomaly_summary = AnomalySummary(
        total_anomalies=analysis.total_anomalies,
        severity_level=analysis.severity_level,
        anomaly_score=analysis.anomaly_score,
        severity_breakdown={level: severities[level] for level in SEVERITY_SCORES},
        type_breakdown=dict(Counter(a["type"] for a in anomalies)),
        requires_attention=severities["high"] > 0
        or analysis.severity_level in {"high", "critical"},
    )
    return summary, anomaly_summary
