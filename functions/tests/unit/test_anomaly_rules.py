"""The weekly report's anomaly rules, at each threshold: just below, at, just above."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from fractions import Fraction
from typing import Any

import pytest
from pydantic import ValidationError

from core import config
from core.settings import AnomalyThresholds, Settings, load_settings
from schemas.documents import RequestRecord, TransactionRecord, UserRecord
from services.reports import anomalies as a
from services.reports.aggregation import Baseline, Tally, WeekAggregate
from services.reports.window import WeekWindow

T = AnomalyThresholds()


def tally(failed: int, total: int) -> Tally:
    return Tally(total=total, completed=total - failed, failed=failed)


def kinds(found: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(item["type"], item["severity"]) for item in found]


# --- thresholds ---------------------------------------------------------------------------------


def test_default_thresholds() -> None:
    assert T.model_dump() == {
        "request_spike_ratio": 2.5,
        "credit_spike_ratio": 3.0,
        "high_spike_ratio": 5.0,
        "failure_rate_percent": 15.0,
        "failure_spike_ratio": 2.0,
        "refund_rate_percent": 30.0,
        "refund_spike_ratio": 2.0,
        "user_weekly_requests": 10,
        "user_spike_ratio": 2.0,
        "user_daily_credits": 50,
        "new_users_per_day": 5,
        "active_users_increase": 5,
        "model_failure_rate_percent": 15.0,
        "model_spike_ratio": 2.0,
        "model_disparity_ratio": 5.0,
        "model_min_requests": 5,
        "model_underperforming_ratio": 1.5,
        "perfect_min_requests": 20,
    }


def test_thresholds_are_loaded_through_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANOMALY_REQUEST_SPIKE_RATIO", "4")
    monkeypatch.setenv("ANOMALY_FAILURE_RATE_PERCENT", "12.5")
    monkeypatch.setenv("ANOMALY_USER_DAILY_CREDITS", "80")
    monkeypatch.setenv("ANOMALY_MODEL_MIN_REQUESTS", "8")
    monkeypatch.setenv("ANOMALY_CREDIT_SPIKE_RATIO", "  ")  # blank: keep the default
    loaded = load_settings().anomaly_thresholds
    assert loaded.request_spike_ratio == 4.0
    assert loaded.failure_rate_percent == 12.5
    assert loaded.user_daily_credits == 80
    assert loaded.model_min_requests == 8
    assert loaded.credit_spike_ratio == 3.0
    assert loaded.high_spike_ratio == 5.0


def test_every_threshold_is_one_param_with_the_model_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert set(config.ANOMALY_PARAMS) == set(AnomalyThresholds.model_fields)
    for field, param in config.ANOMALY_PARAMS.items():
        assert param.name == f"ANOMALY_{field.upper()}"
        monkeypatch.delenv(param.name, raising=False)
    assert load_settings().anomaly_thresholds == T
    assert Settings().anomaly_thresholds == T


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("ANOMALY_REQUEST_SPIKE_RATIO", "abc"),
        ("ANOMALY_REQUEST_SPIKE_RATIO", "0"),
        ("ANOMALY_FAILURE_RATE_PERCENT", "101"),
        ("ANOMALY_FAILURE_RATE_PERCENT", "-1"),
    ],
)
def test_invalid_thresholds_are_refused_when_settings_load(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError):
        load_settings()


# --- request_spike / credit_consumption_spike ---------------------------------------------------


@pytest.mark.parametrize(
    ("current", "baseline", "expected"),
    [
        (24, 10, []),
        (25, 10, []),  # exactly 2.5x
        (26, 10, [("request_spike", "medium")]),
        (50, 10, [("request_spike", "medium")]),  # exactly 5x stays medium
        (51, 10, [("request_spike", "high")]),
        (25, Fraction(41, 4), []),  # 2.5 x 10.25 = 25.625
        (26, Fraction(41, 4), [("request_spike", "medium")]),
        (100, 0, []),  # no baseline: skipped
        (0, 0, []),
    ],
)
def test_request_spike(current: int, baseline: Fraction | int, expected: list[Any]) -> None:
    assert kinds(a.request_spike(current, baseline, T)) == expected


def test_request_spike_figures() -> None:
    [found] = a.request_spike(26, Fraction(41, 4), T)
    assert found == {
        "type": "request_spike",
        "severity": "medium",
        "description": "Total requests (26) are 2.5x the average of the previous weeks (10.25)",
        "current": 26,
        "baseline": 10.25,
        "ratio": 2.54,
        "threshold": 2.5,
    }


@pytest.mark.parametrize(
    ("current", "baseline", "expected"),
    [
        (29, 10, []),
        (30, 10, []),  # exactly 3x
        (31, 10, [("credit_consumption_spike", "medium")]),
        (50, 10, [("credit_consumption_spike", "medium")]),
        (51, 10, [("credit_consumption_spike", "high")]),
        (100, 0, []),
        (100, -4, []),  # refunds outweighed deductions in the baseline
    ],
)
def test_credit_consumption_spike(current: int, baseline: int, expected: list[Any]) -> None:
    assert kinds(a.credit_consumption_spike(current, baseline, T)) == expected


def test_spike_ratios_are_configurable() -> None:
    custom = AnomalyThresholds(request_spike_ratio=2.0, high_spike_ratio=3.0)
    assert kinds(a.request_spike(21, 10, custom)) == [("request_spike", "medium")]
    assert kinds(a.request_spike(31, 10, custom)) == [("request_spike", "high")]


# --- failure rates ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("failed", "total", "expected"),
    [
        (2, 20, []),
        (3, 20, []),  # exactly 15 %
        (4, 20, [("high_failure_rate", "high")]),
        (15, 100, []),
        (16, 100, [("high_failure_rate", "high")]),
        (150, 1000, []),
        (151, 1000, [("high_failure_rate", "high")]),  # 15.1 %
        (0, 0, []),
    ],
)
def test_high_failure_rate(failed: int, total: int, expected: list[Any]) -> None:
    assert kinds(a.high_failure_rate(tally(failed, total), T)) == expected


def test_high_failure_rate_figures() -> None:
    [found] = a.high_failure_rate(tally(1, 3), T)
    assert found["current"] == 33.33
    assert (found["failed_requests"], found["total_requests"]) == (1, 3)
    assert found["description"] == "Failure rate of 33.33% exceeds the threshold of 15%"


@pytest.mark.parametrize(
    ("current", "previous", "expected"),
    [
        (tally(3, 100), tally(2, 100), []),
        (tally(4, 100), tally(2, 100), []),  # exactly 2x
        (tally(5, 100), tally(2, 100), [("failure_rate_spike", "medium")]),
        (tally(15, 100), tally(1, 100), [("failure_rate_spike", "medium")]),  # 15 % is not high
        (tally(16, 100), tally(1, 100), []),  # high_failure_rate fires instead
        (tally(9, 100), tally(0, 100), []),  # previous rate 0: no ratio
        (tally(9, 100), Tally(), []),  # no previous requests
        (tally(0, 0), tally(2, 100), []),
    ],
)
def test_failure_rate_spike(current: Tally, previous: Tally, expected: list[Any]) -> None:
    assert kinds(a.failure_rate_spike(current, previous, T)) == expected


def test_failure_rate_spike_figures() -> None:
    [found] = a.failure_rate_spike(tally(5, 100), tally(2, 100), T)
    assert (found["current"], found["previous"], found["ratio"]) == (5.0, 2.0, 2.5)


# --- refunds ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("deducted", "refunded", "prev_deducted", "prev_refunded", "fires"),
    [
        (100, 29, 0, 0, False),
        (100, 30, 0, 0, False),  # exactly 30 %
        (100, 31, 0, 0, True),
        (1000, 301, 0, 0, True),  # 30.1 %
        (100, 20, 100, 10, False),  # exactly 2x the previous 10 %
        (100, 21, 100, 10, True),
        (100, 21, 100, 0, False),  # previous rate 0: only the absolute threshold
        (100, 21, 0, 0, False),
        (0, 0, 100, 10, False),  # nothing deducted: no rate
    ],
)
def test_high_refund_rate(
    deducted: int, refunded: int, prev_deducted: int, prev_refunded: int, fires: bool
) -> None:
    found = a.high_refund_rate(deducted, refunded, prev_deducted, prev_refunded, T)
    assert kinds(found) == ([("high_refund_rate", "medium")] if fires else [])


@pytest.mark.parametrize(
    ("refunded", "prev_refunded", "reason"),
    [(31, 0, "exceeds the threshold of 30%"), (21, 10, "more than 2x the previous week's 10.00%")],
)
def test_high_refund_rate_says_why(refunded: int, prev_refunded: int, reason: str) -> None:
    [found] = a.high_refund_rate(100, refunded, 100, prev_refunded, T)
    assert reason in found["description"]
    assert (found["total_refunded"], found["total_deducted"]) == (refunded, 100)
    assert found["current"] == float(refunded)


# --- users --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("count", "previous", "fires"),
    [
        (10, 0, False),  # not above 10
        (11, 0, True),
        (11, 5, True),
        (11, 6, False),  # 11 is not above 2 x 6
        (12, 6, False),  # exactly 2x
        (13, 6, True),
        (40, 20, False),
        (41, 20, True),
    ],
)
def test_user_request_spike(count: int, previous: int, fires: bool) -> None:
    found = a.user_request_spike({"bot_spammer": count}, {"bot_spammer": previous}, T)
    assert kinds(found) == ([("user_request_spike", "medium")] if fires else [])


def test_user_request_spike_reports_each_user_with_figures() -> None:
    found = a.user_request_spike({"b": 12, "a": 30, "c": 3}, {"a": 2}, T)
    assert [(f["user_id"], f["current"], f["previous"]) for f in found] == [
        ("a", 30, 2),
        ("b", 12, 0),
    ]


@pytest.mark.parametrize(
    ("credits", "fires"),
    [(49, False), (50, False), (51, True), (400, True)],
)
def test_single_user_credit_spike(credits: int, fires: bool) -> None:
    found = a.single_user_credit_spike({("new_enterprise", date(2025, 7, 29)): credits}, T)
    assert kinds(found) == ([("single_user_credit_spike", "high")] if fires else [])


def test_single_user_credit_spike_names_user_and_day() -> None:
    daily = {
        ("b", date(2025, 7, 30)): 60,
        ("a", date(2025, 7, 29)): 50,
        ("a", date(2025, 7, 31)): 52,
    }
    found = a.single_user_credit_spike(daily, T)
    assert [(f["user_id"], f["day"], f["current"]) for f in found] == [
        ("a", "2025-07-31", 52),
        ("b", "2025-07-30", 60),
    ]
    assert found[0]["description"] == "User a consumed 52 credits on 2025-07-31"


@pytest.mark.parametrize(("count", "fires"), [(4, False), (5, False), (6, True)])
def test_new_user_spike(count: int, fires: bool) -> None:
    found = a.new_user_spike({date(2025, 7, 30): count, date(2025, 7, 31): 1}, T)
    assert kinds(found) == ([("new_user_spike", "low")] if fires else [])
    if fires:
        assert (found[0]["day"], found[0]["current"]) == ("2025-07-30", count)


@pytest.mark.parametrize(
    ("current", "previous", "fires"),
    [(7, 3, False), (8, 3, False), (9, 3, True), (5, 0, False), (6, 0, True)],
)
def test_user_activity_spike(current: int, previous: int, fires: bool) -> None:
    found = a.user_activity_spike(current, previous, T)
    assert kinds(found) == ([("user_activity_spike", "low")] if fires else [])
    if fires:
        assert found[0]["increase"] == current - previous


# --- models -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("failed", "total", "fires"),
    [(2, 20, False), (3, 20, False), (4, 20, True), (1, 1, True), (0, 0, False)],
)
def test_critical_model_failure_rate(failed: int, total: int, fires: bool) -> None:
    found = a.critical_model_failure_rate({"Model B": tally(failed, total)}, T)
    assert kinds(found) == ([("critical_model_failure_rate", "high")] if fires else [])
    if fires:
        assert found[0]["model"] == "Model B"


@pytest.mark.parametrize(
    ("current", "previous", "fires"),
    [
        (tally(1, 100), tally(1, 100), False),
        (tally(2, 20), tally(1, 20), False),  # 10 % vs 5 %: exactly 2x
        (tally(3, 20), tally(1, 20), True),  # 15 % vs 5 %, not yet critical
        (tally(4, 20), tally(1, 20), False),  # critical instead
        (tally(3, 20), tally(0, 20), False),  # previous rate 0
        (tally(3, 20), None, False),  # model absent the previous week
    ],
)
def test_model_failure_rate_spike(current: Tally, previous: Tally | None, fires: bool) -> None:
    before = {"Model B": previous} if previous else {}
    found = a.model_failure_rate_spike({"Model B": current}, before, T)
    assert kinds(found) == ([("model_failure_rate_spike", "medium")] if fires else [])


@pytest.mark.parametrize(
    ("model_a", "model_b", "fires"),
    [
        (tally(1, 20), tally(4, 20), False),  # 20 % vs 5 %: 4x
        (tally(1, 20), tally(5, 20), False),  # exactly 5x
        (tally(1, 20), tally(6, 20), True),  # 6x
        (tally(0, 20), tally(10, 20), False),  # best rate 0: no ratio
        (tally(1, 20), tally(2, 5), True),  # 40 % over exactly 5 requests counts
        (tally(1, 20), tally(2, 4), False),  # 4 requests: too few to compare
        (tally(1, 4), tally(6, 20), False),
    ],
)
def test_model_performance_disparity(model_a: Tally, model_b: Tally, fires: bool) -> None:
    found = a.model_performance_disparity({"Model A": model_a, "Model B": model_b}, T)
    assert kinds(found) == ([("model_performance_disparity", "high")] if fires else [])
    if fires:
        assert (found[0]["model"], found[0]["best_model"]) == ("Model B", "Model A")


def test_model_performance_disparity_compares_worst_and_best_of_many() -> None:
    models = {"A": tally(1, 100), "B": tally(3, 100), "C": tally(6, 100)}
    [found] = a.model_performance_disparity(models, T)
    assert (found["model"], found["best_model"], found["ratio"]) == ("C", "A", 6.0)


@pytest.mark.parametrize(
    ("models", "expected"),
    [
        ({"Model A": tally(2, 20), "Model B": tally(3, 20)}, []),  # exactly 1.5x
        ({"Model A": tally(2, 20), "Model B": tally(4, 20)}, ["Model B"]),
        ({"Model A": tally(2, 20), "Model B": tally(4, 4)}, []),  # B below 5 requests
        ({"Model A": tally(0, 20), "Model B": tally(1, 20)}, ["Model B"]),  # others never fail
        ({"Model A": tally(0, 20), "Model B": tally(0, 20)}, []),
        # Mean of the others: (10 % + 20 %) / 2 = 15 %; 22.5 % is exactly 1.5x.
        ({"A": tally(2, 20), "B": tally(4, 20), "C": tally(9, 40)}, []),
        ({"A": tally(2, 20), "B": tally(4, 20), "C": tally(10, 40)}, ["C"]),
        ({"Model A": tally(5, 10)}, []),  # nothing to compare with
    ],
)
def test_model_underperforming(models: dict[str, Tally], expected: list[str]) -> None:
    found = a.model_underperforming(models, T)
    assert [f["model"] for f in found] == expected
    assert all(f["severity"] == "medium" for f in found)


def test_model_underperforming_without_a_ratio_when_others_never_fail() -> None:
    [found] = a.model_underperforming({"Model A": tally(0, 20), "Model B": tally(1, 20)}, T)
    assert (found["current"], found["baseline"], found["ratio"]) == (5.0, 0.0, None)


@pytest.mark.parametrize(
    ("failed", "total", "fires"),
    [(0, 19, False), (0, 20, False), (0, 21, True), (1, 21, False)],
)
def test_suspicious_perfect_performance(failed: int, total: int, fires: bool) -> None:
    found = a.suspicious_perfect_performance({"Model A": tally(failed, total)}, T)
    assert kinds(found) == ([("suspicious_perfect_performance", "low")] if fires else [])


def test_model_descriptions_name_each_model_once() -> None:
    current = {"Model A": tally(1, 30), "Model B": tally(9, 30)}
    previous = {"Model A": tally(1, 100)}
    found = [
        *a.critical_model_failure_rate(current, T),
        *a.model_failure_rate_spike(current, previous, T),
        *a.model_performance_disparity(current, T),
        *a.model_underperforming(current, T),
        *a.suspicious_perfect_performance({"Model C": tally(0, 30)}, T),
    ]
    assert {f["type"] for f in found} == {
        "critical_model_failure_rate",
        "model_failure_rate_spike",
        "model_performance_disparity",
        "model_underperforming",
        "suspicious_perfect_performance",
    }
    for item in found:
        assert "Model Model" not in item["description"]
        assert item["description"].count(item["model"]) == 1


# --- score and level ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("severities", "score", "level"),
    [
        ([], 0.0, "normal"),
        (["low"], 1.0, "low"),
        (["low", "low"], 2.0, "medium"),
        (["medium"], 2.5, "medium"),
        (["low", "low", "low", "low"], 4.0, "medium"),
        (["medium", "medium"], 5.0, "high"),
        (["high"], 5.0, "high"),
        (["high", "medium", "low"], 8.5, "high"),
        (["high", "medium", "medium"], 10.0, "critical"),
        (["high", "high"], 10.0, "critical"),
    ],
)
def test_score_and_level(severities: list[str], score: float, level: str) -> None:
    found = [{"type": "x", "severity": s, "description": ""} for s in severities]
    assert a.anomaly_score(found) == score
    assert a.severity_level(a.anomaly_score(found)) == level


@pytest.mark.parametrize(
    ("score", "level"),
    [
        (0.0, "normal"),
        (0.5, "low"),
        (1.99, "low"),
        (2.0, "medium"),
        (4.99, "medium"),
        (5.0, "high"),
        (9.99, "high"),
        (10.0, "critical"),
        (42.5, "critical"),
    ],
)
def test_severity_level_boundaries(score: float, level: str) -> None:
    assert a.severity_level(score) == level


# --- the whole analysis -------------------------------------------------------------------------

START = datetime(2025, 7, 28, tzinfo=UTC)


def _week(offset: int) -> WeekAggregate:
    start = START + timedelta(weeks=offset)
    return WeekAggregate(WeekWindow(start, start + timedelta(days=7)))


def _request(agg: WeekAggregate, n: int, *, user: str, model: str, status: str) -> None:
    for i in range(n):
        agg.add_request(
            RequestRecord(
                id=f"{user}-{model}-{status}-{i}",
                user_id=user,
                model=model,
                style="anime",
                color="neon",
                size="512x512",
                status=status,  # type: ignore[arg-type]
                created_at=agg.window.start + timedelta(hours=30),
            )
        )


def _credits(agg: WeekAggregate, credits: int, kind: str = "deduction", user: str = "u") -> None:
    agg.add_transaction(
        TransactionRecord(
            id="tx",
            user_id=user,
            type=kind,  # type: ignore[arg-type]
            credits=credits,
            timestamp=agg.window.start + timedelta(hours=30),
        )
    )


def test_analyse_quiet_week() -> None:
    current, previous = _week(0), _week(-1)
    history = [previous, _week(-2), _week(-3), _week(-4)]
    for agg in [current, *history]:
        _request(agg, 10, user="arda", model="Model A", status="completed")
        _request(agg, 1, user="arda", model="Model A", status="failed")
        _credits(agg, 11, user="arda")
    analysis = a.analyse(current, previous, Baseline.of(history), T).model_dump()
    assert analysis["detected_anomalies"] == []
    assert (analysis["anomaly_score"], analysis["severity_level"]) == (0.0, "normal")
    assert analysis["total_anomalies"] == 0
    period = analysis["comparison_period"]
    assert period["current_week"] == {
        "start_date": "2025-07-28T00:00:00+00:00",
        "end_date": "2025-08-04T00:00:00+00:00",
    }
    assert period["previous_week"]["start_date"] == "2025-07-21T00:00:00+00:00"
    assert [w["start_date"][:10] for w in period["baseline_weeks"]] == [
        "2025-07-21",
        "2025-07-14",
        "2025-07-07",
        "2025-06-30",
    ]
    assert (period["baseline_mean_requests"], period["baseline_mean_net_credits"]) == (11.0, 11.0)


def test_analyse_spammer_week() -> None:
    current, previous = _week(0), _week(-1)
    history = [previous, _week(-2), _week(-3), _week(-4)]
    for agg in history:
        _request(agg, 10, user="arda", model="Model A", status="completed")
        _request(agg, 10, user="arda", model="Model B", status="completed")
        _credits(agg, 20, user="arda")
    _request(current, 30, user="bot", model="Model B", status="completed")
    _request(current, 10, user="bot", model="Model B", status="failed")
    _request(current, 24, user="arda", model="Model A", status="completed")
    _request(current, 1, user="arda", model="Model A", status="failed")
    _credits(current, 60, user="bot")
    _credits(current, 10, "refund", user="bot")
    for n in range(6):
        current.add_user(UserRecord(id=f"new{n}", created_at=START + timedelta(days=2)))

    analysis = a.analyse(current, previous, Baseline.of(history), T).model_dump()
    assert kinds(analysis["detected_anomalies"]) == [
        ("request_spike", "medium"),  # 65 vs a mean of 20
        ("high_failure_rate", "high"),  # 11 of 65
        ("user_request_spike", "medium"),  # bot: 40 vs 0; arda's 25 vs 20 is not a spike
        ("new_user_spike", "low"),
        ("critical_model_failure_rate", "high"),  # Model B 25 %
        ("model_performance_disparity", "high"),  # 25 % vs 4 %
        ("model_underperforming", "medium"),
    ]
    # Net 50 credits in one day is not above 50; 10 of 60 credits refunded is below 30 %.
    assert analysis["anomaly_score"] == 23.5
    assert analysis["severity_level"] == "critical"
    assert analysis["total_anomalies"] == 7
