"""Benchmarks against the running emulator suite (`make bench` starts it with model latency 0).

Prints the image renderer's time per size and the upload time to the Storage emulator,
createGenerationRequest acceptance latency (p50/p95) at concurrency 1 and 8, the same
for the trivial `health` function (the floor the emulator imposes), and the wall time for a
batch of 200 requests to reach a terminal state through Cloud Tasks and the worker: three
rounds, each started with nothing in flight, and their median.

Each client thread acts for its own user: the Functions emulator serves concurrent calls from
separate processes, and the Firestore emulator resolves cross-process transactions on one
document only by a lock timeout (docs/architecture.md, "Emulator workarounds"), which would
measure the emulator, not us.
"""

from __future__ import annotations

import os
import statistics
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import requests
from google.cloud.firestore import FieldFilter

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "functions"))
from core.firestore_client import build_firestore_client
from emulator.storage import emulator_images
from services.image_renderer import ImageSpec, render_png
from services.seeding.reference_data import STYLES

BASE = "http://127.0.0.1:5551/feraset-imagen/us-central1"
REQUESTS = 200
CLIENTS = 8
BODY = {
    "model": "Model A",
    "style": "realistic",
    "color": "vibrant",
    "size": "512x512",
    "prompt": "benchmark",
}
_local = threading.local()


_next_client = iter(range(1_000_000))
_client_lock = threading.Lock()


def session() -> requests.Session:
    if not hasattr(_local, "session"):
        _local.session = requests.Session()
        with _client_lock:
            _local.user_id = f"bench_user_{next(_next_client) % CLIENTS}"
    return _local.session


def timed(call: Callable[[], requests.Response], expected: int) -> float:
    start = time.perf_counter()
    response = call()
    elapsed = time.perf_counter() - start
    if response.status_code != expected:
        raise RuntimeError(f"unexpected {response.status_code}: {response.text[:200]}")
    return elapsed * 1000


def run(call: Callable[[], requests.Response], expected: int, concurrency: int) -> list[float]:
    with ThreadPoolExecutor(concurrency) as pool:
        return list(pool.map(lambda _: timed(call, expected), range(REQUESTS)))


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def function_workers() -> int:
    """The Functions emulator's Python workers: it starts one per call it serves concurrently.

    Each is a shell running functions-framework, which runs gunicorn's master and worker; a
    process counts when its command line names functions-framework and its parent's does not.
    """
    named: dict[str, str] = {}  # pid -> parent pid, of the processes naming functions-framework
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if b"functions-framework" in Path(f"/proc/{pid}/cmdline").read_bytes():
                stat = Path(f"/proc/{pid}/stat").read_text()
                named[pid] = stat[stat.rindex(")") + 2 :].split()[1]
        except OSError:
            continue
    return sum(1 for parent in named.values() if parent not in named)


def health() -> requests.Response:
    return session().get(f"{BASE}/health", timeout=60)


def validate_user() -> requests.Response:
    """One Firestore read: the floor for a create, which reads the user once (in its
    transaction) and the catalog from the instance's cache."""
    http = session()
    return http.get(f"{BASE}/validate_user", params={"userId": _local.user_id}, timeout=60)


def create() -> requests.Response:
    http = session()
    body = BODY | {"userId": _local.user_id}
    return http.post(f"{BASE}/createGenerationRequest", json=body, timeout=60)


def prepare(db) -> None:
    requests.post(f"{BASE}/seed_database", json={}, timeout=120).raise_for_status()
    for n in range(CLIENTS):
        db.collection("users").document(f"bench_user_{n}").set(
            {
                "name": f"Bench {n}",
                "email": f"bench{n}@example.com",
                "current_credits": 10_000,
                "initial_credits": 10_000,
                "total_images_generated": 0,
                "is_active": True,
                "created_at": datetime.now(UTC),
            }
        )


def wait_terminal(db, expected: int, timeout: float = 600) -> int:
    """Wait until `expected` of the bench users' requests are terminal; their number.

    Counts with an aggregation query, so each poll costs the emulators one small answer
    instead of every request document (the polls run during the measured window).
    """
    query = (
        db.collection("generation_requests")
        .where(filter=FieldFilter("user_id", "in", [f"bench_user_{n}" for n in range(CLIENTS)]))
        .where(filter=FieldFilter("status", "in", ["completed", "failed"]))
        .count()
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = int(query.get()[0][0].value)
        if done >= expected:
            return done
        time.sleep(0.25)
    sys.exit(f"bench: {expected} requests were not terminal after {timeout:.0f} s")


END_TO_END_ROUNDS = 3
IMAGE_RUNS = 24  # per size: four of each style


def bench_images() -> None:
    """Render p50 per size (in this process) and upload p50 to the Storage emulator."""
    print(f"\n{'image':<26}{'runs':>12}{'p50 ms':>10}{'p95 ms':>10}{'KiB':>8}")
    images = emulator_images()
    for width, height in ((512, 512), (1024, 1024), (1024, 1792)):
        render_ms, upload_ms, sizes = [], [], []
        for n in range(IMAGE_RUNS):
            style = STYLES[n % len(STYLES)]["id"]
            model = ("Model A", "Model B")[n % 2]
            spec = ImageSpec(f"bench-{n}", model, style, "vibrant", f"bench {n}", width, height)
            start = time.perf_counter()
            png = render_png(spec)
            render_ms.append((time.perf_counter() - start) * 1000)
            sizes.append(len(png) / 1024)
            start = time.perf_counter()
            images.save(f"generated/bench/{width}x{height}-{n}.png", png, "bench-token")
            upload_ms.append((time.perf_counter() - start) * 1000)
        kib = statistics.median(sizes)
        for what, values in (("render", render_ms), ("upload", upload_ms)):
            p50, p95 = percentile(values, 50), percentile(values, 95)
            label = f"{what} {width}x{height}"
            print(f"{label:<26}{IMAGE_RUNS:>12}{p50:>10.1f}{p95:>10.1f}{kib:>8.0f}")


def main() -> None:
    bench_images()
    db = build_firestore_client()
    prepare(db)
    for _ in range(5):  # warm the functions (cold start is not what we measure)
        health()
        validate_user()
        create()
    wait_terminal(db, 5)
    rows = []
    for concurrency in (1, CLIENTS):
        for name, call, expected in (
            ("health", health, 200),
            ("validate_user", validate_user, 200),
            ("createGenerationRequest", create, 202),
        ):
            latencies = run(call, expected, concurrency)
            rows.append(
                (
                    name,
                    concurrency,
                    percentile(latencies, 50),
                    percentile(latencies, 95),
                )
            )

    print(f"\n{'function':<26}{'concurrency':>12}{'p50 ms':>10}{'p95 ms':>10}")
    for name, concurrency, p50, p95 in rows:
        print(f"{name:<26}{concurrency:>12}{p50:>10.1f}{p95:>10.1f}")
    floor = next(p50 for name, c, p50, _ in rows if name == "validate_user" and c == 1)
    create_p50 = next(
        p50 for name, c, p50, _ in rows if name == "createGenerationRequest" and c == 1
    )
    print(
        f"\ncreateGenerationRequest p50 / validate_user p50 (one read) at concurrency 1: "
        f"{create_p50 / floor:.2f}x (target <= 2x)"
    )

    # The latency rows' requests are drained first: each round measures its own 200 only.
    submitted = wait_terminal(db, 5 + 2 * REQUESTS)
    print()
    totals = []
    for round_number in range(1, END_TO_END_ROUNDS + 1):
        workers = function_workers()
        start = time.perf_counter()
        with ThreadPoolExecutor(CLIENTS) as pool:
            list(pool.map(lambda _: timed(create, 202), range(REQUESTS)))
        accepted = time.perf_counter() - start
        submitted = wait_terminal(db, submitted + REQUESTS)
        totals.append(time.perf_counter() - start)
        print(
            f"{REQUESTS} requests (concurrency 8), round {round_number}: accepted in "
            f"{accepted:.1f} s, all terminal after {totals[-1]:.1f} s "
            f"(function workers {workers} -> {function_workers()})"
        )
    print(
        f"{REQUESTS} requests (concurrency 8): all terminal after "
        f"{statistics.median(totals):.1f} s (median of {END_TO_END_ROUNDS} rounds)"
    )


if __name__ == "__main__":
    main()
