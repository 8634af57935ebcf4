"""Fair use: at most MAX_IN_FLIGHT_PER_USER requests queued or processing per user.

The cap is enforced inside the charging commit (the user's `in_flight` counter), and every
terminal transition releases the slot exactly once; the ledger check after each test also
compares every user's counter with its requests.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from google.cloud import firestore

import main
from core.errors import ContentionError
from tests.integration.conftest import balance, request_body
from tests.support.http import call

CAP = 3
CLIENTS = 20


def in_flight_requests(db, user_id: str = "arda") -> int:
    query = db.collection("generation_requests").where(
        filter=firestore.FieldFilter("user_id", "==", user_id)
    )
    docs = query.stream()
    return sum(1 for d in docs if d.get("status") in ("queued", "processing"))


def test_one_more_than_the_cap_is_429_and_charges_nothing(db, make_container):
    container = make_container(max_in_flight_per_user=CAP)
    for _ in range(CAP):
        assert call(main.createGenerationRequest, json_body=request_body())[0] == 202

    status, body = call(main.createGenerationRequest, json_body=request_body())

    assert status == 429 and body["error_type"] == "too_many_in_flight", body
    assert balance(db, "arda") == 500 - 3 * CAP
    # a finished request frees its slot
    container.worker_controller.handle_task({"generationRequestId": container.queue.enqueued[0]})
    assert call(main.createGenerationRequest, json_body=request_body())[0] == 202


def test_429_carries_retry_after():
    from controllers.http import error_response
    from core.errors import TooManyInFlightError

    assert error_response(TooManyInFlightError()).headers["Retry-After"].isdigit()


def test_concurrent_creates_never_exceed_the_cap(db, make_container, host_lock):
    """20 concurrent creates for one user while a worker finishes requests: never more than 3
    in flight, every refused create charged nothing, every slot released once."""
    container = make_container(max_in_flight_per_user=CAP)
    barrier = threading.Barrier(CLIENTS)
    done = threading.Event()
    peaks: list[int] = []

    def create(_: int) -> int:
        barrier.wait()
        status, body = call(main.createGenerationRequest, json_body=request_body(size="512x512"))
        if status == 503:  # without the host lock the emulator's lock timeouts can exhaust
            assert body["error_type"] == "busy", body  # the deadline: a clean "retry", no charge
        return int(status)

    def work() -> None:
        """Deliver each enqueued task; a delivery that fails (the settle lost to the charges
        until its deadline, without the host lock) is delivered again, as Cloud Tasks would."""
        handled: set[str] = set()
        while not done.is_set() or len(handled) < len(container.queue.enqueued):
            for request_id in list(container.queue.enqueued):
                if request_id not in handled:
                    try:
                        container.worker_controller.handle_task({"generationRequestId": request_id})
                        handled.add(request_id)
                    except ContentionError:
                        pass
            time.sleep(0.01)

    def watch() -> None:
        while not done.is_set():
            peaks.append(in_flight_requests(db))
            time.sleep(0.02)

    with ThreadPoolExecutor(CLIENTS + 2) as pool:
        worker, watcher = pool.submit(work), pool.submit(watch)
        statuses = list(pool.map(create, range(CLIENTS)))
        done.set()
        worker.result()
        watcher.result()

    accepted = statuses.count(202)
    assert set(statuses) <= {202, 429, 503}, statuses
    assert host_lock == "no-host-lock" or 503 not in statuses, statuses
    assert accepted >= 1 and max(peaks) <= CAP, (statuses, peaks)
    assert host_lock == "no-host-lock" or accepted >= CAP, statuses
    assert balance(db, "arda") == 500 - accepted
    assert in_flight_requests(db) == 0
    assert db.collection("users").document("arda").get().get("in_flight") == 0
