"""At most MAX_CONCURRENT_WAITS_PER_USER (4) `Prefer: wait` calls wait at once per user, counted
in Firestore (`wait_leases`), so the bound holds across threads, processes and instances.

The requests waited on stay queued: they are created on a container whose RecordingQueue
delivers nothing. The calls run in parallel on real threads: in-process against the Firestore
emulator, and over HTTP through the Functions emulator, where each concurrent call runs in a
Python process of its own.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
import requests
from google.cloud import firestore

from core.clock import SystemClock
from repositories.firestore_helpers import WAIT_LEASES
from repositories.slots import SlotRepository
from tests.integration.conftest import FUNCTIONS_BASE, balance
from tests.integration.test_prefer_wait import create, status_of
from tests.support.auth_emulator import OTHER, OWNER, bearer

LIMIT = 4
LEASE = timedelta(minutes=2)


def leases(db: firestore.Client) -> dict[str, dict[str, Any]]:
    return {snap.id: snap.to_dict() or {} for snap in db.collection(WAIT_LEASES).stream()}


def in_parallel[T](calls: list[Callable[[], T]]) -> list[T]:
    """Run every call on its own thread, all released at once; their results in order."""
    barrier = threading.Barrier(len(calls))

    def run(call: Callable[[], T]) -> T:
        barrier.wait()
        return call()

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


def timed(call: Callable[[], Any]) -> Callable[[], tuple[float, Any]]:
    def run() -> tuple[float, Any]:
        started = time.monotonic()
        result = call()
        return time.monotonic() - started, result

    return run


def wait_for_leases(db: firestore.Client, count: int, timeout: float = 10.0) -> None:
    give_up = time.monotonic() + timeout
    while len(leases(db)) < count:
        assert time.monotonic() < give_up, f"{len(leases(db))} leases, expected {count}"
        time.sleep(0.05)


# --- the repository: create() and the stale take-over under real races -----------------------
def test_concurrent_takers_get_exactly_the_limit(db):
    slots = SlotRepository(db, WAIT_LEASES)
    now = SystemClock().now()
    taken = in_parallel([lambda: slots.take("arda", LIMIT, now, now + LEASE)] * 12)
    held = [lease for lease in taken if lease is not None]
    assert sorted(lease.slot for lease in held) == [0, 1, 2, 3]
    stored = leases(db)
    assert sorted(stored) == [f"arda_{n}" for n in range(LIMIT)]
    assert {d["user_id"] for d in stored.values()} == {"arda"}
    assert all(d["expires_at"] == now + LEASE for d in stored.values())
    for lease in held:
        slots.release(lease)
    assert leases(db) == {}


def test_expired_leases_are_taken_over_once_and_their_late_release_frees_nothing(db):
    slots = SlotRepository(db, WAIT_LEASES)
    now = SystemClock().now()
    crashed = [slots.take("arda", LIMIT, now - LEASE * 2, now - LEASE) for _ in range(LIMIT)]
    assert all(crashed) and len(leases(db)) == LIMIT  # held, expired a while ago
    taken = in_parallel([lambda: slots.take("arda", LIMIT, now, now + LEASE)] * 8)
    held = [lease for lease in taken if lease is not None]
    assert sorted(lease.slot for lease in held) == [0, 1, 2, 3]
    for lease in crashed:
        assert lease is not None
        slots.release(lease)  # the crashed holders come back late: the slots are not theirs
    assert len(leases(db)) == LIMIT
    assert slots.take("arda", LIMIT, now, now + LEASE) is None
    for lease in held:
        slots.release(lease)
    assert leases(db) == {}


# --- the functions, in-process on real threads -------------------------------------------------
def test_six_concurrent_status_waits_four_wait_two_answer_at_once(db, make_container):
    make_container()  # a RecordingQueue: the requests stay queued
    mine = create(None)[1]["generationRequestId"]
    theirs = create(None, user_id="havanur", size="512x512")[1]["generationRequestId"]
    wait = 4

    calls = [timed(lambda: status_of(mine, f"wait={wait}"))] * 6
    calls.append(timed(lambda: status_of(theirs, f"wait={wait}")))  # another user
    answers = in_parallel(calls)

    applied = [
        (elapsed, body) for elapsed, (_, body, h) in answers[:6] if "Preference-Applied" in h
    ]
    plain = [
        (elapsed, body) for elapsed, (_, body, h) in answers[:6] if "Preference-Applied" not in h
    ]
    assert len(applied) == 4 and len(plain) == 2
    assert all(status == 200 for _, (status, _, _) in answers)
    assert all(elapsed >= wait for elapsed, _ in applied)  # they waited
    assert all(elapsed < wait / 2 for elapsed, _ in plain)  # these did not
    assert all(body["status"] == "queued" for _, body in applied + plain)
    elapsed, (_, body, headers) = answers[6]
    assert headers["Preference-Applied"] == f"wait={wait}" and elapsed >= wait
    assert body["generationRequestId"] == theirs
    assert leases(db) == {}  # every slot given back

    status, _, headers = status_of(mine, "wait=1")  # a slot again, now that they are over
    assert status == 200 and headers["Preference-Applied"] == "wait=1"


def test_a_create_beyond_the_limit_is_charged_and_answered_at_once(db, make_container):
    container = make_container()
    request_id = create(None)[1]["generationRequestId"]
    with ThreadPoolExecutor(LIMIT) as pool:
        holders = [pool.submit(status_of, request_id, "wait=5") for _ in range(LIMIT)]
        wait_for_leases(db, LIMIT)
        started = time.monotonic()
        status, body, headers = create("wait=5")
        elapsed = time.monotonic() - started
        assert [h.result()[2]["Preference-Applied"] for h in holders] == ["wait=5"] * LIMIT
    assert (status, set(body)) == (
        202,
        {"generationRequestId", "status", "deductedCredits", "imageUrl"},
    )
    assert "Preference-Applied" not in headers and elapsed < 3
    assert container.queue.enqueued == [request_id, body["generationRequestId"]]
    assert balance(db, "arda") == 494  # both charged


# --- over HTTP: each concurrent call in its own process ----------------------------------------
needs_suite = pytest.mark.skipif(
    not os.environ.get("CLOUD_TASKS_EMULATOR_HOST"), reason="needs the full emulator suite"
)


def http_status(request_id: str, token: str, wait: int) -> requests.Response:
    return requests.get(
        f"{FUNCTIONS_BASE}/getGenerationStatus",
        params={"generationRequestId": request_id},
        headers={"Prefer": f"wait={wait}"} | bearer(token),
        timeout=90,
    )


@needs_suite
def test_the_bound_holds_across_function_processes(db, make_container, tokens):
    make_container()  # creates in-process: nothing is enqueued, the requests stay queued
    mine = create(None, user_id=OWNER)[1]["generationRequestId"]
    theirs = create(None, user_id=OTHER, size="512x512")[1]["generationRequestId"]
    wait = 15  # long enough that every call has started before the first one ends

    calls = [timed(lambda: http_status(mine, tokens[OWNER], wait))] * 6
    calls.append(timed(lambda: http_status(theirs, tokens[OTHER], wait)))
    answers = in_parallel(calls)

    assert all(response.status_code == 200 for _, response in answers), [r.text for _, r in answers]
    applied = [e for e, r in answers[:6] if r.headers.get("Preference-Applied") == f"wait={wait}"]
    plain = [e for e, r in answers[:6] if "Preference-Applied" not in r.headers]
    assert (len(applied), len(plain)) == (4, 2)
    assert all(elapsed >= wait for elapsed in applied) and all(e < wait - 3 for e in plain)
    elapsed, response = answers[6]
    assert response.headers["Preference-Applied"] == f"wait={wait}" and elapsed >= wait
    assert leases(db) == {}

    again = http_status(mine, tokens[OWNER], 1)
    assert again.status_code == 200 and again.headers["Preference-Applied"] == "wait=1"
