"""Weekly report and daily rollup benchmark against the Firestore emulator (`make bench`).

Runs inside `firebase emulators:exec --only firestore`. For each size (20,000, then 200,000
generation requests) it wipes the emulator and loads (untimed, batched commits from threads) a
generated dataset: the requests of USERS users spread evenly over the last complete ISO week and
the 4 baseline weeks before it, each with its deduction and, when failed, its refund. Then it
times `ReportService.run` and counts the documents read, one line per measurement:

    report source=rollups-cold ...  the first report, no rollups stored (computes all 35 days)
    report source=rollups ...       the same report again, every rollup stored
    report source=scan ...          the report streaming the source collections
    rollup day ...                  one day's rollup (largest size only): the report week's
                                    busiest day, recomputed and stored

Reads are counted at the Firestore client's RPCs, as billed: every document a batched get
returns (found or missing), every document a query returns, and 1 for a query that returns none.

Usage: make bench   (or inside emulators:exec: python scripts/perf/bench_report.py [--sizes N ...])
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import requests
from google.cloud import firestore

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "functions"))
from core.clock import SystemClock
from core.config import MODELS
from core.firestore_client import build_firestore_client, project_id
from core.settings import AnomalyThresholds
from repositories.reports import ReportRepository
from services.report_service import ReportService
from services.reports.window import WEEK, last_complete_week
from services.seeding import reference_data

SIZES = (20_000, 200_000)
USERS = 200
NEW_USERS = 12  # created inside the report week (exercises users_created)
FAILURE_RATE = {"Model A": 0.04, "Model B": 0.08}
SEED = 42
BATCH = 500  # writes per commit (Firestore's limit)
LOADERS = 6  # committing threads
IN_FLIGHT = 12  # batches built but not yet committed


# --- loading (not timed) ---------------------------------------------------------------------


def wipe() -> None:
    host = os.environ["FIRESTORE_EMULATOR_HOST"]
    url = f"http://{host}/emulator/v1/projects/{project_id()}/databases/(default)/documents"
    requests.delete(url, timeout=300).raise_for_status()


class Loader:
    """Batched commits of BATCH writes from LOADERS threads, at most IN_FLIGHT batches queued."""

    def __init__(self, db: firestore.Client) -> None:
        self._db = db
        self._pool = ThreadPoolExecutor(LOADERS)
        self._slots = threading.BoundedSemaphore(IN_FLIGHT)
        self._futures: list[Future[Any]] = []
        self._batch = db.batch()
        self._writes = 0

    def set(self, ref: firestore.DocumentReference, data: dict[str, Any]) -> None:
        self._batch.set(ref, data)
        self._writes += 1
        if self._writes == BATCH:
            self._submit()

    def _submit(self) -> None:
        batch, self._batch, self._writes = self._batch, self._db.batch(), 0
        self._slots.acquire()

        def commit() -> None:
            try:
                batch.commit()
            finally:
                self._slots.release()

        self._futures.append(self._pool.submit(commit))
        pending = []
        for future in self._futures:
            if not future.done():
                pending.append(future)
            else:
                future.result()  # re-raise a failed commit early
        self._futures = pending

    def close(self) -> None:
        if self._writes:
            self._submit()
        self._pool.shutdown(wait=True)
        for future in self._futures:
            future.result()  # re-raise a failed commit


def load(total: int, users: int, report_start: datetime) -> tuple[Counter[str], Counter[date]]:
    """Write users, requests and ledgers; documents are generated as they are written. Returns
    the counts per collection and the requests per UTC day."""
    rng = random.Random(SEED)
    span_start = report_start - 4 * WEEK
    span = (report_start + WEEK) - span_start
    db = build_firestore_client()
    loader = Loader(db)
    costs = {s["id"]: s["credit_cost"] for s in reference_data.SIZES}
    user_ids = [f"bench_user_{n:03d}" for n in range(users)]
    counts: Counter[str] = Counter()
    per_day: Counter[date] = Counter()
    for n, user_id in enumerate(user_ids):
        created = (
            report_start + timedelta(days=n % 7, hours=9)
            if n < NEW_USERS
            else span_start - timedelta(days=30)
        )
        loader.set(
            db.collection("users").document(user_id),
            {
                "name": user_id,
                "email": f"{user_id}@example.com",
                "current_credits": 100_000,
                "initial_credits": 100_000,
                "total_images_generated": 0,
                "is_active": True,
                "created_at": created,
                "updated_at": created,
            },
        )
        counts["users"] += 1
    for n in range(total):
        request_id = f"bench_{n:06d}"
        user_id = rng.choice(user_ids)
        model = rng.choice(MODELS)
        size = rng.choice(list(costs))
        created = span_start + span * ((n + rng.random()) / total)
        failed = rng.random() < FAILURE_RATE[model]
        finished = created + timedelta(seconds=rng.uniform(1, 5))
        loader.set(
            db.collection("generation_requests").document(request_id),
            {
                "user_id": user_id,
                "model": model,
                "style": rng.choice(reference_data.STYLES)["id"],
                "color": rng.choice(reference_data.COLORS)["id"],
                "size": size,
                "prompt": "benchmark",
                "status": "failed" if failed else "completed",
                "credits_deducted": costs[size],
                "attempts": 1,
                "created_at": created,
                "updated_at": finished,
                "completed_at": finished,
            },
        )
        counts["generation_requests"] += 1
        per_day[created.date()] += 1
        ledger = db.collection("users").document(user_id).collection("transactions")
        entries = [("deduction", created)] + ([("refund", finished)] if failed else [])
        for kind, moment in entries:
            loader.set(
                ledger.document(f"{kind}_{request_id}"),
                {
                    "type": kind,
                    "credits": costs[size],
                    "generation_request_id": request_id,
                    "user_id": user_id,
                    "timestamp": moment,
                    "description": f"bench {kind}",
                },
            )
            counts["transactions"] += 1
    loader.close()
    return counts, per_day


# --- measuring -------------------------------------------------------------------------------


class CountingApi:
    """The client's GAPIC Firestore API with the documents it reads counted as billed."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.reads = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def batch_get_documents(self, *args: Any, **kwargs: Any) -> Iterator[Any]:
        for response in self._inner.batch_get_documents(*args, **kwargs):
            self.reads += 1  # `found` or `missing`: a read either way
            yield response

    def run_query(self, *args: Any, **kwargs: Any) -> Iterator[Any]:
        documents = 0
        try:
            for response in self._inner.run_query(*args, **kwargs):
                if "document" in response:
                    documents += 1
                yield response
        finally:
            self.reads += max(documents, 1)  # a query that returns nothing bills one read


def counted_client() -> tuple[firestore.Client, CountingApi]:
    db = build_firestore_client()
    api = CountingApi(db._firestore_api)  # creates the channel
    db._firestore_api_internal = api
    db.collection("users").limit(1).get()  # open the channel outside the timed runs
    return db, api


def timed(api: CountingApi, run: Callable[[], object]) -> tuple[float, int]:
    before = api.reads
    started = time.perf_counter()
    run()
    return time.perf_counter() - started, api.reads - before


def measure(size: int, week_start: date, rollup_day: date | None) -> None:
    db, api = counted_client()
    service = ReportService(ReportRepository(db), SystemClock(), AnomalyThresholds())
    runs: list[tuple[str, Callable[[], object]]] = [
        ("report source=rollups-cold", lambda: service.run(week_start, source="rollups")),
        ("report source=rollups", lambda: service.run(week_start, source="rollups")),
        ("report source=scan", lambda: service.run(week_start, source="scan")),
    ]
    if rollup_day is not None:
        runs.append(("rollup day", lambda: service.rollup_day(rollup_day)))
    for label, run in runs:
        seconds, reads = timed(api, run)
        print(f"{label} requests={size} seconds={seconds:.2f} reads={reads}", flush=True)


# --- driver ----------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    parser.add_argument("--users", type=int, default=USERS)
    args = parser.parse_args()
    if not os.environ.get("FIRESTORE_EMULATOR_HOST"):
        sys.exit("bench_report: run inside `firebase emulators:exec --only firestore`")

    bench_started = time.perf_counter()
    window = last_complete_week(datetime.now(UTC))
    report_days = {window.start.date() + timedelta(days=n) for n in range(7)}
    for size in args.sizes:
        wipe()
        started = time.perf_counter()
        counts, per_day = load(size, args.users, window.start)
        print(
            f"# loaded {', '.join(f'{k} {v}' for k, v in counts.items())} "
            f"in {time.perf_counter() - started:.1f} s (not timed)",
            flush=True,
        )
        busiest = None
        if size == max(args.sizes):
            busiest = max(sorted(report_days), key=lambda d: per_day[d])
            print(
                f"# rollup day: {busiest.isoformat()}, the report week's busiest day "
                f"({per_day[busiest]} requests)",
                flush=True,
            )
        measure(size, window.start.date(), busiest)
    print(
        f"# bench_report total {time.perf_counter() - bench_started:.0f} s; load average "
        f"{' '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs"
    )


if __name__ == "__main__":
    main()
