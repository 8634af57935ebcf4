"""The fabricated seed history: deterministic, ledger-consistent, anomalies in the right week."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta

import pytest

from core.settings import AnomalyThresholds
from services.report_service import ReportService
from services.reports.window import WEEK, last_complete_week
from services.seeding import reference_data
from services.seeding.history import (
    DEFAULT_SEED,
    INTENDED_ANOMALIES,
    NEW_USERS,
    SeedHistory,
    fabricate_history,
)
from tests.support.fakes import ManualClock
from tests.support.memory_reports import MemoryReportStore

NOW = datetime(2025, 8, 6, 13, 45, tzinfo=UTC)  # a Wednesday
REPORT_WEEK = last_complete_week(NOW)  # Mon 2025-07-28 .. Mon 2025-08-04
COSTS = {s["id"]: s["credit_cost"] for s in reference_data.SIZES}


def ledger(history: SeedHistory) -> list[tuple[str, str, dict]]:
    return [
        (user_id, tx_id, tx)
        for user_id, by_id in history.transactions.items()
        for tx_id, tx in by_id.items()
    ]


@pytest.fixture(scope="module")
def history() -> SeedHistory:
    return fabricate_history(NOW)


def test_same_seed_same_history():
    assert fabricate_history(NOW, 7) == fabricate_history(NOW, 7)
    assert fabricate_history(NOW, 7).requests.keys() != fabricate_history(NOW, 8).requests.keys()


def test_later_in_the_same_week_only_the_week_to_date_moves():
    earlier = fabricate_history(NOW)
    later = fabricate_history(NOW + timedelta(days=2))

    def past(h: SeedHistory) -> dict:
        return {k: v for k, v in h.requests.items() if v["created_at"] < REPORT_WEEK.end}

    assert past(earlier) == past(later)
    assert earlier.requests.keys() == later.requests.keys()


def test_every_request_is_terminal_with_one_deduction_and_a_refund_iff_failed(history):
    deductions: Counter[str] = Counter()
    refunds: Counter[str] = Counter()
    for user_id, tx_id, tx in ledger(history):
        request = history.requests[tx["generation_request_id"]]
        assert tx["user_id"] == user_id == request["user_id"]
        assert tx["credits"] == request["credits_deducted"] == COSTS[request["size"]]
        if tx["type"] == "deduction":
            assert tx_id == f"deduction_{tx['generation_request_id']}"
            assert tx["timestamp"] == request["created_at"]
            deductions[tx["generation_request_id"]] += 1
        else:
            assert tx["type"] == "refund"
            assert tx_id == f"refund_{tx['generation_request_id']}"
            assert tx["timestamp"] == request["completed_at"]
            refunds[tx["generation_request_id"]] += 1
    for request_id, request in history.requests.items():
        assert request["status"] in {"completed", "failed"}
        assert deductions[request_id] == 1
        assert refunds[request_id] == (1 if request["status"] == "failed" else 0)
        # Fabricated history never ran a model: no request has a stored image.
        assert request["image_url"] is None and request["image_path"] is None
        assert (request["error_message"] is None) == (request["status"] == "completed")


def test_balances_end_at_the_documented_credits(history):
    for user_id, (_, documented) in reference_data.USERS.items():
        initial = history.initial_credits(user_id, documented)
        deducted = sum(
            tx["credits"]
            for tx in history.transactions.get(user_id, {}).values()
            if tx["type"] == "deduction"
        )
        refunded = sum(
            tx["credits"]
            for tx in history.transactions.get(user_id, {}).values()
            if tx["type"] == "refund"
        )
        assert initial - deducted + refunded == documented
        completed = sum(
            1
            for r in history.requests.values()
            if r["user_id"] == user_id and r["status"] == "completed"
        )
        assert history.images_generated[user_id] == completed


def test_every_ledger_entry_stays_in_the_week_of_its_request(history):
    for _, _, tx in ledger(history):
        created = history.requests[tx["generation_request_id"]]["created_at"]
        week_start = REPORT_WEEK.start + ((created - REPORT_WEEK.start) // WEEK) * WEEK
        assert week_start <= tx["timestamp"] < week_start + WEEK


def test_baseline_weeks_hold_about_sixty_requests_with_three_to_five_percent_failures(history):
    baseline_start = REPORT_WEEK.start - 4 * WEEK
    baseline = [
        r
        for r in history.requests.values()
        if baseline_start <= r["created_at"] < REPORT_WEEK.start
    ]
    failed = sum(r["status"] == "failed" for r in baseline)
    assert 50 <= len(baseline) <= 72
    assert 0.03 <= failed / len(baseline) <= 0.05
    assert min(r["created_at"] for r in history.requests.values()) >= baseline_start


def test_week_to_date_requests_are_before_now(history):
    this_week = [r for r in history.requests.values() if r["created_at"] >= REPORT_WEEK.end]
    assert 1 <= len(this_week) <= 5
    assert all(r["completed_at"] < NOW for r in this_week)


def test_no_week_to_date_requests_in_the_first_minute_of_a_week():
    monday = datetime(2025, 8, 4, 0, 0, 10, tzinfo=UTC)
    history = fabricate_history(monday)
    assert all(r["created_at"] < monday for r in history.requests.values())


def test_users_exist_before_their_first_request(history):
    for request in history.requests.values():
        assert history.user_created_at[request["user_id"]] < request["created_at"]


def test_more_than_five_users_sign_up_on_one_day_of_the_report_week(history):
    days = Counter(
        created.date()
        for created in history.user_created_at.values()
        if REPORT_WEEK.contains(created)
    )
    assert days == {date(2025, 7, 29): len(NEW_USERS)}
    assert len(NEW_USERS) > 5
    assert len(history.user_created_at) == len(reference_data.USERS)


@pytest.mark.parametrize("seed", [DEFAULT_SEED, 0, 1, 99])
@pytest.mark.parametrize(
    "now",
    [NOW, datetime(2025, 8, 4, 20, 25, tzinfo=UTC), datetime(2026, 1, 5, 0, 0, 1, tzinfo=UTC)],
)
def test_a_report_right_after_seeding_shows_the_planted_anomalies(seed, now):
    store = MemoryReportStore.of(fabricate_history(now, seed))
    run = ReportService(store, ManualClock(now), AnomalyThresholds()).run()

    found = {a["type"]: a for a in run.report.anomaly_analysis.detected_anomalies}
    assert found.keys() >= INTENDED_ANOMALIES
    assert found["single_user_credit_spike"]["user_id"] == "new_enterprise"
    assert found["critical_model_failure_rate"]["model"] == "Model B"
    assert run.report.report_period.start_date == last_complete_week(now).start.isoformat()
    assert run.report.model_performance["Model B"].failed >= 10
    assert run.anomaly_summary.requires_attention is True


def test_the_spammer_fails_a_quarter_of_its_model_b_requests(history):
    spam = [
        r
        for r in history.requests.values()
        if r["user_id"] == "bot_spammer" and REPORT_WEEK.contains(r["created_at"])
    ]
    assert {r["model"] for r in spam} == {"Model B"}
    assert sum(r["status"] == "failed" for r in spam) / len(spam) == 0.25


def test_the_enterprise_burst_is_large_portraits_on_one_day(history):
    burst = [
        r
        for r in history.requests.values()
        if r["user_id"] == "new_enterprise" and REPORT_WEEK.contains(r["created_at"])
    ]
    assert {r["size"] for r in burst} == {"1024x1792"}
    assert len({r["created_at"].date() for r in burst}) == 1
    assert sum(COSTS[r["size"]] for r in burst if r["status"] == "completed") > 50
