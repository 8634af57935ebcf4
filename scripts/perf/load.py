"""Load test against the running emulator suite (`make load` starts it with the `load` profile).

16 clients for 60 s (and at most MAX_REQUESTS requests) spend the 13 seeded users' credits
through the Functions emulator: mostly createGenerationRequest, plus the status and credit
reads a client makes. Model latency is 0 and 20 % of generations fail (and are refunded).
Afterwards every accepted request must reach a terminal state, no answer may be a 5xx, and the
ledger invariant (see docs/architecture.md) must hold for every user. 402 (out of credits) is a
legitimate answer and is counted on its own. Loopback only.
"""

from __future__ import annotations

import os
import random
import statistics
import sys
import threading
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "functions"))
from core.firestore_client import build_firestore_client
from tests.support.ledger import ledger_violations

BASE = os.environ.get("FUNCTIONS_BASE_URL", "http://127.0.0.1:5551/feraset-imagen/us-central1")
CLIENTS = 16
DURATION_SECONDS = 60.0
MAX_REQUESTS = 50_000
SETTLE_TIMEOUT_SECONDS = 300.0
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
RESET_RETRIES = 3
USERS = [
    "arda",
    "havanur",
    "alex_designer",
    "sarah_artist",
    "mike_creative",
    "emma_photo",
    "david_dev",
    "lisa_marketing",
    "bot_spammer",
    "new_enterprise",
    "promo_user1",
    "promo_user2",
    "viral_marketer",
]
STYLES = ["realistic", "anime", "oil_painting", "sketch", "cyberpunk", "watercolor"]
COLORS = ["vibrant", "monochrome", "pastel", "neon", "vintage"]
SIZES = ["512x512", "1024x1024", "1024x1792"]
TERMINAL = {"completed", "failed"}


@dataclass
class Results:
    """Shared by the client threads; every update holds the lock."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    statuses: dict[str, Counter[int]] = field(default_factory=lambda: defaultdict(Counter))
    accepted: list[str] = field(default_factory=list)
    server_errors: list[str] = field(default_factory=list)
    sent: int = 0

    emulator_resets: int = 0

    def note_reset(self) -> None:
        with self.lock:
            self.emulator_resets += 1

    def claim(self) -> bool:
        with self.lock:
            if self.sent >= MAX_REQUESTS:
                return False
            self.sent += 1
            return True

    def record(self, function: str, response: requests.Response, elapsed_ms: float) -> None:
        with self.lock:
            self.latencies[function].append(elapsed_ms)
            self.statuses[function][response.status_code] += 1
            if response.status_code >= 500:
                self.server_errors.append(
                    f"{function} {response.status_code} {response.text[:200]}"
                )
            elif function == "createGenerationRequest" and response.status_code == 202:
                self.accepted.append(response.json()["generationRequestId"])


def is_emulator_reset(response: requests.Response) -> bool:
    """The Functions emulator's own 500 when a worker socket hangs up mid-request."""
    return response.status_code == 500 and response.text.startswith('{"code":"ECONNRESET"')


def require_loopback() -> None:
    hosts = {urlparse(BASE).hostname}
    hosts.add(os.environ.get("FIRESTORE_EMULATOR_HOST", "").rpartition(":")[0])
    if not hosts <= LOOPBACK:
        sys.exit(f"refusing to load anything but the local emulators: {sorted(map(str, hosts))}")


def client(results: Results, deadline: float, seed: int) -> None:
    rng = random.Random(seed)
    session = requests.Session()
    mine: list[str] = []

    def timed(function: str, method: str, **kwargs: Any) -> requests.Response | None:
        if time.monotonic() >= deadline or not results.claim():
            return None
        start = time.perf_counter()
        for _ in range(RESET_RETRIES):
            response = session.request(method, f"{BASE}/{function}", timeout=70, **kwargs)
            if not is_emulator_reset(response):
                break
            # The emulator's proxy lost its connection to a worker process (not our answer);
            # a real client retries, and the Idempotency-Key makes a retried create safe.
            results.note_reset()
        results.record(function, response, (time.perf_counter() - start) * 1000)
        return response

    while time.monotonic() < deadline:
        user = rng.choice(USERS)
        body = {
            "userId": user,
            "model": rng.choice(["Model A", "Model B"]),
            "style": rng.choice(STYLES),
            "color": rng.choice(COLORS),
            "size": rng.choice(SIZES),
            "prompt": f"load test {rng.random():.6f}",
        }
        key = {"Idempotency-Key": f"load-{seed}-{rng.getrandbits(64):x}"}
        response = timed("createGenerationRequest", "POST", json=body, headers=key)
        if response is None:
            return
        if response.status_code == 202:
            mine.append(response.json()["generationRequestId"])
        if mine and rng.random() < 0.3:
            timed("getGenerationStatus", "GET", params={"generationRequestId": rng.choice(mine)})
        if rng.random() < 0.1:
            timed("getUserCredits", "GET", params={"userId": user, "limit": 10})


def wait_terminal(db, request_ids: list[str]) -> list[str]:
    """The ids still not terminal when the timeout ran out (empty when all settled)."""
    pending = list(request_ids)
    deadline = time.monotonic() + SETTLE_TIMEOUT_SECONDS
    while pending and time.monotonic() < deadline:
        still: list[str] = []
        for start in range(0, len(pending), 300):
            refs = [
                db.collection("generation_requests").document(i)
                for i in pending[start : start + 300]
            ]
            still += [
                s.id
                for s in db.get_all(refs, field_paths=["status"])
                if s.get("status") not in TERMINAL
            ]
        pending = still
        if pending:
            time.sleep(1)
    return pending


def percentiles(values: list[float]) -> str:
    cuts = (
        statistics.quantiles(values, n=100, method="inclusive") if len(values) > 1 else values * 99
    )
    return (
        "  ".join(f"p{q} {cuts[q - 1]:7.1f}" for q in (50, 90, 95, 99))
        + f"  max {max(values):7.1f}"
    )


def report(results: Results, elapsed: float, settle_seconds: float) -> None:
    total = sum(len(v) for v in results.latencies.values())
    print(f"\n{CLIENTS} clients, {elapsed:.1f} s: {total} requests, {total / elapsed:.1f} req/s")
    creates = results.statuses["createGenerationRequest"]
    print(
        f"createGenerationRequest: {creates[202]} accepted ({creates[202] / elapsed:.1f}/s), "
        f"{creates[402]} insufficient credits (402), "
        f"{sum(n for s, n in creates.items() if s not in (202, 402))} other"
    )
    print(f"all accepted requests terminal {settle_seconds:.1f} s after the load stopped")
    print(f"\n{'function':<26}{'requests':>9}  latency ms")
    for function, values in sorted(results.latencies.items()):
        print(f"{function:<26}{len(values):>9}  {percentiles(values)}")
    print(
        "\nstatus codes: "
        + ", ".join(
            f"{function} {dict(sorted(counts.items()))}"
            for function, counts in sorted(results.statuses.items())
        )
    )


def warm_up() -> None:
    """The emulator starts a worker process per concurrent call: start CLIENTS of each first
    (cold starts are not what we measure). The create call is invalid, so it writes nothing."""
    calls = [
        ("POST", "createGenerationRequest", {"json": {}}),
        ("GET", "getGenerationStatus", {"params": {"generationRequestId": "warm-up"}}),
        ("GET", "getUserCredits", {"params": {"userId": "arda", "limit": 1}}),
    ]
    with ThreadPoolExecutor(CLIENTS) as pool:
        for method, function, kwargs in calls:
            futures = [
                pool.submit(requests.request, method, f"{BASE}/{function}", timeout=120, **kwargs)
                for _ in range(CLIENTS)
            ]
            for future in futures:
                future.result()


def main() -> None:
    require_loopback()
    db = build_firestore_client()
    requests.post(f"{BASE}/seed_database", json={}, timeout=300).raise_for_status()
    warm_up()

    results = Results()
    start = time.monotonic()
    with ThreadPoolExecutor(CLIENTS) as pool:
        for index in range(CLIENTS):
            pool.submit(client, results, start + DURATION_SECONDS, index)
    elapsed = time.monotonic() - start
    unsettled = wait_terminal(db, results.accepted)
    settle_seconds = time.monotonic() - start - elapsed
    report(results, elapsed, settle_seconds)

    violations = ledger_violations(db)
    users = len(list(db.collection("users").select([]).stream()))
    print(f"ledger invariant: {len(violations)} violations over {users} users")
    print(
        f"5xx: {len(results.server_errors)}; emulator connection resets retried: "
        f"{results.emulator_resets}"
    )
    failures = results.server_errors[:10] + violations[:20]
    if unsettled:
        failures.append(
            f"{len(unsettled)} accepted requests never became terminal: {unsettled[:5]}"
        )
    if failures:
        print("\nFAILED:\n" + "\n".join(failures))
        sys.exit(1)
    print(f"\nOK: no 5xx, {len(results.accepted)} accepted requests terminal, ledger consistent")


if __name__ == "__main__":
    main()
