"""The capacity profile every function in main.py declares, so none runs on platform defaults.

Why each number is what it is: docs/architecture.md, "Capacity".
"""

from __future__ import annotations

from typing import TypedDict

from firebase_functions.options import MemoryOption

# Gunicorn threads per instance (THREADS in functions/.env.feraset-imagen): one per concurrent
# request, so a function's concurrency is served in parallel, not queued inside the instance.
THREADS = 8


class Capacity(TypedDict):
    memory: MemoryOption
    cpu: int
    concurrency: int
    min_instances: int
    max_instances: int
    timeout_sec: int


def _capacity(
    memory: MemoryOption, concurrency: int, *, max_instances: int, timeout_sec: int
) -> Capacity:
    """One whole CPU (the platform refuses concurrency > 1 below one); no instance kept warm
    (an idle instance costs more than a cold start is worth to polling clients)."""
    return Capacity(
        memory=memory,
        cpu=1,
        concurrency=concurrency,
        min_instances=0,
        max_instances=max_instances,
        timeout_sec=timeout_sec,
    )


# Request/response endpoints: I/O-bound, a few Firestore round trips each.
INTERACTIVE = _capacity(MemoryOption.MB_512, THREADS, max_instances=20, timeout_sec=60)

# The longest `Prefer: wait=N` a create or status call may hold its answer for.
MAX_WAIT_SECONDS = 60

# The longest a status stream (`Accept: text/event-stream`) stays open; the client reconnects.
STREAM_MAX_SECONDS = 120

# createGenerationRequest and getGenerationStatus: interactive, but the timeout also covers the
# charge, a whole wait and one last read (tests/unit/test_prefer_wait.py checks the sum), and a
# whole status stream with its slot taken and given back (tests/unit/test_status_stream.py).
WAITING = _capacity(MemoryOption.MB_512, THREADS, max_instances=20, timeout_sec=180)
# A waiting call's lease on one of its user's wait slots: no call outlives the function's
# timeout, so an older lease is a crashed holder's and may be taken over.
WAIT_LEASE_SECONDS = WAITING["timeout_sec"]

# Status streams open at once per user (more: 429 too_many_streams), held as leases like waits.
MAX_STREAMS_PER_USER = 4
STREAM_LEASE_SECONDS = WAITING["timeout_sec"]
# A comment line this often keeps proxies from closing an idle stream; `retry:` tells the
# client how long to wait before it reconnects.
STREAM_KEEPALIVE_SECONDS = 15
STREAM_RETRY_MILLISECONDS = 3000

# health: touches nothing, so the least memory.
PROBE = _capacity(MemoryOption.MB_256, THREADS, max_instances=5, timeout_sec=10)

# Admin reads (listUsers, listReports, getReport) and grants (grantCredits): rare, one operator
# at a time.
ADMIN_READ = _capacity(MemoryOption.MB_512, 4, max_instances=2, timeout_sec=60)

# seed_database: many writes in per-user transactions; two at once would only contend.
ADMIN_SEED = _capacity(MemoryOption.MB_512, 1, max_instances=1, timeout_sec=300)

# deleteAccount and exportAccountData: walk all of one user's requests and ledger in pages
# (deletion also Storage, per picture); rare, so few instances, and time for a long history.
ACCOUNT_DATA = _capacity(MemoryOption.GB_1, 4, max_instances=5, timeout_sec=300)

# The reports and rollups: stream and aggregate in memory, one at a time, for as long as a
# scheduled function may run.
REPORT = _capacity(MemoryOption.GB_1, 1, max_instances=1, timeout_sec=540)

# The generation worker: I/O-bound. Enough instances for TASK_MAX_CONCURRENT_DISPATCHES; the
# timeout stays well below GENERATION_TIMEOUT_SECONDS, so the sweeper never fails a live attempt.
WORKER = _capacity(MemoryOption.MB_512, THREADS, max_instances=4, timeout_sec=120)

# The stuck-request sweeper: two sweeps at once would only race for the same requests.
SWEEPER = _capacity(MemoryOption.MB_512, 1, max_instances=1, timeout_sec=300)

# deliverWebhook: I/O-bound like the worker; the timeout covers a DNS lookup, the POST
# (DELIVERY_TIMEOUT_SECONDS) and a transaction. Its queue dispatches no more than its instances
# can take: a dispatch refused for want of an instance would count as a failed attempt.
WEBHOOK = _capacity(MemoryOption.MB_512, THREADS, max_instances=4, timeout_sec=120)
WEBHOOK_MAX_CONCURRENT_DISPATCHES = 4 * THREADS
WEBHOOK_MAX_DISPATCHES_PER_SECOND = 20
