"""The stored weekly report and daily rollups; datetimes are RFC 3339 UTC strings, as
everywhere else in the API.
"""

from __future__ import annotations

from typing import Any, Literal, NamedTuple

from pydantic import ConfigDict, Field

from core.models import Model

SeverityLevel = Literal["normal", "low", "medium", "high", "critical"]
# What a report was computed from: the daily rollups, or a scan of the source collections.
ReportSource = Literal["rollups", "scan"]


# --- Stored report ------------------------------------------------------------------------------


class _Out(Model):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ReportPeriod(_Out):
    start_date: str
    end_date: str


class _Outcomes(_Out):
    completed: int
    failed: int
    success_rate: float
    failure_rate: float


class DimensionStats(_Outcomes):
    """Counts and rates for one value of a dimension (a style, a color or a size)."""

    total: int


class GenerationStats(_Out):
    """Week totals. Each `*_breakdown` is `{<id>: <request count>}`, the shape existing report
    readers sum; the outcome detail per id is in the report's `*_stats` / `model_performance`."""

    total_requests: int
    completed_requests: int
    failed_requests: int
    # Cancelled by their owner or an admin (refunded); in total_requests, neither completed,
    # failed nor pending.
    cancelled_requests: int = 0
    pending_requests: int
    success_rate: float
    failure_rate: float
    style_breakdown: dict[str, int]
    color_breakdown: dict[str, int]
    size_breakdown: dict[str, int]
    model_breakdown: dict[str, int]


class CreditStats(_Out):
    total_credits_deducted: int
    total_credits_refunded: int
    net_credits_consumed: int
    total_transactions: int
    deduction_transactions: int
    refund_transactions: int
    average_credits_per_request: float
    # Credits that came in (added after the fields above, which keep their meaning: deductions
    # and refunds only; total_transactions counts those two types).
    total_credits_granted: int = 0  # grant + welcome entries
    total_credits_purchased: int = 0  # purchase entries
    total_credits_purchase_refunded: int = 0  # purchase_refund entries (credits taken back)
    # Money received per currency (ISO 4217, lower case) in its smallest unit: purchases minus
    # the amounts of take-backs that carry one.
    revenue: dict[str, int] = Field(default_factory=dict)


class UserStats(_Out):
    active_users_count: int
    active_users: list[str]
    user_request_breakdown: dict[str, int]
    user_credit_breakdown: dict[str, int]
    new_users_count: int
    average_requests_per_user: float


class ModelPerformance(_Outcomes):
    total_requests: int


class ComparisonPeriod(_Out):
    current_week: ReportPeriod
    previous_week: ReportPeriod
    baseline_weeks: list[ReportPeriod]
    baseline_mean_requests: float
    baseline_mean_net_credits: float


class AnomalyAnalysis(_Out):
    # Each item: type, severity, description plus rule-specific figures (see services.reports).
    detected_anomalies: list[dict[str, Any]]
    anomaly_score: float
    severity_level: SeverityLevel
    total_anomalies: int
    comparison_period: ComparisonPeriod


class WeeklyReport(_Out):
    """The `reports/{weekly_report_<YYYY>_W<ww>}` document."""

    id: str
    generated_at: str
    report_type: Literal["weekly"] = "weekly"
    report_period: ReportPeriod
    generation_stats: GenerationStats
    style_stats: dict[str, DimensionStats]
    color_stats: dict[str, DimensionStats]
    size_stats: dict[str, DimensionStats]
    credit_stats: CreditStats
    user_stats: UserStats
    model_performance: dict[str, ModelPerformance]
    anomaly_analysis: AnomalyAnalysis
    source: ReportSource = "scan"


# --- Daily rollups ------------------------------------------------------------------------------


class StoredDay(NamedTuple):
    """A `usage_daily/{YYYY-MM-DD}` rollup as stored: its header (every total) and its per-user
    entries, gathered from its shards (None when they were not read)."""

    header: dict[str, Any]
    users: list[dict[str, Any]] | None


# --- HTTP response extras -----------------------------------------------------------------------


class ReportSummary(_Out):
    total_requests: int
    success_rate: float
    active_users: int
    credits_consumed: int
    most_popular_style: str | None
    most_popular_size: str | None
    report_period: ReportPeriod


class AnomalySummary(_Out):
    total_anomalies: int
    severity_level: SeverityLevel
    anomaly_score: float
    severity_breakdown: dict[str, int]
    type_breakdown: dict[str, int]
    requires_attention: bool
