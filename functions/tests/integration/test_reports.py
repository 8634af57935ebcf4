"""Weekly reports against the Firestore emulator: seeded anomalies, exact figures for a
hand-built week, idempotent re-runs, failures, the read endpoints and the scheduled entry."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from google.api_core import exceptions as gexc
from google.cloud import firestore

import main
from repositories.reports import ReportRepository
from services.reports.window import last_complete_week, report_id
from services.seeding import reference_data
from services.seeding.history import INTENDED_ANOMALIES
from tests.support.http import _APP, call, make_request
from tests.support.records import request_options

WEEK_START = "2025-03-03"  # ISO week 2025-W10
MONDAY = datetime(2025, 3, 3, tzinfo=UTC)
CORRELATION_ID = re.compile(r"[0-9a-f]{32}")


def run_report(**body: Any) -> tuple[int, dict[str, Any]]:
    return call(main.scheduleWeeklyReport, "POST", json_body=body)


def report_ids(db: firestore.Client) -> list[str]:
    return sorted(snap.id for snap in db.collection("reports").select([]).stream())


def count(query: Any) -> int:
    return sum(1 for _ in query.select([]).stream())


def write_request(
    db: firestore.Client,
    request_id: str,
    user_id: str,
    created_at: datetime,
    **options: str,
) -> None:
    """A request with its ledger entries; the owner's initial credits absorb the net spend so
    the balance (and the ledger invariant) stays as seeded."""
    fields = request_options(**options)
    status = fields["status"]
    cost = {s["id"]: s["credit_cost"] for s in reference_data.SIZES}[fields["size"]]
    db.collection("generation_requests").document(request_id).set(
        fields
        | {
            "user_id": user_id,
            "prompt": "hand built",
            "credits_deducted": cost,
            "created_at": created_at,
            "updated_at": created_at,
        }
    )
    user = db.collection("users").document(user_id)
    ledger = user.collection("transactions")
    entry = {"credits": cost, "generation_request_id": request_id, "user_id": user_id}
    ledger.document(f"deduction_{request_id}").set(
        entry | {"type": "deduction", "timestamp": created_at, "description": "test"}
    )
    net = cost
    if status == "failed":
        refunded_at = created_at + timedelta(seconds=5)
        ledger.document(f"refund_{request_id}").set(
            entry | {"type": "refund", "timestamp": refunded_at, "description": "test"}
        )
        net = 0
    user.update({"initial_credits": firestore.Increment(net)})
    if status in ("queued", "processing"):  # the owner's fair-use counter counts it
        user.update({"in_flight": firestore.Increment(1)})


@pytest.fixture
def hand_built_week(db: firestore.Client) -> None:
    write_request(db, "r1", "arda", MONDAY)  # the first instant belongs to the week
    write_request(
        db,
        "r2",
        "arda",
        MONDAY + timedelta(days=1, hours=10),
        status="failed",
        model="Model B",
        style="realistic",
        color="vibrant",
        size="1024x1024",
    )
    write_request(
        db, "r3", "arda", MONDAY + timedelta(days=7, seconds=-1), color="pastel", size="1024x1792"
    )
    write_request(
        db, "r4", "havanur", MONDAY + timedelta(days=2, hours=12), status="processing",
        model="Model B", style="sketch",
    )  # fmt: skip
    write_request(db, "r5", "arda", MONDAY + timedelta(days=7))  # next week
    write_request(db, "r6", "arda", MONDAY - timedelta(seconds=1))  # previous week
    for user_id in ("havanur", "mike_creative"):
        db.collection("users").document(user_id).update(
            {"created_at": MONDAY + timedelta(days=3, hours=9)}
        )


# --- the seeded history ---------------------------------------------------------------------


def test_seeded_history_is_replaced_not_accumulated(db, make_container):
    make_container()
    first_status, first = call(main.seed_database, "POST", json_body={"seed": 3})
    again_status, again = call(main.seed_database, "POST", json_body={})  # the default seed

    assert first_status == again_status == 200, (first, again)
    counts = again["counts"]
    assert counts["users"] == 13 and counts["styles"] == 6
    assert counts["generation_requests"] > 100
    assert count(db.collection("generation_requests")) == counts["generation_requests"]
    assert count(db.collection_group("transactions")) == counts["transactions"]
    assert count(db.collection("users")) == 13
    for user_id, (_, credits) in reference_data.USERS.items():
        assert db.collection("users").document(user_id).get().get("current_credits") == credits
    # the autouse fixture checks the ledger invariant after the test


def test_report_after_seeding_shows_the_planted_anomalies(db, make_container):
    make_container()
    assert call(main.seed_database, "POST", json_body={})[0] == 200

    status, body = run_report()

    assert status == 200, body
    assert body["reportStatus"] == "success"
    report = body["report_data"]
    window = last_complete_week(datetime.now(UTC))
    assert report["id"] == report_id(window.start)
    assert report["report_period"]["start_date"] == window.start.isoformat()
    types = {a["type"] for a in report["anomaly_analysis"]["detected_anomalies"]}
    assert types >= INTENDED_ANOMALIES, types
    assert body["anomaly_summary"]["requires_attention"] is True
    assert body["anomaly_summary"]["severity_level"] == "critical"
    assert body["summary"]["total_requests"] == report["generation_stats"]["total_requests"]
    assert report["user_stats"]["new_users_count"] >= 6
    assert report_ids(db) == [report["id"]]


def test_seed_rejects_a_bad_seed(db, make_container):
    make_container()
    for bad in ({"seed": "abc"}, {"seed": -1}, {"seed": 1.5}):
        status, body = call(main.seed_database, "POST", json_body=bad)
        assert status == 400, body
        assert body["details"][0]["field"] == "seed"


# --- exact figures ---------------------------------------------------------------------------


def test_hand_built_week_has_exact_figures(db, make_container, hand_built_week):
    make_container()
    status, body = run_report(weekStart=WEEK_START)

    assert status == 200, body
    report = body["report_data"]
    assert report["id"] == "weekly_report_2025_W10"
    assert report["report_period"] == {
        "start_date": "2025-03-03T00:00:00+00:00",
        "end_date": "2025-03-10T00:00:00+00:00",
    }
    gen = report["generation_stats"]
    assert (gen["total_requests"], gen["completed_requests"]) == (4, 2)
    assert (gen["failed_requests"], gen["pending_requests"]) == (1, 1)
    assert (gen["success_rate"], gen["failure_rate"]) == (50.0, 25.0)
    assert gen["size_breakdown"] == {"1024x1024": 1, "1024x1792": 1, "512x512": 2}
    assert gen["style_breakdown"] == {"anime": 2, "realistic": 1, "sketch": 1}
    assert gen["model_breakdown"] == {"Model A": 2, "Model B": 2}
    assert report["size_stats"]["512x512"]["total"] == 2
    assert report["style_stats"]["realistic"] == {
        "total": 1,
        "completed": 0,
        "failed": 1,
        "success_rate": 0.0,
        "failure_rate": 100.0,
    }
    assert report["credit_stats"] == {
        "total_credits_deducted": 9,
        "total_credits_refunded": 3,
        "net_credits_consumed": 6,
        "total_transactions": 5,
        "deduction_transactions": 4,
        "refund_transactions": 1,
        "average_credits_per_request": 2.25,
        "total_credits_granted": 0,
        "total_credits_purchased": 0,
        "total_credits_purchase_refunded": 0,
        "revenue": {},
    }
    users = report["user_stats"]
    assert users["active_users"] == ["arda", "havanur"]
    assert users["user_request_breakdown"] == {"arda": 3, "havanur": 1}
    assert users["user_credit_breakdown"] == {"arda": 5, "havanur": 1}
    assert users["new_users_count"] == 2
    assert users["average_requests_per_user"] == 2.0
    assert report["model_performance"]["Model B"] == {
        "total_requests": 2,
        "completed": 0,
        "failed": 1,
        "success_rate": 0.0,
        "failure_rate": 50.0,
    }
    comparison = report["anomaly_analysis"]["comparison_period"]
    assert comparison["previous_week"]["start_date"] == "2025-02-24T00:00:00+00:00"
    assert comparison["baseline_mean_requests"] == 0.25  # r6 alone over four weeks
    assert body["summary"] == {
        "total_requests": 4,
        "success_rate": 50.0,
        "active_users": 2,
        "credits_consumed": 6,
        "most_popular_style": "anime",
        "most_popular_size": "512x512",
        "report_period": report["report_period"],
    }
    stored = db.collection("reports").document("weekly_report_2025_W10").get().to_dict()
    assert stored == report


def test_rerunning_a_week_overwrites_its_report(db, make_container, hand_built_week):
    make_container()
    first = run_report(weekStart=WEEK_START)[1]["report_data"]
    write_request(db, "late", "arda", MONDAY + timedelta(days=4))
    # a record written into a day already rolled up (and settled) counts once that day's
    # rollup is rerun, as after a hand correction
    friday = {"date": (MONDAY + timedelta(days=4)).date().isoformat()}
    assert call(main.scheduleDailyRollup, "POST", json_body=friday)[0] == 200
    second = run_report(weekStart=WEEK_START)[1]["report_data"]

    assert report_ids(db) == ["weekly_report_2025_W10"]
    assert second["generation_stats"]["total_requests"] == 5
    assert second["generated_at"] >= first["generated_at"]
    stored = db.collection("reports").document("weekly_report_2025_W10").get().to_dict()
    assert stored["generation_stats"]["total_requests"] == 5


def test_default_week_is_the_last_complete_one(db, make_container):
    make_container()
    assert run_report()[0] == 200
    assert run_report()[0] == 200
    assert report_ids(db) == [report_id(last_complete_week(datetime.now(UTC)).start)]


# --- input and failures ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "detail"),
    [
        ({"json_body": {"weekStart": "2025-03-04"}}, "Monday"),
        ({"json_body": {"weekStart": "03/03/2025"}}, "YYYY-MM-DD"),
        ({"json_body": {"weekStart": "2025-02-30"}}, "valid calendar date"),
        ({"json_body": {"weekStart": 20250303}}, "string"),
        ({"json_body": {"weekStart": "2999-01-07"}}, "not ended"),
    ],
)
def test_bad_week_start_is_a_400_with_details(db, make_container, kwargs, detail):
    make_container()
    status, body = call(main.scheduleWeeklyReport, "POST", **kwargs)
    assert status == 400, body
    assert body["reportStatus"] == "failed" and body["error_type"] == "validation"
    assert body["details"][0]["field"] == "weekStart"
    assert detail in body["details"][0]["message"]
    assert report_ids(db) == []


def test_only_post_is_allowed_and_the_body_must_be_json(db, make_container):
    make_container()
    assert call(main.scheduleWeeklyReport, "GET")[0] == 405
    status, body = call(main.scheduleWeeklyReport, "POST", data="week", content_type="text/plain")
    assert status == 415 and body["reportStatus"] == "failed", body
    status, body = call(
        main.scheduleWeeklyReport, "POST", data="week", content_type="application/json"
    )
    assert status == 400 and body["reportStatus"] == "failed", body


def test_outside_the_emulator_the_admin_key_is_required(db, make_container):
    make_container(on_emulator=False, admin_api_key="s3cret" * 6)
    status, body = run_report()
    assert status == 403 and body["reportStatus"] == "failed"
    status, body = call(
        main.scheduleWeeklyReport,
        "POST",
        json_body={},
        headers={"Authorization": "Bearer " + "s3cret" * 6},
    )
    assert status == 200, body


def _broken_stream(*args: Any, **kwargs: Any) -> Iterator[Any]:
    raise gexc.FailedPrecondition("The query requires a COLLECTION_GROUP_ASC index (secret)")
    yield  # a generator, like the real method


def test_a_query_error_is_a_500_not_a_report_of_zeros(db, make_container, monkeypatch):
    make_container()
    monkeypatch.setattr(ReportRepository, "transactions_booked", _broken_stream)

    status, body = run_report(weekStart=WEEK_START)

    assert status == 500, body
    assert body["reportStatus"] == "failed"
    assert body["success"] is False and body["error_type"] == "system"
    assert CORRELATION_ID.fullmatch(body["error"])
    assert "secret" not in json.dumps(body) and "index" not in json.dumps(body)
    assert report_ids(db) == []


# --- read endpoints --------------------------------------------------------------------------


def test_list_and_get_reports(db, make_container, hand_built_week):
    make_container()
    status, body = call(main.getReport, "GET")
    assert status == 404 and body["error_type"] == "not_found"
    assert call(main.listReports, "GET") == (200, {"success": True, "reports": []})

    for week in ("2025-02-24", WEEK_START, "2025-02-17"):
        assert run_report(weekStart=week)[0] == 200

    status, body = call(main.listReports, "GET")
    assert status == 200 and body["success"] is True
    assert [r["id"] for r in body["reports"]] == [
        "weekly_report_2025_W10",
        "weekly_report_2025_W09",
        "weekly_report_2025_W08",
    ]
    newest = body["reports"][0]
    assert set(newest) == {
        "id",
        "report_period",
        "generated_at",
        "severity_level",
        "total_anomalies",
    }
    assert newest["report_period"]["start_date"] == "2025-03-03T00:00:00+00:00"
    assert [r["id"] for r in call(main.listReports, "GET", query={"limit": "1"})[1]["reports"]] == [
        "weekly_report_2025_W10"
    ]

    status, body = call(main.getReport, "GET")
    assert status == 200 and body["report"]["id"] == "weekly_report_2025_W10"
    assert body["report"]["generation_stats"]["total_requests"] == 4
    status, body = call(main.getReport, "GET", query={"reportId": "weekly_report_2025_W08"})
    assert status == 200 and body["report"]["id"] == "weekly_report_2025_W08"
    status, body = call(main.getReport, "GET", query={"reportId": "weekly_report_1999_W01"})
    assert status == 404 and body["success"] is False
    assert call(main.listReports, "POST", json_body={})[0] == 405
    assert call(main.listReports, "GET", query={"limit": "0"})[0] == 400


# --- the scheduled entry point, in process ---------------------------------------------------


def _scheduled(handler: Any) -> tuple[int, str]:
    request = make_request(
        "POST",
        headers={
            "X-CloudScheduler-JobName": "firebase-schedule-weeklyReportScheduler-us-central1",
            "X-CloudScheduler-ScheduleTime": datetime.now(UTC).isoformat(),
        },
    )
    with _APP.app_context():
        response = handler(request)
    return response.status_code, response.get_data(as_text=True)


def test_scheduled_handler_stores_the_last_complete_week(db, make_container):
    make_container()
    status, _ = _scheduled(main.weeklyReportScheduler)
    assert status == 200
    assert report_ids(db) == [report_id(last_complete_week(datetime.now(UTC)).start)]


def test_scheduled_handler_failure_is_a_500_without_internals(db, make_container, monkeypatch):
    make_container()
    monkeypatch.setattr(ReportRepository, "requests_created", _broken_stream)
    status, text = _scheduled(main.weeklyReportScheduler)
    assert status == 500
    assert "correlation id" in text and "secret" not in text
    assert report_ids(db) == []
