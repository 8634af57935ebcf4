"""Guarantee 1: no overdraft when many requests race for one balance."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import main
from tests.integration.conftest import add_user, balance, request_body, transactions
from tests.support.http import call

THREADS = 20


def test_twenty_concurrent_requests_never_overdraw(db, make_container, host_lock):
    make_container()
    add_user(db, "tight_budget", 10)
    barrier = threading.Barrier(THREADS)

    def attempt(_: int) -> tuple[int, dict]:
        barrier.wait()
        return call(
            main.createGenerationRequest,
            json_body=request_body("tight_budget", size="1024x1792"),
        )

    with ThreadPoolExecutor(THREADS) as pool:
        results = list(pool.map(attempt, range(THREADS)))

    statuses = sorted(status for status, _ in results)
    assert statuses == [202] * 2 + [402] * 18
    refused = [body for status, body in results if status == 402]
    assert all(b["error_type"] == "insufficient_credits" for b in refused)
    assert all(
        b["message"].startswith("Insufficient credits. Required: 4, Available: ") for b in refused
    )
    assert balance(db, "tight_budget") == 2
    deductions = [t for t in transactions(db, "tight_budget") if t["type"] == "deduction"]
    assert len(deductions) == 2
    accepted_ids = {body["generationRequestId"] for status, body in results if status == 202}
    assert {t["generation_request_id"] for t in deductions} == accepted_ids


def test_transactions_alone_prevent_overdraft_across_instances(db, make_container, monkeypatch):
    """Without the host lock (as between separate function instances), racing charges
    still never overdraw: the losers' guarded commits fail, and they retry and see the new
    balance."""
    make_container(host_locks=None)
    add_user(db, "many_instances", 10)
    racers = 6
    barrier = threading.Barrier(racers)

    def attempt(_: int) -> tuple[int, dict]:
        barrier.wait()
        return call(
            main.createGenerationRequest,
            json_body=request_body("many_instances", size="1024x1792"),
        )

    with ThreadPoolExecutor(racers) as pool:
        results = list(pool.map(attempt, range(racers)))

    statuses = [status for status, _ in results]
    assert statuses.count(202) == 2, results
    # Losers hear 402, or a clean 503 "busy, retry" if contention outlasted the retries.
    assert set(statuses) <= {202, 402, 503}
    assert balance(db, "many_instances") == 2
    assert len(transactions(db, "many_instances")) == 2
