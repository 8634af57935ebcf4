"""Benchmarks against the running emulator suite (`make bench` starts it with model latency 0).

Prints the image renderer's time per size and the upload time to the Storage emulator,
createGenerationRequest acceptance latency (p50/p95) at concurrency 1 and 8, the same
for the trivial `health` function (the floor the emulator imposes), and the wall time for a
batch of 200 requests to reach a terminal state through Cloud Tasks and the worker: three
rounds, each started with nothing in flight, and their median. Then, per measured function, its
cold import beside the floor (`--cold-imports-only` prints just those lines):

    cold_import function=<name> ms=<median of 5> floor_ms=<median of 5> ratio=<ms/floor_ms>
    first_call_builds function=<name> models=<n> ms=<median of 5>

The models' validators are built on first use (core/models.py), during the call rather than the
imports, so each function's are timed apart on the second line (by building them again).

A cold import is the import time of a fresh Python process (`python -X importtime`: the sum of
its top-level cumulative times, so network time is excluded but every import is counted,
including the ones first done while serving) that imports main.py and serves one call of the
function through its entry point (a Flask test request; the worker's call is a task for a
queued request made for it), in the environment the Functions emulator gives our functions
(functions/.env*, .secret.local and its own variables). The floor is a fresh process importing
`firebase_functions.https_fn` and `google.cloud.firestore` alone (and the Flask test request the
harness uses), measured the same way. Our source is byte-compiled first, as pip compiled the
floor's packages (scripts/stack/emulators.py does it for every run of the stack).

Each client thread acts for its own user: the Functions emulator serves concurrent calls from
separate processes, and the Firestore emulator resolves cross-process transactions on one
document only by a lock timeout (docs/architecture.md, "Emulator workarounds"), which would
measure the emulator, not us.
"""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests
from google.cloud import firestore
from google.cloud.firestore import FieldFilter

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "functions"))
from core.firestore_client import DEFAULT_PROJECT, build_firestore_client
from emulator.storage import emulator_images
from schemas.documents import GenerationRecord, GenerationStatus
from services.image_renderer import ImageSpec, render_png
from services.seeding.reference_data import STYLES

FUNCTIONS = Path(__file__).resolve().parents[2] / "functions"
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


# --- cold imports ---------------------------------------------------------------------------
COLD_IMPORT_RUNS = 5
COLD_USER = "cold_import_user"
# One fresh process: the floor (call None) or main.py serving one call through its entry point.
SERVE_ONE_CALL = """
import json, sys
call = json.loads(sys.argv[1])
if call is None:
    from firebase_functions import https_fn
    from google.cloud import firestore
    from flask import Flask
    with Flask("cold_import").test_request_context("/"):  # the harness, as below
        pass
else:
    import main
    from flask import Flask, request
    with Flask("cold_import").test_request_context(
        call["path"], method=call["method"], json=call["json"], query_string=call["query"]
    ):
        response = getattr(main, call["function"])(request)
    print("cold_import_answer", response.status_code, response.get_data(as_text=True))
    # The validators this call built on first use (defer_build): not import time, so timed
    # apart, by building them again (no import here: `health` loads no model).
    import time
    def subclasses(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from subclasses(sub)
    models = sys.modules.get("core.models")
    built = [m for m in subclasses(models.Model) if m.__pydantic_complete__] if models else []
    start = time.perf_counter()
    for model in built:
        model.model_rebuild(force=True)
    print("cold_import_builds", len(built), (time.perf_counter() - start) * 1000)
"""
_IMPORT_LINE = re.compile(r"^import time:\s+\d+ \|\s+(\d+) \| (\s*)\S")


def env_file(path: Path) -> dict[str, str]:
    """A functions/.env* or .secret.local file as the emulator reads it (comments dropped)."""
    values = {}
    for line in path.read_text().splitlines() if path.exists() else []:
        name, sep, value = line.strip().partition("=")
        if not sep or name.startswith("#"):
            continue
        value = value.strip()
        if value[:1] in ("'", '"'):
            value = value[1 : value.index(value[0], 1)]
        else:
            value = value.split(" #")[0].strip()
        values[name.strip()] = value
    return values


def function_environment(function: str) -> dict[str, str]:
    """What the Functions emulator gives `function`'s process (firebase-tools'
    functionsEmulator.js): our environment (emulators:exec already set the emulators' hosts,
    as the emulator does), the user env files, every .secret.local value and its own variables."""
    project = os.environ.get("GCLOUD_PROJECT") or DEFAULT_PROJECT
    env = dict(os.environ)
    for name in (".env", f".env.{project}", ".env.local", ".secret.local"):
        env |= env_file(FUNCTIONS / name)
    return env | {
        "GCLOUD_PROJECT": project,
        "GOOGLE_CLOUD_QUOTA_PROJECT": project,
        "K_REVISION": "1",
        "PORT": "80",
        "FUNCTION_TARGET": function,
        "K_SERVICE": function,
        "FUNCTION_SIGNATURE_TYPE": "http",
        "FUNCTIONS_EMULATOR": "true",
        "TZ": "UTC",
        "FIREBASE_DEBUG_MODE": "true",
        "FIREBASE_DEBUG_FEATURES": json.dumps({"skipTokenVerification": True, "enableCors": True}),
        "FIREBASE_CONFIG": json.dumps(
            {"storageBucket": f"{project}.appspot.com", "projectId": project}
        ),
    }


def import_ms(call: dict[str, Any] | None) -> tuple[float, tuple[int, float]]:
    """One fresh process's import time (ms), and how many validators its call built on first
    use and in how many ms; exits when its call was not served as expected."""
    function = call["function"] if call else "floor"
    request = {k: v for k, v in call.items() if k != "expect"} if call else None
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", SERVE_ONE_CALL, json.dumps(request)],
        cwd=FUNCTIONS,
        env=function_environment(function),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if call is not None:
        answer = next(
            (line for line in done.stdout.splitlines() if line.startswith("cold_import_answer")),
            "",
        )
        if not answer or not call["expect"](answer):
            sys.exit(f"bench: {function} was not served: {answer or done.stderr[-2000:]}")
    elif done.returncode != 0:
        sys.exit(f"bench: the floor failed: {done.stderr[-2000:]}")
    top_level = (_IMPORT_LINE.match(line) for line in done.stderr.splitlines())
    reported = (line.split() for line in done.stdout.splitlines())
    builds = next((w[1:] for w in reported if w[:1] == ["cold_import_builds"]), ["0", "0"])
    imports = sum(int(m[1]) for m in top_level if m and not m[2]) / 1000
    return imports, (int(builds[0]), float(builds[1]))


def queued_request(db: firestore.Client) -> str:
    """A queued request of COLD_USER's, as a create leaves it (its task is never enqueued):
    the worker's call runs its whole path (claim, render, upload, settle)."""
    now = datetime.now(UTC)
    record = GenerationRecord(
        id=f"cold-import-{time.time_ns()}",
        user_id=COLD_USER,
        model="Model A",
        style="realistic",
        color="vibrant",
        size="512x512",
        status=GenerationStatus.QUEUED,
        created_at=now,
        prompt="cold import",
        credits_deducted=1,
        updated_at=now,
    )
    db.collection("users").document(COLD_USER).update({"in_flight": firestore.Increment(1)})
    db.collection("generation_requests").document(record.id).set(record.document())
    return record.id


def settle_cold_user(db: firestore.Client, timeout: float = 60) -> None:
    """Wait until none of COLD_USER's requests is in flight."""
    in_flight = (
        db.collection("generation_requests")
        .where(filter=FieldFilter("user_id", "==", COLD_USER))
        .where(filter=FieldFilter("status", "in", ["queued", "processing"]))
        .count()
    )
    deadline = time.monotonic() + timeout
    while int(in_flight.get()[0][0].value):
        if time.monotonic() > deadline:
            sys.exit(f"bench: {COLD_USER}'s requests were not terminal after {timeout:.0f} s")
        time.sleep(0.1)


def served(status: int, *results: str) -> Callable[[str], bool]:
    def check(answer: str) -> bool:
        code, _, body = answer.removeprefix("cold_import_answer ").partition(" ")
        return int(code) == status and (not results or any(r in body for r in results))

    return check


def cold_imports(db: firestore.Client) -> None:
    """Print a `cold_import` line per measured function (module docstring)."""
    db.collection("users").document(COLD_USER).set(
        {
            "name": "Cold import",
            "email": "cold@example.com",
            "current_credits": 10_000,
            "initial_credits": 10_000,
            "total_images_generated": 0,
            "is_active": True,
            "created_at": datetime.now(UTC),
        }
    )

    def call(function: str, method: str = "GET", **extra: Any) -> dict[str, Any]:
        base = {"function": function, "path": f"/{function}", "method": method, "json": None}
        return base | {"query": None, "expect": served(200)} | extra

    calls: dict[str, Callable[[], dict[str, Any]]] = {
        "health": lambda: call("health"),
        "getUserCredits": lambda: call("getUserCredits", query={"userId": COLD_USER}),
        "createGenerationRequest": lambda: call(
            "createGenerationRequest",
            "POST",
            json=BODY | {"userId": COLD_USER},
            expect=served(202),
        ),
        # A task as Cloud Tasks delivers it; "skipped" would mean the worker never ran.
        "processImageGeneration": lambda: call(
            "processImageGeneration",
            "POST",
            json={"data": {"generationRequestId": queued_request(db)}},
            expect=served(200, '"completed"', '"failed"'),
        ),
    }
    floor: list[float] = []
    times: dict[str, list[float]] = {name: [] for name in calls}
    builds: dict[str, list[tuple[int, float]]] = {name: [] for name in calls}
    for _ in range(COLD_IMPORT_RUNS):  # interleaved, so that a busy moment hits every row
        floor.append(import_ms(None)[0])
        for name, make in calls.items():
            ms, built = import_ms(make())
            times[name].append(ms)
            builds[name].append(built)
            settle_cold_user(db)  # the emulator's worker runs a create's task: not beside us
    floor_ms = statistics.median(floor)
    for name, values in times.items():
        ms = statistics.median(values)
        print(
            f"cold_import function={name} ms={ms:.0f} floor_ms={floor_ms:.0f} "
            f"ratio={ms / floor_ms:.2f}"
        )
    for name, built in builds.items():  # first-use work the lines above do not count
        print(
            f"first_call_builds function={name} models={max(n for n, _ in built)} "
            f"ms={statistics.median(ms for _, ms in built):.1f}"
        )


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
        f"{create_p50 / floor:.2f}x (goal <= 2.5x)"
    )

    # The latency rows' requests are drained first: each round measures its own 200 only.
    submitted = wait_terminal(db, 5 + 2 * REQUESTS)
    print()
    cold_imports(db)
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
    if sys.argv[1:] == ["--cold-imports-only"]:
        client = build_firestore_client()
        prepare(client)
        cold_imports(client)
    else:
        main()
