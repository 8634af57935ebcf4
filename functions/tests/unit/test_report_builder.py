"""Assembly of the stored weekly report and of the HTTP summaries."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from core.settings import AnomalyThresholds
from schemas.documents import RequestRecord, TransactionRecord, UserRecord
from schemas.report import WeeklyReport
from services.reports.aggregation import WeekSeries
from services.reports.report_builder import build_report, summarize
from services.reports.window import WeekWindow, week_for

WINDOW = week_for(datetime(2025, 7, 28).date())
GENERATED = datetime(2025, 8, 4, 20, 25, tzinfo=UTC)
T = AnomalyThresholds()


def _req(n: int, day: int, *, user: str, status: str, model: str = "Model A", **dims: str) -> Any:
    return RequestRecord(
        id=f"{user}-{day}-{n}",
        user_id=user,
        model=model,
        style=dims.get("style", "anime"),
        color=dims.get("color", "neon"),
        size=dims.get("size", "512x512"),
        status=status,  # type: ignore[arg-type]
        created_at=WINDOW.start + timedelta(days=day, hours=n),
    )


def _tx(credits: int, day: int, kind: str = "deduction", user: str = "arda") -> Any:
    return TransactionRecord(
        id="tx",
        user_id=user,
        type=kind,  # type: ignore[arg-type]
        credits=credits,
        timestamp=WINDOW.start + timedelta(days=day, hours=1),
    )


def _series() -> WeekSeries:
    series = WeekSeries(WINDOW)
    records = [
        _req(0, 0, user="arda", status="completed", style="anime", size="1024x1024"),
        _req(1, 0, user="arda", status="failed", model="Model B", style="sketch"),
        _req(2, 1, user="bob", status="completed", style="sketch", color="pastel"),
        _req(3, 1, user="bob", status="queued", model="Model B", style="sketch"),
        _req(0, -3, user="arda", status="completed"),  # previous week
    ]
    for record in records:
        series.add_request(record)
    for tx in [
        _tx(3, 0),
        _tx(1, 0),
        _tx(1, 0, "refund"),
        _tx(1, 1, user="bob"),
        _tx(1, 1, user="bob"),
        _tx(5, -10),  # a baseline week
    ]:
        series.add_transaction(tx)
    series.add_user(UserRecord(id="bob", created_at=WINDOW.start + timedelta(days=1)))
    return series


def _report(series: WeekSeries | None = None, generated_at: datetime = GENERATED) -> WeeklyReport:
    series = series or _series()
    return build_report(
        WINDOW, series.current, series.previous_week, series.previous, T, generated_at
    )


def _build(series: WeekSeries | None = None, generated_at: datetime = GENERATED) -> dict[str, Any]:
    """The stored document of the report."""
    return _report(series, generated_at).model_dump()


def test_report_header() -> None:
    report = _build()
    assert report["id"] == "weekly_report_2025_W31"
    assert report["report_type"] == "weekly"
    assert report["generated_at"] == "2025-08-04T20:25:00+00:00"
    assert report["report_period"] == {
        "start_date": "2025-07-28T00:00:00+00:00",
        "end_date": "2025-08-04T00:00:00+00:00",
    }


def test_generation_stats() -> None:
    stats = _build()["generation_stats"]
    assert {k: v for k, v in stats.items() if not k.endswith("_breakdown")} == {
        "total_requests": 4,
        "completed_requests": 2,
        "failed_requests": 1,
        "cancelled_requests": 0,
        "pending_requests": 1,
        "success_rate": 50.0,
        "failure_rate": 25.0,
    }


def test_cancelled_requests_are_counted_on_their_own() -> None:
    """Neither a failure nor pending: the original fields keep their meaning."""
    series = _series()
    series.add_request(_req(4, 2, user="bob", status="cancelled"))
    stats = _report(series).generation_stats
    assert (stats.total_requests, stats.cancelled_requests) == (5, 1)
    assert (stats.completed_requests, stats.failed_requests, stats.pending_requests) == (2, 1, 1)
    assert (stats.success_rate, stats.failure_rate) == (40.0, 20.0)


def test_breakdowns_are_request_counts_per_id() -> None:
    """Existing report readers sum these maps: every value is a plain integer count."""
    stats = _build()["generation_stats"]
    assert stats["style_breakdown"] == {"anime": 1, "sketch": 3}
    assert stats["color_breakdown"] == {"neon": 3, "pastel": 1}
    assert stats["size_breakdown"] == {"1024x1024": 1, "512x512": 3}
    assert stats["model_breakdown"] == {"Model A": 2, "Model B": 2}
    for name in ("style", "color", "size", "model"):
        breakdown = stats[f"{name}_breakdown"]
        assert all(type(count) is int for count in breakdown.values()), name
        assert sum(breakdown.values()) == stats["total_requests"], name


def test_dimension_detail_lives_under_the_stats_keys() -> None:
    report = _build()
    assert report["style_stats"] == {
        "anime": {
            "total": 1,
            "completed": 1,
            "failed": 0,
            "success_rate": 100.0,
            "failure_rate": 0.0,
        },
        "sketch": {
            "total": 3,
            "completed": 1,
            "failed": 1,
            "success_rate": 33.33,
            "failure_rate": 33.33,
        },
    }
    assert list(report["color_stats"]) == ["neon", "pastel"]
    assert report["color_stats"]["pastel"]["completed"] == 1
    assert report["size_stats"]["512x512"] == {
        "total": 3,
        "completed": 1,
        "failed": 1,
        "success_rate": 33.33,
        "failure_rate": 33.33,
    }
    assert "model_stats" not in report  # models keep model_performance
    gen = report["generation_stats"]
    for name in ("style", "color", "size"):
        totals = {key: detail["total"] for key, detail in report[f"{name}_stats"].items()}
        assert totals == gen[f"{name}_breakdown"], name


def test_credit_and_user_stats() -> None:
    report = _build()
    assert report["credit_stats"] == {
        "total_credits_deducted": 6,
        "total_credits_refunded": 1,
        "net_credits_consumed": 5,
        "total_transactions": 5,
        "deduction_transactions": 4,
        "refund_transactions": 1,
        "average_credits_per_request": 1.5,
        "total_credits_granted": 0,
        "total_credits_purchased": 0,
        "total_credits_purchase_refunded": 0,
        "revenue": {},
    }
    assert report["user_stats"] == {
        "active_users_count": 2,
        "active_users": ["arda", "bob"],
        "user_request_breakdown": {"arda": 2, "bob": 2},
        "user_credit_breakdown": {"arda": 3, "bob": 2},
        "new_users_count": 1,
        "average_requests_per_user": 2.0,
    }


def test_model_performance() -> None:
    assert _build()["model_performance"] == {
        "Model A": {
            "total_requests": 2,
            "completed": 2,
            "failed": 0,
            "success_rate": 100.0,
            "failure_rate": 0.0,
        },
        "Model B": {
            "total_requests": 2,
            "completed": 0,
            "failed": 1,
            "success_rate": 0.0,
            "failure_rate": 50.0,
        },
    }


def test_anomaly_analysis_uses_previous_week_and_baseline() -> None:
    analysis = _build()["anomaly_analysis"]
    # 4 requests vs a baseline mean of 0.25: 16x; net 5 credits vs 1.25: 4x.
    assert [(x["type"], x["severity"]) for x in analysis["detected_anomalies"]] == [
        ("request_spike", "high"),
        ("credit_consumption_spike", "medium"),
        ("high_failure_rate", "high"),
        ("critical_model_failure_rate", "high"),
    ]
    assert analysis["anomaly_score"] == 17.5
    assert analysis["severity_level"] == "critical"
    assert analysis["comparison_period"]["baseline_mean_requests"] == 0.25


def test_report_is_plain_json_and_matches_the_schema() -> None:
    report = _build()
    assert json.loads(json.dumps(report)) == report
    assert WeeklyReport.model_validate(report).model_dump() == report


def test_empty_week_gives_zeros_not_errors() -> None:
    report = _build(WeekSeries(WINDOW))
    assert report["generation_stats"]["success_rate"] == 0.0
    assert report["credit_stats"]["average_credits_per_request"] == 0.0
    assert report["user_stats"]["average_requests_per_user"] == 0.0
    assert report["model_performance"] == {}
    assert report["style_stats"] == report["color_stats"] == report["size_stats"] == {}
    assert report["generation_stats"]["style_breakdown"] == {}
    assert report["anomaly_analysis"]["severity_level"] == "normal"


def test_generated_at_is_converted_to_utc() -> None:
    local = datetime(2025, 8, 4, 23, 25, tzinfo=timezone(timedelta(hours=3)))
    assert _build(generated_at=local)["generated_at"] == "2025-08-04T20:25:00+00:00"


def test_generated_at_must_be_aware() -> None:
    with pytest.raises(ValueError, match="naive"):
        _build(generated_at=datetime(2025, 8, 4, 20, 25))


def test_window_must_match_the_current_aggregate() -> None:
    series = _series()
    other = WeekWindow(WINDOW.start - timedelta(days=7), WINDOW.start)
    with pytest.raises(ValueError, match="report window"):
        build_report(other, series.current, series.previous_week, series.previous, T, GENERATED)


# --- summaries ----------------------------------------------------------------------------------


def test_summary() -> None:
    summary, _ = summarize(_report())
    assert summary.model_dump() == {
        "total_requests": 4,
        "success_rate": 50.0,
        "active_users": 2,
        "credits_consumed": 5,
        "most_popular_style": "sketch",
        "most_popular_size": "512x512",
        "report_period": {
            "start_date": "2025-07-28T00:00:00+00:00",
            "end_date": "2025-08-04T00:00:00+00:00",
        },
    }


@pytest.mark.parametrize(
    ("totals", "expected"),
    [
        ({}, None),
        ({"sketch": 1}, "sketch"),
        ({"sketch": 2, "anime": 3}, "anime"),
        ({"sketch": 3, "anime": 3}, "anime"),  # ties: alphabetically first
        ({"b": 3, "c": 3, "a": 2}, "b"),
    ],
)
def test_most_popular_style(totals: dict[str, int], expected: str | None) -> None:
    report = _build()
    report["generation_stats"]["style_breakdown"] = dict(totals)
    summary, _ = summarize(WeeklyReport.model_validate(report))
    assert summary.most_popular_style == expected


def test_anomaly_summary() -> None:
    _, anomaly_summary = summarize(_report())
    assert anomaly_summary.model_dump() == {
        "total_anomalies": 4,
        "severity_level": "critical",
        "anomaly_score": 17.5,
        "severity_breakdown": {"low": 0, "medium": 1, "high": 3},
        "type_breakdown": {
            "request_spike": 1,
            "credit_consumption_spike": 1,
            "high_failure_rate": 1,
            "critical_model_failure_rate": 1,
        },
        "requires_attention": True,
    }


def _with(severities: list[str], level: str) -> WeeklyReport:
    report = _build(WeekSeries(WINDOW))
    report["anomaly_analysis"].update(
        detected_anomalies=[
            {"type": f"t{i}", "severity": s, "description": ""} for i, s in enumerate(severities)
        ],
        total_anomalies=len(severities),
        severity_level=level,
    )
    return WeeklyReport.model_validate(report)


@pytest.mark.parametrize(
    ("severities", "level", "attention"),
    [
        ([], "normal", False),
        (["low"], "low", False),
        (["medium"], "medium", False),
        (["low", "low", "medium"], "medium", False),  # score 4.5
        (["low"] * 5, "high", True),  # score 5: level high without any high item
        (["high"], "high", True),
    ],
)
def test_requires_attention(severities: list[str], level: str, attention: bool) -> None:
    _, anomaly_summary = summarize(_with(severities, level))
    assert anomaly_summary.requires_attention is attention
    assert sum(anomaly_summary.severity_breakdown.values()) == len(severities)


def test_money_in_has_its_own_figures_and_changes_no_other() -> None:
    """Grants, welcome credits, purchases and take-backs are neither deductions nor refunds, and
    make nobody active: every figure the report had before stays as it was."""
    before = _build()
    series = _series()
    for tx in [
        _tx(25, 0, "grant", user="carol"),
        _tx(10, 1, "welcome", user="carol"),
        _tx(200, 2, "purchase", user="dave").model_copy(update={"amount": 1999, "currency": "usd"}),
        _tx(50, 2, "purchase", user="dave").model_copy(update={"amount": 500, "currency": "eur"}),
        _tx(100, 3, "purchase_refund", user="dave").model_copy(
            update={"amount": 1000, "currency": "usd"}
        ),
        _tx(20, 3, "purchase_refund", user="dave"),  # a take-back without an amount
        _tx(7, -2, "grant", user="carol"),  # the previous week
    ]:
        series.add_transaction(tx)
    after = _build(series)
    credits = after["credit_stats"]
    assert credits["total_credits_granted"] == 35
    assert credits["total_credits_purchased"] == 250
    assert credits["total_credits_purchase_refunded"] == 120
    assert credits["revenue"] == {"eur": 500, "usd": 999}
    new = {"total_credits_granted", "total_credits_purchased", "total_credits_purchase_refunded"}
    assert {k: v for k, v in credits.items() if k not in new | {"revenue"}} == {
        k: v for k, v in before["credit_stats"].items() if k not in new | {"revenue"}
    }
    assert after["user_stats"] == before["user_stats"]
    assert after["anomaly_analysis"] == before["anomaly_analysis"]
