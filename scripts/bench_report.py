"""Weekly report benchmark against the Firestore emulator (`make bench-report`).

Runs inside `firebase emulators:exec --only firestore`. Loads (untimed, with a BulkWriter) a
generated dataset: REQUESTS generation requests from USERS users spread evenly over the last
complete ISO week and the 4 baseline weeks before it, each with its deduction and, when failed,
its refund. Then a fresh child process runs ONE `ReportService.run(week_start=...)` in-process
and reports its wall time, peak memory (ru_maxrss growth during the run) and the number of
documents the report streamed; a second run under tracemalloc gives the peak of Python
allocations. The child keeps the loader's memory out of the measurements.

Usage: make bench-report   (or inside emulators:exec: python scripts/bench_report.py [--requests N])
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import time
import tracemalloc
from collections import Counter
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import requests
from google.cloud.firestore_v1.bulk_writer import BulkWriterOptions

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "functions"))
from core.clock import SystemClock
from core.config import MODELS, AnomalyThresholds
from core.firestore_client import build_firestore_client, project_id
from repositories.reports import ReportRepository
from schemas.documents import RequestRecord, TransactionRecord, UserRecord
from schemas.report import WeeklyReport
from services.report_service import ReportService
from services.reports.window import WEEK, last_complete_week
from services.seeding import reference_data

REQUESTS = 20_000
USERS = 200
NEW_USERS = 12  # created inside the report week (exercises users_created)
FAILURE_RATE = {"Model A": 0.04, "Model B": 0.08}
SEED = 42
FLUSH_EVERY = 1_000  # requests
T = TypeVar("T")


# --- loading (not timed) ---------------------------------------------------------------------


def wipe() -> None:
    host = os.environ["FIRESTORE_EMULATOR_HOST"]
    url = f"http://{host}/emulator/v1/projects/{project_id()}/databases/(default)/documents"
    requests.delete(url, timeout=120).raise_for_status()


def load(total: int, users: int, report_start: datetime) -> dict[str, int]:
    """Write users, requests and ledgers; documents are generated as they are written."""
    rng = random.Random(SEED)
    span_start = report_start - 4 * WEEK
    span = (report_start + WEEK) - span_start
    db = build_firestore_client()
    writer = db.bulk_writer(
        options=BulkWriterOptions(initial_ops_per_second=20_000, max_ops_per_second=20_000)
    )
    costs = {s["id"]: s["credit_cost"] for s in reference_data.SIZES}
    user_ids = [f"bench_user_{n:03d}" for n in range(users)]
    counts: Counter[str] = Counter()
    for n, user_id in enumerate(user_ids):
        created = (
            report_start + timedelta(days=n % 7, hours=9)
            if n < NEW_USERS
            else span_start - timedelta(days=30)
        )
        writer.set(
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
        writer.set(
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
        if n % FLUSH_EVERY == FLUSH_EVERY - 1:
            writer.flush()  # the writer buffers without bound when the emulator lags
        ledger = db.collection("users").document(user_id).collection("transactions")
        entries = [("deduction", created)] + ([("refund", finished)] if failed else [])
        for kind, moment in entries:
            writer.set(
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
    writer.close()
    return dict(counts)


# --- measuring (child process) ---------------------------------------------------------------


class CountingStore:
    """ReportRepository with its three source streams counted as they are consumed."""

    def __init__(self, inner: ReportRepository) -> None:
        self._inner = inner
        self.read: Counter[str] = Counter()
        self.seconds: dict[str, float] = {}  # first request to last record, per stream

    def _count(self, name: str, records: Iterable[T]) -> Iterator[T]:
        started = time.perf_counter()
        for record in records:
            self.read[name] += 1
            yield record
        self.seconds[name] = time.perf_counter() - started

    def requests_created(self, start: datetime, end: datetime) -> Iterator[RequestRecord]:
        return self._count("generation_requests", self._inner.requests_created(start, end))

    def transactions_booked(self, start: datetime, end: datetime) -> Iterator[TransactionRecord]:
        return self._count("transactions", self._inner.transactions_booked(start, end))

    def users_created(self, start: datetime, end: datetime) -> Iterator[UserRecord]:
        return self._count("users", self._inner.users_created(start, end))

    def save(self, report: WeeklyReport) -> None:
        self._inner.save(report)

    def get(self, report_id: str) -> dict[str, Any] | None:
        return self._inner.get(report_id)

    def latest(self) -> dict[str, Any] | None:
        return self._inner.latest()

    def list_summaries(self, limit: int) -> list[dict[str, Any]]:
        return self._inner.list_summaries(limit)


def rss_kib(field: str) -> int:
    """VmRSS (now) or VmHWM (peak since the last reset) from /proc/self/status."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def reset_peak_rss() -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0); ru_maxrss cannot be reset."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def measure(week_start: date) -> dict[str, Any]:
    db = build_firestore_client()
    db.collection("users").limit(1).get()  # open the channel outside the timed run
    store = CountingStore(ReportRepository(db))
    service = ReportService(store, SystemClock(), AnomalyThresholds())

    peak_reset = reset_peak_rss()
    rss_before = rss_kib("VmRSS")
    maxrss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    started = time.perf_counter()
    run = service.run(week_start=week_start)
    seconds = time.perf_counter() - started
    peak = rss_kib("VmHWM") if peak_reset else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    read, stream_seconds = dict(store.read), dict(store.seconds)

    tracemalloc.start()
    started = time.perf_counter()
    service.run(week_start=week_start)
    traced_seconds = time.perf_counter() - started
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {
        "seconds": seconds,
        "stream_seconds": stream_seconds,
        "documents_read": read,
        "rss_before_kib": rss_before,
        "maxrss_before_kib": maxrss_before,
        "rss_peak_kib": peak,
        "tracemalloc_peak_bytes": traced_peak,
        "traced_run_seconds": traced_seconds,
        "report_id": run.report.id,
        "report_requests": run.summary.total_requests,
        "anomalies": run.anomaly_summary.total_anomalies,
    }


# --- driver ----------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=REQUESTS)
    parser.add_argument("--users", type=int, default=USERS)
    parser.add_argument("--measure", metavar="WEEK_START", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not os.environ.get("FIRESTORE_EMULATOR_HOST"):
        sys.exit("bench_report: run inside `firebase emulators:exec --only firestore`")
    if args.measure:
        print(json.dumps(measure(date.fromisoformat(args.measure))))
        return

    window = last_complete_week(datetime.now(UTC))
    wipe()
    started = time.perf_counter()
    loaded = load(args.requests, args.users, window.start)
    load_seconds = time.perf_counter() - started
    print(
        f"loaded {', '.join(f'{k} {v}' for k, v in loaded.items())} "
        f"in {load_seconds:.1f} s (not timed below)"
    )
    child = subprocess.run(
        [sys.executable, __file__, "--measure", window.start.date().isoformat()],
        capture_output=True,
        text=True,
        check=False,
    )
    if child.returncode != 0:
        sys.exit(f"bench_report: measuring run failed:\n{child.stderr}")
    result = json.loads(child.stdout.strip().splitlines()[-1])
    read = result["documents_read"]
    print(
        f"\nReport {result['report_id']} over {result['report_requests']} requests in the week "
        f"({result['anomalies']} anomalies), history span 5 weeks\n"
        f"  wall time (one run)      {result['seconds']:.2f} s "
        f"({', '.join(f'{k} {v:.2f} s' for k, v in result['stream_seconds'].items())})\n"
        f"  documents read           {sum(read.values())} "
        f"({', '.join(f'{k} {v}' for k, v in read.items())})\n"
        f"  RSS during the run       {result['rss_before_kib'] / 1024:.1f} MiB before, "
        f"{result['rss_peak_kib'] / 1024:.1f} MiB peak "
        f"(+{(result['rss_peak_kib'] - result['rss_before_kib']) / 1024:.1f} MiB; "
        f"ru_maxrss before {result['maxrss_before_kib'] / 1024:.1f} MiB)\n"
        f"  tracemalloc peak         {result['tracemalloc_peak_bytes'] / 1024 / 1024:.2f} MiB "
        f"(second run, traced: {result['traced_run_seconds']:.2f} s)\n"
        f"  load average             {' '.join(f'{x:.1f}' for x in os.getloadavg())} "
        f"on {os.cpu_count()} CPUs"
    )


if __name__ == "__main__":
    main()
