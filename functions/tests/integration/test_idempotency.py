"""Guarantee 5: Idempotency-Key makes a retried create charge once."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

from google.api_core import exceptions as gexc

import main
from tests.integration.conftest import balance, request_body, transactions
from tests.support.http import call

CLIENTS = 5


def create(key: str, **overrides) -> tuple[int, dict]:
    return call(
        main.createGenerationRequest,
        json_body=request_body(**overrides),
        headers={"Idempotency-Key": key},
    )


def test_concurrent_retries_with_one_key_charge_once(db, make_container, host_lock):
    make_container()
    barrier = threading.Barrier(CLIENTS)

    def attempt(_: int) -> tuple[int, dict]:
        barrier.wait()
        return create("key-123")

    with ThreadPoolExecutor(CLIENTS) as pool:
        results = list(pool.map(attempt, range(CLIENTS)))

    # The first commits; the others replay its answer, or hear 409 while it is still enqueuing.
    assert {status for status, _ in results} <= {202, 409}, results
    assert any(status == 202 for status, _ in results)
    ids = {body["generationRequestId"] for _, body in results}
    assert len(ids) == 1
    assert [t["type"] for t in transactions(db, "arda")] == ["deduction"]
    assert balance(db, "arda") == 500 - 3

    status, body = create("key-123")  # a retry after everything settled replays the answer
    assert status == 202 and body["generationRequestId"] in ids
    assert balance(db, "arda") == 500 - 3


def test_an_expired_key_is_new_again_and_its_record_replaced(db, make_container):
    make_container()
    status, first = create("key-old")
    assert status == 202
    (ref,) = [snap.reference for snap in db.collection("idempotency_keys").stream()]
    ref.update(
        {
            "expires_at": datetime.now(UTC) - timedelta(seconds=1),
            "state": "failed",
            "failure": {"status_code": 503, "response": {"success": False}},
        }
    )

    status, second = create("key-old", prompt="Another body")  # neither a 422 nor a replay

    assert status == 202, second
    assert second["generationRequestId"] != first["generationRequestId"]
    record = ref.get().to_dict()
    assert record["generation_request_id"] == second["generationRequestId"]
    assert record["state"] == "done" and "failure" not in record
    assert record["expires_at"] > datetime.now(UTC)
    assert balance(db, "arda") == 500 - 6


def test_same_key_with_a_different_body_is_rejected(db, make_container):
    make_container()
    assert create("key-abc")[0] == 202
    status, body = create("key-abc", prompt="Something else entirely")
    assert status == 422
    assert body["error_type"] == "idempotency_conflict"
    assert balance(db, "arda") == 500 - 3


def test_display_spelling_is_the_same_body(db, make_container):
    make_container()
    first = create("key-norm", style="oil_painting")
    second = create("key-norm", style="Oil Painting")
    assert first[0] == second[0] == 202
    assert first[1]["generationRequestId"] == second[1]["generationRequestId"]


def test_keys_are_scoped_per_user(db, make_container):
    make_container()
    assert create("shared-key")[0] == 202
    status, _ = create("shared-key", userId="sarah_artist")
    assert status == 202
    assert balance(db, "arda") == 500 - 3
    assert balance(db, "sarah_artist") == 42 - 3


def test_invalid_key_is_a_validation_error(db, make_container):
    make_container()
    status, body = create("x" * 256)
    assert status == 400 and body["details"][0]["field"] == "Idempotency-Key"


def test_in_flight_window_starts_when_the_claim_commits(db, make_container, monkeypatch):
    """A claim whose charge retried for a while is still in flight for the whole grace period
    after its commit: its times come from the committing attempt, not a clock read before the
    retries."""
    container = make_container()
    real_clock = container.clock
    reads: list[datetime] = []

    class Recording:
        def now(self) -> datetime:
            value = real_clock.now()
            reads.append(value)
            return value

    container.clock = Recording()
    # make the first two attempts lose to a (simulated) concurrent writer of the user
    batch = db.batch
    losses = iter([True, True])

    def flaky_batch() -> Any:
        new = batch()
        if next(losses, False):

            def lose(**_: Any) -> list[Any]:
                raise gexc.FailedPrecondition("injected: the user changed since the read")

            new.commit = lose  # type: ignore[method-assign]
        return new

    monkeypatch.setattr(db, "batch", flaky_batch)
    status, body = create("slow-commit")
    assert status == 202, body
    key_doc = next(iter(db.collection("idempotency_keys").stream())).to_dict()
    request = db.collection("generation_requests").document(body["generationRequestId"]).get()
    assert list(losses) == []  # both injected losses happened
    assert len(reads) >= 3  # one clock read per attempt
    assert key_doc["created_at"] == request.get("created_at")
    assert key_doc["created_at"] >= reads[2] - timedelta(milliseconds=1)
