"""Anomaly rules of the weekly report: pure functions returning anomaly dicts (`type`, `severity`,
`description`, figures). Comparisons are strict and exact (a value at a threshold never fires);
a ratio against 0 is skipped (undefined)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from schemas.report import (
    AnomalyAnalysis,
    ComparisonPeriod,
    ReportPeriod,
    SeverityLevel,
)
from services.reports.aggregation import Baseline, Tally, WeekAggregate

if TYPE_CHECKING:
    from core.settings import AnomalyThresholds
    from services.reports.window import WeekWindow

Anomaly = dict[str, Any]
Number = int | float | Fraction

SEVERITY_SCORES: dict[str, float] = {"low": 1.0, "medium": 2.5, "high": 5.0}


# --- helpers ------------------------------------------------------------------------------------


def _exceeds(value: Number, factor: Number, reference: Number = 1) -> bool:
    """value > factor * reference, exactly (floats are taken at their binary value)."""
    return Fraction(value) > Fraction(factor) * Fraction(reference)


def _r(value: Number) -> float:
    return round(float(value), 2)


def _anomaly(kind: str, severity: str, description: str, **figures: Any) -> Anomaly:
    return {"type": kind, "severity": severity, "description": description, **figures}


def _spike_severity(ratio: Fraction, t: AnomalyThresholds) -> str:
    return "high" if _exceeds(ratio, t.high_spike_ratio) else "medium"


# --- volume -------------------------------------------------------------------------------------


def _volume_spike(
    kind: str,
    label: str,
    current: int,
    baseline: Number,
    factor: float,
    t: AnomalyThresholds,
) -> list[Anomaly]:
    if Fraction(baseline) <= 0 or not _exceeds(current, factor, baseline):
        return []
    ratio = Fraction(current) / Fraction(baseline)
    return [
        _anomaly(
            kind,
            _spike_severity(ratio, t),
            f"{label} ({current}) are {float(ratio):.1f}x the average of the previous weeks "
            f"({float(baseline):.2f})",
            current=current,
            baseline=_r(baseline),
            ratio=_r(ratio),
            threshold=factor,
        )
    ]


def request_spike(current: int, baseline: Number, t: AnomalyThresholds) -> list[Anomaly]:
    return _volume_spike(
        "request_spike", "Total requests", current, baseline, t.request_spike_ratio, t
    )


def credit_consumption_spike(current: int, baseline: Number, t: AnomalyThresholds) -> list[Anomaly]:
    return _volume_spike(
        "credit_consumption_spike",
        "Net credits consumed",
        current,
        baseline,
        t.credit_spike_ratio,
        t,
    )


# --- failures and refunds -----------------------------------------------------------------------


def high_failure_rate(current: Tally, t: AnomalyThresholds) -> list[Anomaly]:
    rate = current.exact_failure_rate
    if not current.total or not _exceeds(rate, t.failure_rate_percent):
        return []
    return [
        _anomaly(
            "high_failure_rate",
            "high",
            f"Failure rate of {float(rate):.2f}% exceeds the threshold of "
            f"{t.failure_rate_percent:g}%",
            current=_r(rate),
            threshold=t.failure_rate_percent,
            failed_requests=current.failed,
            total_requests=current.total,
        )
    ]


def failure_rate_spike(current: Tally, previous: Tally, t: AnomalyThresholds) -> list[Anomaly]:
    """Only when `high_failure_rate` does not already fire."""
    rate, before = current.exact_failure_rate, previous.exact_failure_rate
    if before <= 0 or _exceeds(rate, t.failure_rate_percent):
        return []
    if not _exceeds(rate, t.failure_spike_ratio, before):
        return []
    return [
        _anomaly(
            "failure_rate_spike",
            "medium",
            f"Failure rate rose to {float(rate):.2f}% from {float(before):.2f}% the previous week",
            current=_r(rate),
            previous=_r(before),
            ratio=_r(rate / before),
            threshold=t.failure_spike_ratio,
        )
    ]


def high_refund_rate(
    deducted: int,
    refunded: int,
    previous_deducted: int,
    previous_refunded: int,
    t: AnomalyThresholds,
) -> list[Anomaly]:
    """Refunded / deducted credits above the threshold, or above `refund_spike_ratio` times the
    previous week's (non-zero) rate."""
    if deducted <= 0:
        return []
    rate = Fraction(100 * refunded, deducted)
    before = Fraction(100 * previous_refunded, previous_deducted) if previous_deducted else 0
    over_threshold = _exceeds(rate, t.refund_rate_percent)
    spiked = before > 0 and _exceeds(rate, t.refund_spike_ratio, before)
    if not (over_threshold or spiked):
        return []
    reason = (
        f"exceeds the threshold of {t.refund_rate_percent:g}%"
        if over_threshold
        else f"is more than {t.refund_spike_ratio:g}x the previous week's {float(before):.2f}%"
    )
    return [
        _anomaly(
            "high_refund_rate",
            "medium",
            f"Refund rate of {float(rate):.2f}% {reason}",
            current=_r(rate),
            previous=_r(before),
            threshold=t.refund_rate_percent,
            total_refunded=refunded,
            total_deducted=deducted,
        )
    ]


# --- users --------------------------------------------------------------------------------------


def user_request_spike(
    current: Mapping[str, int], previous: Mapping[str, int], t: AnomalyThresholds
) -> list[Anomaly]:
    found = []
    for user_id in sorted(current):
        count, before = current[user_id], previous.get(user_id, 0)
        if count > t.user_weekly_requests and _exceeds(count, t.user_spike_ratio, before):
            found.append(
                _anomaly(
                    "user_request_spike",
                    "medium",
                    f"User {user_id} made {count} requests this week ({before} the week before)",
                    user_id=user_id,
                    current=count,
                    previous=before,
                    threshold=t.user_weekly_requests,
                )
            )
    return found


def single_user_credit_spike(
    user_day_credits: Mapping[tuple[str, date], int], t: AnomalyThresholds
) -> list[Anomaly]:
    return [
        _anomaly(
            "single_user_credit_spike",
            "high",
            f"User {user_id} consumed {credits} credits on {day.isoformat()}",
            user_id=user_id,
            day=day.isoformat(),
            current=credits,
            threshold=t.user_daily_credits,
        )
        for (user_id, day), credits in sorted(user_day_credits.items())
        if credits > t.user_daily_credits
    ]


def new_user_spike(new_users_by_day: Mapping[date, int], t: AnomalyThresholds) -> list[Anomaly]:
    return [
        _anomaly(
            "new_user_spike",
            "low",
            f"{count} new users signed up on {day.isoformat()}",
            day=day.isoformat(),
            current=count,
            threshold=t.new_users_per_day,
        )
        for day, count in sorted(new_users_by_day.items())
        if count > t.new_users_per_day
    ]


def user_activity_spike(current: int, previous: int, t: AnomalyThresholds) -> list[Anomaly]:
    if current <= previous + t.active_users_increase:
        return []
    return [
        _anomaly(
            "user_activity_spike",
            "low",
            f"Active users rose to {current} from {previous} the previous week",
            current=current,
            previous=previous,
            increase=current - previous,
            threshold=t.active_users_increase,
        )
    ]


# --- models -------------------------------------------------------------------------------------


def _is_critical(tally: Tally, t: AnomalyThresholds) -> bool:
    return tally.total > 0 and _exceeds(tally.exact_failure_rate, t.model_failure_rate_percent)


def critical_model_failure_rate(models: Mapping[str, Tally], t: AnomalyThresholds) -> list[Anomaly]:
    return [
        _anomaly(
            "critical_model_failure_rate",
            "high",
            f"{model} failed {tally.failed} of {tally.total} requests "
            f"({float(tally.exact_failure_rate):.2f}%)",
            model=model,
            current=_r(tally.exact_failure_rate),
            threshold=t.model_failure_rate_percent,
            failed_requests=tally.failed,
            total_requests=tally.total,
        )
        for model, tally in sorted(models.items())
        if _is_critical(tally, t)
    ]


def model_failure_rate_spike(
    models: Mapping[str, Tally], previous: Mapping[str, Tally], t: AnomalyThresholds
) -> list[Anomaly]:
    """Only for models that are not already critical, against their own previous week."""
    found = []
    for model, tally in sorted(models.items()):
        before = previous.get(model, Tally()).exact_failure_rate
        rate = tally.exact_failure_rate
        if _is_critical(tally, t) or before <= 0 or not _exceeds(rate, t.model_spike_ratio, before):
            continue
        found.append(
            _anomaly(
                "model_failure_rate_spike",
                "medium",
                f"{model} failure rate rose to {float(rate):.2f}% from {float(before):.2f}%",
                model=model,
                current=_r(rate),
                previous=_r(before),
                ratio=_r(rate / before),
                threshold=t.model_spike_ratio,
            )
        )
    return found


def _eligible(models: Mapping[str, Tally], t: AnomalyThresholds) -> dict[str, Fraction]:
    return {
        model: tally.exact_failure_rate
        for model, tally in sorted(models.items())
        if tally.total >= t.model_min_requests
    }


def model_performance_disparity(models: Mapping[str, Tally], t: AnomalyThresholds) -> list[Anomaly]:
    rates = _eligible(models, t)
    if len(rates) < 2:
        return []
    best = min(rates, key=lambda m: (rates[m], m))
    worst = max(rates, key=lambda m: (rates[m], m))
    if rates[best] <= 0 or not _exceeds(rates[worst], t.model_disparity_ratio, rates[best]):
        return []
    ratio = rates[worst] / rates[best]
    return [
        _anomaly(
            "model_performance_disparity",
            "high",
            f"{worst} fails {float(ratio):.1f}x as often as {best} "
            f"({float(rates[worst]):.2f}% vs {float(rates[best]):.2f}%)",
            model=worst,
            best_model=best,
            current=_r(rates[worst]),
            best_rate=_r(rates[best]),
            ratio=_r(ratio),
            threshold=t.model_disparity_ratio,
        )
    ]


def model_underperforming(models: Mapping[str, Tally], t: AnomalyThresholds) -> list[Anomaly]:
    """A model whose rate is above `ratio` times the mean rate of the other eligible models.
    When the others never failed, any failure of this model fires (there is no floor)."""
    rates = _eligible(models, t)
    found = []
    for model, rate in rates.items():
        others = [r for m, r in rates.items() if m != model]
        if not others:
            continue
        mean = sum(others, Fraction(0)) / len(others)
        if not _exceeds(rate, t.model_underperforming_ratio, mean):
            continue
        found.append(
            _anomaly(
                "model_underperforming",
                "medium",
                f"{model} failure rate of {float(rate):.2f}% is above "
                f"{t.model_underperforming_ratio:g}x the other models' mean of {float(mean):.2f}%",
                model=model,
                current=_r(rate),
                baseline=_r(mean),
                ratio=_r(rate / mean) if mean else None,
                threshold=t.model_underperforming_ratio,
            )
        )
    return found


def suspicious_perfect_performance(
    models: Mapping[str, Tally], t: AnomalyThresholds
) -> list[Anomaly]:
    return [
        _anomaly(
            "suspicious_perfect_performance",
            "low",
            f"{model} reported no failures over {tally.total} requests",
            model=model,
            current=tally.total,
            threshold=t.perfect_min_requests,
        )
        for model, tally in sorted(models.items())
        if tally.failed == 0 and tally.total > t.perfect_min_requests
    ]


# --- scoring and the whole analysis -------------------------------------------------------------


def anomaly_score(anomalies: Iterable[Anomaly]) -> float:
    return round(sum(SEVERITY_SCORES[a["severity"]] for a in anomalies), 2)


def severity_level(score: float) -> SeverityLevel:
    if score >= 10:
        return "critical"
    if score >= 5:
        return "high"
    if score >= 2:
        return "medium"
    if score > 0:
        return "low"
    return "normal"


def _period(window: WeekWindow) -> ReportPeriod:
    return ReportPeriod(start_date=window.start.isoformat(), end_date=window.end.isoformat())


def run_rules(
    current: WeekAggregate,
    previous_week: WeekAggregate,
    baseline: Baseline,
    t: AnomalyThresholds,
) -> list[Anomaly]:
    """Every rule, in the order the report lists them."""
    now, before = current, previous_week
    return [
        *request_spike(now.total_requests, baseline.mean_requests, t),
        *credit_consumption_spike(now.net_credits, baseline.mean_net_credits, t),
        *high_failure_rate(now.requests, t),
        *failure_rate_spike(now.requests, before.requests, t),
        *high_refund_rate(
            now.credits_deducted,
            now.credits_refunded,
            before.credits_deducted,
            before.credits_refunded,
            t,
        ),
        *user_request_spike(now.user_requests, before.user_requests, t),
        *single_user_credit_spike(now.user_day_credits, t),
        *new_user_spike(now.new_users_by_day, t),
        *user_activity_spike(now.active_users_count, before.active_users_count, t),
        *critical_model_failure_rate(now.models, t),
        *model_failure_rate_spike(now.models, before.models, t),
        *model_performance_disparity(now.models, t),
        *model_underperforming(now.models, t),
        *suspicious_perfect_performance(now.models, t),
    ]


def analyse(
    current: WeekAggregate,
    previous_week: WeekAggregate,
    previous_4_week_mean: Baseline,
    thresholds: AnomalyThresholds,
) -> AnomalyAnalysis:
    anomalies = run_rules(current, previous_week, previous_4_week_mean, thresholds)
    score = anomaly_score(anomalies)
    return AnomalyAnalysis(
        detected_anomalies=anomalies,
        anomaly_score=score,
        severity_level=severity_level(score),
        total_anomalies=len(anomalies),
        comparison_period=ComparisonPeriod(
            current_week=_period(current.window),
            previous_week=_period(previous_week.window),
            baseline_weeks=[_period(w) for w in previous_4_week_mean.windows],
            baseline_mean_requests=_r(previous_4_week_mean.mean_requests),
            baseline_mean_net_credits=_r(previous_4_week_mean.mean_net_credits),
        ),
    )
