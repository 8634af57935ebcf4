"""Fault injection against the Firestore emulator: outages, crashes mid-settle, contention.

Complements test_worker_redelivery (settle raising before its transaction; redelivery) and
test_enqueue_failure (Cloud Tasks down). Every test ends with the ledger invariant (conftest).
"""

from __future__ import annotations

import dataclasses
import json
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from google.api_core import exceptions as gexc
from google.api_core import gapic_v1
from google.cloud import firestore
from google.cloud.firestore_v1.batch import WriteBatch
from google.cloud.firestore_v1.transaction import Transaction

import main
from core.firestore_client import build_firestore_client
from repositories import generations
from tests.integration.conftest import RUNNERS, balance, request_body, transactions
from tests.support.http import _APP, call, make_request

LEAKS = ("Traceback", "Error(", "failed to connect", "127.0.0.1", "ServiceUnavailable", "Aborted")


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def state(db: firestore.Client) -> tuple[Any, ...]:
    """Everything a faulty call could have touched."""
    requests = sorted(s.id for s in db.collection("generation_requests").select([]).stream())
    txs = sorted(s.id for s in db.collection_group("transactions").select([]).stream())
    keys = sorted(s.id for s in db.collection("idempotency_keys").select([]).stream())
    users = sorted((u.id, u.get("current_credits")) for u in db.collection("users").stream())
    return requests, txs, keys, users


def assert_clean_error(status: int, body: Any, statuses: set[int], error_type: str) -> None:
    assert status in statuses, body
    assert body["success"] is False and body["error_type"] == error_type, body
    assert body["message"] and body["error"], body
    text = json.dumps(body)
    assert not [marker for marker in LEAKS if marker in text], body


# --- Firestore unavailable -----------------------------------------------------------------
@pytest.fixture
def unreachable_db(monkeypatch: pytest.MonkeyPatch) -> firestore.Client:
    """A client for a Firestore that is not there, failing at once instead of retrying.

    The client's default retry policy would keep retrying UNAVAILABLE for about a minute (the
    function timeout in production); here each call fails on the first attempt.
    """
    with monkeypatch.context() as patch:
        patch.setenv("FIRESTORE_EMULATOR_HOST", f"127.0.0.1:{closed_port()}")
        dead = build_firestore_client()
    transport = dead._firestore_api._transport
    for method in list(transport._wrapped_methods):
        transport._wrapped_methods[method] = gapic_v1.method.wrap_method(
            method, default_retry=None, default_timeout=5.0
        )
    return dead


UNAVAILABLE_CALLS: dict[str, tuple[Callable[..., Any], str, dict[str, Any]]] = {
    "create": (main.createGenerationRequest, "POST", {"json_body": request_body()}),
    "create-idempotent": (
        main.createGenerationRequest,
        "POST",
        {"json_body": request_body(), "headers": {"Idempotency-Key": "outage"}},
    ),
    "status": (main.getGenerationStatus, "GET", {"query": {"generationRequestId": "x"}}),
    "credits": (main.getUserCredits, "GET", {"query": {"userId": "arda"}}),
    "validate": (main.validate_user, "GET", {"query": {"userId": "arda"}}),
    "list": (main.listGenerationRequests, "GET", {"query": {"userId": "arda"}}),
    "catalog": (main.getCatalog, "GET", {}),
}


@pytest.mark.parametrize("name", list(UNAVAILABLE_CALLS))
def test_firestore_unavailable_is_a_clean_error(db, make_container, unreachable_db, name):
    container = make_container()
    container.db = unreachable_db  # before any repository is built from it
    before = state(db)
    handler, method, kwargs = UNAVAILABLE_CALLS[name]

    status, body = call(handler, method, **kwargs)

    assert_clean_error(status, body, {503}, "unavailable")
    assert container.queue.enqueued == []
    assert state(db) == before


def test_unreachable_firestore_answers_503_inside_the_request_deadline(db, make_container):
    """The production client (build_firestore_client, with its request deadlines) against a
    Firestore that is not there: a clean 503 well inside the 60 s function timeout, not a hang."""
    container = make_container()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FIRESTORE_EMULATOR_HOST", f"127.0.0.1:{closed_port()}")
        container.db = build_firestore_client()
    started = time.monotonic()
    with _APP.app_context():
        response = main.createGenerationRequest(make_request("POST", json_body=request_body()))
    elapsed = time.monotonic() - started
    body = json.loads(response.get_data())
    assert_clean_error(response.status_code, body, {503}, "unavailable")
    assert response.headers["Retry-After"].isdigit()
    assert elapsed < 30, elapsed  # the client's own defaults would retry for 60 s


def test_a_create_clash_is_a_conflict_not_contention(db, make_container):
    """AlreadyExists is a fact, not contention: answered at once (409), never retried for 20 s
    and reported as busy."""
    container = make_container()
    status, first = call(main.createGenerationRequest, json_body=request_body())
    assert status == 202
    # the same request id again: its document (and deduction) exist already
    service = container.generation_controller._service
    service._new_id = lambda: first["generationRequestId"]
    started = time.monotonic()
    status, body = call(main.createGenerationRequest, json_body=request_body())
    assert time.monotonic() - started < 5
    assert_clean_error(status, body, {409}, "conflict")
    assert balance(db, "arda") == 500 - 3


def test_worker_with_firestore_unavailable_is_retried(db, make_container, unreachable_db):
    container = make_container()
    status, created = call(main.createGenerationRequest, json_body=request_body())
    assert status == 202
    request_id = created["generationRequestId"]
    broken = make_container()
    broken.db = unreachable_db

    status, _ = deliver(request_id)
    assert status >= 500  # Cloud Tasks retries a non-2xx answer

    make_container()  # Firestore is back: the retry completes the request
    status, body = deliver(request_id)
    assert status == 200 and body["result"]["result"] == "completed", body
    assert container.queue.enqueued == [request_id]


# --- a crash while settling ----------------------------------------------------------------
def deliver(request_id: str) -> tuple[int, Any]:
    return call(
        main.processImageGeneration, json_body={"data": {"generationRequestId": request_id}}
    )


def create_request(container: Any) -> str:
    status, body = call(main.createGenerationRequest, json_body=request_body())
    assert status == 202, body
    return str(body["generationRequestId"])


def request_status(db: firestore.Client, request_id: str) -> str:
    return str(db.collection("generation_requests").document(request_id).get().get("status"))


def refunds(db: firestore.Client) -> list[dict[str, Any]]:
    return [t for t in transactions(db, "arda") if t["type"] == "refund"]


@pytest.fixture
def crash_once(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], None]]:
    """Arm one injected failure in the settle commit of a model failure (the refund).

    `staged`: the refund is staged in the batch, then the body raises (nothing commits).
    `lost-commit`: the commit is not applied and the client gets UNAVAILABLE.
    `ambiguous-commit`: the commit *is* applied but its answer is lost (UNAVAILABLE).
    """
    armed: dict[str, str | None] = {"mode": None}
    original_book = generations.GenerationRepository._book
    original_commit = WriteBatch.commit

    def book(self: Any, batch: WriteBatch, entry: Any) -> None:
        original_book(self, batch, entry)
        if armed["mode"] == "staged" and entry.type == "refund":
            armed["mode"] = None
            raise RuntimeError("worker crashed after staging the refund")

    def commit(self: WriteBatch, **kwargs: Any) -> list[Any]:
        refunding = any("/transactions/refund_" in w.update.name for w in self._write_pbs)
        mode = armed["mode"] if refunding else None
        if mode == "lost-commit":
            armed["mode"] = None
            raise gexc.ServiceUnavailable("connection reset before commit")
        result = original_commit(self, **kwargs)
        if mode == "ambiguous-commit":
            armed["mode"] = None
            raise gexc.ServiceUnavailable("connection reset after commit")
        return list(result)

    monkeypatch.setattr(generations.GenerationRepository, "_book", book)
    monkeypatch.setattr(WriteBatch, "commit", commit)
    yield lambda mode: armed.update(mode=mode)
    assert armed["mode"] is None, "the injected failure never fired"


@pytest.mark.parametrize("mode", ["staged", "lost-commit", "ambiguous-commit"])
def test_crash_while_settling_a_failure_refunds_exactly_once(db, make_container, crash_once, mode):
    container = make_container(default_failure_rate=1.0)
    request_id = create_request(container)
    crash_once(mode)

    status, body = deliver(request_id)
    assert status == 500, body  # not acknowledged: Cloud Tasks will retry
    committed = mode == "ambiguous-commit"
    assert request_status(db, request_id) == ("failed" if committed else "processing")
    assert len(refunds(db)) == (1 if committed else 0)

    for _ in range(3):  # the retry, and a few duplicate deliveries for good measure
        status, body = deliver(request_id)
        assert status == 200, body
    assert request_status(db, request_id) == "failed"
    assert len(refunds(db)) == 1
    assert balance(db, "arda") == 500


# --- contention --------------------------------------------------------------------------
@dataclass
class Contention:
    on: bool = True


@pytest.fixture
def contention(monkeypatch: pytest.MonkeyPatch) -> Contention:
    """While `on`, every commit (a transaction's or a guarded batch's) loses to a concurrent
    writer; writes try 3 times."""
    switch = Contention()
    original_commit = Transaction._commit
    original_batch_commit = WriteBatch.commit

    def commit(self: Transaction) -> list[Any]:
        if switch.on:
            raise gexc.Aborted("too much contention on these datastore entities")
        return list(original_commit(self))

    def batch_commit(self: WriteBatch, **kwargs: Any) -> list[Any]:
        if switch.on:  # the emulator's answer to a stale update time
            raise gexc.FailedPrecondition("the stored version does not match")
        return list(original_batch_commit(self, **kwargs))

    monkeypatch.setattr(Transaction, "_commit", commit)
    monkeypatch.setattr(WriteBatch, "commit", batch_commit)
    quick = dataclasses.replace(RUNNERS["default"], attempts=3, sleep=lambda _: None)
    monkeypatch.setitem(RUNNERS, "default", quick)
    return switch


def test_create_under_exhausted_contention_writes_nothing(db, make_container, contention):
    container = make_container()
    before = state(db)
    headers = {"Idempotency-Key": "busy"}

    status, body = call(main.createGenerationRequest, json_body=request_body(), headers=headers)

    assert_clean_error(status, body, {503}, "busy")
    assert body["message"] == "The service is busy; please retry"
    assert container.queue.enqueued == []
    assert state(db) == before

    contention.on = False  # over: the same key may be retried, and charges once
    status, body = call(main.createGenerationRequest, json_body=request_body(), headers=headers)
    assert status == 202, body
    assert balance(db, "arda") == 500 - 3


def test_worker_under_exhausted_contention_is_retried(db, make_container, contention):
    contention.on = False
    container = make_container()
    request_id = create_request(container)

    contention.on = True
    status, _ = deliver(request_id)
    assert status >= 500  # Cloud Tasks retries
    assert request_status(db, request_id) == "queued"  # start_processing never committed

    contention.on = False
    status, body = deliver(request_id)
    assert status == 200 and body["result"]["result"] == "completed", body
