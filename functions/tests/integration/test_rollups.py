"""Daily rollups against the Firestore emulator: the report from rollups is the report from a scan
(every figure; only `source` and `generated_at` differ), on the seeded history and on a generated
one with late settlements, next-day refunds, cancellations and a daily job run twice."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from google.cloud import firestore

import main
from schemas.documents import GrantRecord, TransactionRecord
from services.seeding import reference_data
from tests.support.http import _APP, call, make_request

MONDAY = datetime(2025, 3, 3, tzinfo=UTC)  # ISO week 2025-W10
WEEK_START = MONDAY.date().isoformat()
SPAN_START = MONDAY - timedelta(days=28)
WEDNESDAY = MONDAY.date() + timedelta(days=2)
COST = {s["id"]: s["credit_cost"] for s in reference_data.SIZES}
USERS = sorted(reference_data.USERS)


def comparable(report: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in report.items() if k not in {"source", "generated_at"}}


def report(source: str | None = None, week_start: str | None = WEEK_START) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if week_start is not None:
        body["weekStart"] = week_start
    if source is not None:
        body["source"] = source
    status, answer = call(main.scheduleWeeklyReport, "POST", json_body=body)
    assert status == 200, answer
    return answer["report_data"]


def rollup(day: date) -> dict[str, Any]:
    status, answer = call(main.scheduleDailyRollup, "POST", json_body={"date": day.isoformat()})
    assert status == 200, answer
    return answer["rollup"]


def scheduled_rollup(schedule_time: datetime) -> int:
    request = make_request(
        "POST",
        headers={
            "X-CloudScheduler-JobName": "firebase-schedule-rollupDailyUsage-us-central1",
            "X-CloudScheduler-ScheduleTime": schedule_time.isoformat(),
        },
    )
    with _APP.app_context():
        return main.rollupDailyUsage(request).status_code


def stored_day(db: firestore.Client, day: date) -> dict[str, Any]:
    snap = db.collection("usage_daily").document(day.isoformat()).get()
    assert snap.exists, day
    return snap.to_dict() or {}


class History:
    """Requests with their ledgers, written the way the API leaves them: the owner's balance and
    in-flight counter stay consistent (the autouse fixture checks the ledger afterwards)."""

    def __init__(self, db: firestore.Client) -> None:
        self.db = db
        self.batch = db.batch()
        self.writes = 0

    def _write(self, ref: Any, data: dict[str, Any]) -> None:
        self.batch.set(ref, data)
        self.writes += 1
        if self.writes >= 400:
            self.flush()

    def flush(self) -> None:
        self.batch.commit()
        self.batch, self.writes = self.db.batch(), 0

    def request(
        self, request_id: str, user: str, created: datetime, status: str, rng: random.Random
    ) -> int:
        """Writes the request and its deduction; returns its cost."""
        size = rng.choice(sorted(COST))
        self._write(
            self.db.collection("generation_requests").document(request_id),
            {
                "user_id": user,
                "model": rng.choice(["Model A", "Model B", "Model C"]),
                "style": rng.choice(["anime", "realistic", "sketch", "cyberpunk"]),
                "color": rng.choice(["neon", "pastel", "vibrant"]),
                "size": size,
                "status": status,
                "prompt": "generated",
                "credits_deducted": COST[size],
                "created_at": created,
                "updated_at": created,
            },
        )
        self.ledger(request_id, user, "deduction", COST[size], created)
        return COST[size]

    def ledger(self, request_id: str, user: str, kind: str, credits: int, at: datetime) -> None:
        self._write(
            self.db.collection("users")
            .document(user)
            .collection("transactions")
            .document(f"{kind}_{request_id}"),
            {
                "type": kind,
                "credits": credits,
                "generation_request_id": request_id,
                "user_id": user,
                "timestamp": at,
                "description": "generated",
            },
        )


def generate(db: firestore.Client, seed: int = 7, count: int = 400) -> dict[str, tuple[str, int]]:
    """~`count` requests over the five weeks; returns the requests left open on Wednesday
    evening of the report week ({id: (owner, cost)})."""
    rng = random.Random(seed)
    history = History(db)
    net: dict[str, int] = dict.fromkeys(USERS, 0)
    in_flight: dict[str, int] = dict.fromkeys(USERS, 0)
    seconds = int((MONDAY + timedelta(days=7) - SPAN_START).total_seconds())
    for n in range(count):
        user = rng.choice(USERS)
        created = SPAN_START + timedelta(seconds=rng.randrange(seconds))
        if n % 25 == 0:  # a moment before midnight: the deduction is booked the next day
            created = created.replace(hour=23, minute=59, second=59, microsecond=500_000)
        status = rng.choice(["completed"] * 5 + ["failed", "cancelled"])
        cost = history.request(f"g{n}", user, created, status, rng)
        net[user] += cost
        if status != "completed":  # refunded at once, twenty hours later or the next day
            later = timedelta(seconds=rng.choice([5, 20 * 3600, 30 * 3600]))
            history.ledger(f"g{n}", user, "refund", cost, created + later)
            net[user] -= cost
    late: dict[str, tuple[str, int]] = {}
    evening = datetime.combine(WEDNESDAY, datetime.min.time(), tzinfo=UTC) + timedelta(hours=23)
    for n, status in enumerate(["processing", "queued", "processing"]):
        user = USERS[n]
        cost = history.request(f"late{n}", user, evening + timedelta(minutes=n), status, rng)
        net[user] += cost
        in_flight[user] += 1
        late[f"late{n}"] = (user, cost)
    history.flush()
    for user in USERS:
        db.collection("users").document(user).update(
            {
                "initial_credits": firestore.Increment(net[user]),
                "in_flight": firestore.Increment(in_flight[user]),
            }
        )
    return late


def settle_late(db: firestore.Client, late: dict[str, tuple[str, int]]) -> None:
    """Thursday: the first open request completes, the others fail and are refunded."""
    thursday = datetime.combine(WEDNESDAY + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
    for n, (request_id, (user, cost)) in enumerate(sorted(late.items())):
        status = "completed" if n == 0 else ("cancelled" if n == 1 else "failed")
        at = thursday + timedelta(hours=2 + n)
        db.collection("generation_requests").document(request_id).update(
            {"status": status, "updated_at": at}
        )
        owner = db.collection("users").document(user)
        update: dict[str, Any] = {"in_flight": firestore.Increment(-1)}
        if status != "completed":
            db.collection("users").document(user).collection("transactions").document(
                f"refund_{request_id}"
            ).set(
                {
                    "type": "refund",
                    "credits": cost,
                    "generation_request_id": request_id,
                    "user_id": user,
                    "timestamp": at,
                    "description": "generated",
                }
            )
            update["initial_credits"] = firestore.Increment(-cost)
        owner.update(update)


# --- the two sources agree --------------------------------------------------------------------


def test_seeded_history_gives_the_same_report_from_both_sources(db, make_container):
    make_container()
    assert call(main.seed_database, "POST", json_body={})[0] == 200

    from_rollups = report(week_start=None)
    from_scan = report("scan", week_start=None)
    again = report(week_start=None)  # now read from the stored days

    assert from_rollups["source"] == again["source"] == "rollups"
    assert from_scan["source"] == "scan"
    assert comparable(from_rollups) == comparable(from_scan) == comparable(again)
    assert from_rollups["generation_stats"]["total_requests"] > 50
    assert from_rollups["anomaly_analysis"]["total_anomalies"] > 0
    stored = db.collection("reports").document(from_rollups["id"]).get().to_dict()
    assert stored["source"] == "rollups"
    assert sum(1 for _ in db.collection("usage_daily").select([]).stream()) == 35


def test_a_reseed_drops_the_rollups_of_the_history_it_replaced(db, make_container):
    """Another seed fabricates another history: the settled days of the old one must not be
    read for it. The reseed deletes them (shards included) and the next report recomputes."""
    make_container()
    assert call(main.seed_database, "POST", json_body={"seed": 1})[0] == 200
    first = report(week_start=None)
    assert sum(1 for _ in db.collection("usage_daily").select([]).stream()) == 35
    shards = [
        shard
        for day in db.collection("usage_daily").list_documents()
        for shard in day.collection("users").list_documents()
    ]
    assert shards  # the report week's and the week before's per-user shards

    assert call(main.seed_database, "POST", json_body={"seed": 2})[0] == 200
    assert list(db.collection("usage_daily").select([]).stream()) == []
    assert not any(shard.get().exists for shard in shards)

    from_rollups, from_scan = report(week_start=None), report("scan", week_start=None)
    assert comparable(from_rollups) == comparable(from_scan)
    assert comparable(from_rollups) != comparable(first)  # the history really changed


def test_generated_history_with_late_facts_gives_the_same_report(db, make_container):
    make_container()
    late = generate(db)
    # The daily job, caught up to Wednesday while three requests of that evening are open;
    # Wednesday's run repeated (the scheduler delivers at least once).
    day = SPAN_START.date()
    while day <= WEDNESDAY:
        rollup(day)
        day += timedelta(days=1)
    first = rollup(WEDNESDAY)
    assert first["settled"] is False and first["unsettled_requests"] == 3

    settle_late(db, late)
    # Friday 00:10: the scheduled job computes Thursday and recomputes unsettled Wednesday; a
    # second delivery of the same event changes nothing but the computation time.
    friday = datetime.combine(WEDNESDAY + timedelta(days=2), datetime.min.time(), tzinfo=UTC)
    assert scheduled_rollup(friday + timedelta(minutes=10)) == 200
    once = stored_day(db, WEDNESDAY + timedelta(days=1))
    assert scheduled_rollup(friday + timedelta(minutes=10)) == 200
    twice = stored_day(db, WEDNESDAY + timedelta(days=1))
    assert {**once, "computed_at": None} == {**twice, "computed_at": None}
    wednesday = stored_day(db, WEDNESDAY)
    assert wednesday["settled"] is True and wednesday["unsettled_requests"] == 0

    from_rollups = report()
    from_scan = report("scan")

    assert comparable(from_rollups) == comparable(from_scan)
    credits = from_rollups["credit_stats"]
    assert credits["refund_transactions"] > 10 and credits["total_credits_refunded"] > 0
    assert from_rollups["generation_stats"]["cancelled_requests"] > 0
    assert from_rollups["generation_stats"]["pending_requests"] == 0
    # a previous-week report reads the same stored days
    assert comparable(report(week_start="2025-02-24")) == comparable(
        report("scan", week_start="2025-02-24")
    )


def money_in(user: str, kind: str, entry_id: str, credits: int, at: datetime, **money: Any) -> Any:
    return TransactionRecord.model_validate(
        {
            "id": entry_id,
            "type": kind,
            "credits": credits,
            "user_id": user,
            "timestamp": at,
            "description": f"{kind} in a test",
        }
        | money
    )


def test_money_in_gives_the_same_figures_from_both_sources(db, make_container):
    """Grants, welcome credits, purchases and a take-back booked as the functions book them
    (container.credits): the rollups carry them, the scan agrees, the money path's figures stay
    those of the requests."""
    container = make_container()
    settle_late(db, generate(db, seed=5, count=80))
    without = report("scan")
    credits = container.credits
    tuesday = MONDAY + timedelta(days=1, hours=10)
    container.credits.book_grant(
        GrantRecord(
            id="ops-grant-1",
            user_id="arda",
            credits=40,
            reason="goodwill",
            granted_by="admin_key",
            created_at=tuesday,
        )
    )
    credits.book(money_in("havanur", "welcome", "welcome_havanur", 10, tuesday))
    usd = {"amount": 1999, "currency": "usd"}
    credits.book(money_in("arda", "purchase", "purchase_cs_1", 200, tuesday, **usd))
    at_midnight = datetime.combine(WEDNESDAY, datetime.min.time(), tzinfo=UTC)
    credits.book(money_in("sarah_artist", "purchase", "purchase_cs_2", 50, at_midnight, **usd))
    credits.book(
        money_in(
            "sarah_artist", "purchase", "purchase_cs_3", 50, at_midnight, amount=450, currency="eur"
        )
    )
    credits.book(
        money_in(
            "arda", "purchase_refund", "purchase_refund_cs_1_1000", 100, at_midnight, **usd
        ).model_copy(update={"amount": 1000})
    )
    # The week before: only the previous-week report sees it.
    credits.book(money_in("arda", "grant", "grant_ops-grant-0", 5, MONDAY - timedelta(days=2)))

    from_rollups, from_scan, again = report(), report("scan"), report()
    assert comparable(from_rollups) == comparable(from_scan) == comparable(again)
    figures = from_rollups["credit_stats"]
    assert figures["total_credits_granted"] == 50
    assert figures["total_credits_purchased"] == 300
    assert figures["total_credits_purchase_refunded"] == 100
    assert figures["revenue"] == {"eur": 450, "usd": 1999 + 1999 - 1000}
    new = {
        "total_credits_granted",
        "total_credits_purchased",
        "total_credits_purchase_refunded",
        "revenue",
    }
    assert {k: v for k, v in figures.items() if k not in new} == {
        k: v for k, v in without["credit_stats"].items() if k not in new
    }
    assert from_rollups["user_stats"] == without["user_stats"]
    previous = report(week_start="2025-02-24")
    assert comparable(previous) == comparable(report("scan", week_start="2025-02-24"))
    assert previous["credit_stats"]["total_credits_granted"] == 5
    stored = stored_day(db, WEDNESDAY)
    assert stored["revenue"] == {"eur": 450, "usd": 999}
    assert stored["credits_purchase_refunded"] == 100


def test_a_corrected_day_is_picked_up_after_its_rollup_is_rerun(db, make_container):
    make_container()
    settle_late(db, generate(db, seed=3, count=60))
    before = report()
    friday = MONDAY.date() + timedelta(days=4)
    rng = random.Random(1)
    history = History(db)
    cost = history.request(
        "correction", "arda", MONDAY + timedelta(days=4, hours=9), "completed", rng
    )
    history.flush()
    db.collection("users").document("arda").update({"initial_credits": firestore.Increment(cost)})

    assert (
        report()["generation_stats"]["total_requests"]
        == before["generation_stats"]["total_requests"]
    )  # settled days are read as stored
    assert rollup(friday)["total_requests"] >= 1
    after = report()
    assert after["generation_stats"]["total_requests"] == (
        before["generation_stats"]["total_requests"] + 1
    )
    assert comparable(after) == comparable(report("scan"))


# --- input ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"date": "2025-02-30"}, "date"),
        ({"date": "03/03/2025"}, "date"),
        ({"date": 20250303}, "date"),
        ({}, "date"),
        ({"date": "2999-01-01"}, "date"),
        ({"date": datetime.now(UTC).date().isoformat()}, "date"),  # today has not ended
    ],
)
def test_bad_rollup_date_is_a_400(db, make_container, body, field):
    make_container()
    status, answer = call(main.scheduleDailyRollup, "POST", json_body=body)
    assert status == 400, answer
    assert answer["details"][0]["field"] == field
    assert not list(db.collection("usage_daily").select([]).stream())


@pytest.mark.parametrize("source", ["bigquery", "", 1, None])
def test_bad_report_source_is_a_400(db, make_container, source):
    make_container()
    status, answer = call(
        main.scheduleWeeklyReport, "POST", json_body={"weekStart": WEEK_START, "source": source}
    )
    assert status == 400, answer
    assert answer["reportStatus"] == "failed"
    assert answer["details"][0]["field"] == "source"


def test_rollup_route_is_admin_only_and_post_only(db, make_container):
    make_container(on_emulator=False, admin_api_key="s3cret" * 6)
    status, _ = call(main.scheduleDailyRollup, "POST", json_body={"date": "2025-03-03"})
    assert status == 403
    assert call(main.scheduleDailyRollup, "GET")[0] == 405
    status, answer = call(
        main.scheduleDailyRollup,
        "POST",
        json_body={"date": "2025-03-03"},
        headers={"Authorization": "Bearer " + "s3cret" * 6},
    )
    assert status == 200, answer
    assert answer["rollup"]["date"] == "2025-03-03" and answer["rollup"]["settled"] is True
