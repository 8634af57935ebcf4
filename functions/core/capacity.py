"""The capacity every function declares: memory, CPU, concurrency, instances and timeout.

The numbers and why they are what they are: docs/architecture.md, section "Capacity". Every
function in main.py takes one of these profiles, so none runs on the platform's defaults.
"""

from __future__ import annotations

from typing import TypedDict

from firebase_functions.options import MemoryOption

# The Python Functions Framework serves one request per gunicorn thread (`THREADS`); the
# deployed environment sets THREADS to this (functions/.env.feraset-imagen), so that a
# function's concurrency is really served in parallel and not queued inside the instance.
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
    """One whole CPU everywhere (the platform refuses concurrency > 1 below one) and no
    instance kept warm (min 0): a cold start costs about a second, an idle instance money."""
    return Capacity(
        memory=memory,
        cpu=1,
        concurrency=concurrency,
        min_instances=0,
        max_instances=max_instances,
        timeout_sec=timeout_sec,
    )


# Request/response endpoints: a few Firestore round trips each (I/O-bound, ~20-150 ms), bodies
# capped at 64 KiB. 8 at once per instance (one thread each), 20 instances = 160 in flight.
INTERACTIVE = _capacity(MemoryOption.MB_512, THREADS, max_instances=20, timeout_sec=60)

# `Prefer: wait=N` (controllers/prefer.py) holds a createGenerationRequest or getGenerationStatus
# answer for at most this long, polling the request document until it is terminal.
MAX_WAIT_SECONDS = 60

# createGenerationRequest and getGenerationStatus: interactive, but a call may wait. The timeout
# covers the longest call with margin: the charging transaction's give-up deadline (20 s) and
# the enqueue, the whole wait (MAX_WAIT_SECONDS), one last read bounded by the request deadline
# (12 s): 92 s, under 120 s. A waiting call sleeps on its thread (no CPU), so the concurrency and
# instance limits stay those of interactive; a wait holds one of the 160 slots for its length.
WAITING = _capacity(MemoryOption.MB_512, THREADS, max_instances=20, timeout_sec=120)

# health: touches nothing; as interactive, but the smallest memory that serves it.
PROBE = _capacity(MemoryOption.MB_256, THREADS, max_instances=5, timeout_sec=10)

# Admin reads (listUsers, listReports, getReport): rare, one operator at a time.
ADMIN_READ = _capacity(MemoryOption.MB_512, 4, max_instances=2, timeout_sec=60)

# seed_database: hundreds of writes in per-user transactions; one at a time, never in parallel.
ADMIN_SEED = _capacity(MemoryOption.MB_512, 1, max_instances=1, timeout_sec=300)

# The weekly report (HTTP and scheduled): streams a week of requests and transactions and
# aggregates in memory; one at a time. 540 s is the longest a scheduled function may run.
REPORT = _capacity(MemoryOption.GB_1, 1, max_instances=1, timeout_sec=540)

# The generation worker: mostly waiting on the model (1-5 s) and Firestore. Cloud Tasks limits
# the queue to TASK_MAX_CONCURRENT_DISPATCHES (10) in flight, which 2 instances x 8 cover; the
# timeout stays well below GENERATION_TIMEOUT_SECONDS (600 s), after which the sweeper fails
# and refunds a request, so a live attempt is never swept.
WORKER = _capacity(MemoryOption.MB_512, THREADS, max_instances=4, timeout_sec=120)

# recoverStuckGenerations: every 10 minutes, a query and one transaction per stuck request.
SWEEPER = _capacity(MemoryOption.MB_512, 1, max_instances=1, timeout_sec=300)

# deliverWebhook: one POST of at most 10 s (DELIVERY_TIMEOUT_SECONDS in core/webhook_http.py)
# after a DNS lookup, a read and one small transaction: I/O-bound like the worker, and as large.
# 120 s covers the POST, a slow resolver and a transaction's 20 s give-up deadline with margin.
WEBHOOK = _capacity(MemoryOption.MB_512, THREADS, max_instances=4, timeout_sec=120)
# Its queue dispatches no more at once than 4 instances x 8 can take (a dispatch refused for
# want of an instance would count as a failed attempt), and at most 20 a second.
WEBHOOK_MAX_CONCURRENT_DISPATCHES = 4 * THREADS
WEBHOOK_MAX_DISPATCHES_PER_SECOND = 20
