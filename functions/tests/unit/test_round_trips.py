"""Round trips of the money path, counted on a real firestore.Client over a recording stand-in
for its RPC layer (tests/support/firestore_rpc.py): a write is one read and one guarded commit,
never a transaction."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from google.api_core import exceptions as gexc

from core.errors import ConflictError, ContentionError
from repositories.accounts import AccountRepository
from repositories.credits import CreditRepository
from repositories.firestore_helpers import TransactionRunner
from repositories.generations import GenerationRepository
from schemas.documents import (
    Catalog,
    ColorRecord,
    GenerationOutcome,
    GenerationStatus,
    GrantRecord,
    SizeRecord,
    StyleRecord,
    TransactionRecord,
    UserRecord,
)
from services.catalog_service import CatalogService
from services.generation_service import GenerationService
from tests.support.fakes import FakeCatalog, FakeQueue, FakeTime, ManualClock
from tests.support.firestore_rpc import RecordingFirestoreApi, recording_client
from tests.support.records import create_body

NOW = datetime(2026, 1, 5, tzinfo=UTC)
CATALOG = Catalog(
    styles=[StyleRecord(id="anime", display_name="Anime")],
    colors=[ColorRecord(id="neon", display_name="Neon")],
    sizes=[
        SizeRecord(
            id="1024x1792",
            width=1024,
            height=1792,
            aspect_ratio="9:16",
            display_name="P",
            credit_cost=4,
        )
    ],
)
BODY = create_body()
ONE_WRITE = ["BatchGetDocuments", "Commit"]


def build(credits: int = 10) -> tuple[GenerationService, RecordingFirestoreApi, FakeQueue]:
    db, api = recording_client()
    api.put("users/arda", {"current_credits": credits, "in_flight": 0})
    clock = ManualClock(NOW)
    queue = FakeQueue()
    ids = iter(f"req-{n}" for n in range(1, 100))
    service = GenerationService(
        CatalogService(FakeCatalog(CATALOG), clock),
        GenerationRepository(db, TransactionRunner(sleep=FakeTime().sleep)),
        queue,
        clock,
        max_in_flight=10,
        new_id=lambda: next(ids),
    )
    return service, api, queue


def preconditions(api: RecordingFirestoreApi, commit: int = -1) -> dict[str, str]:
    """A commit's writes (the last by default): document path -> its precondition."""
    found = {}
    for write in api.commits[commit].writes:
        pb: Any = write._pb
        name = pb.update.name if pb.HasField("update") else pb.delete
        condition = pb.current_document.WhichOneof("condition_type") or "none"
        if condition == "exists":
            condition = "exists" if pb.current_document.exists else "create"
        found[name.split("/documents/", 1)[1]] = condition
    return found


def test_a_create_is_one_read_one_guarded_commit_and_one_enqueue():
    service, api, queue = build()

    result = service.create(BODY, None)

    assert result.status_code == 202
    assert api.calls == ONE_WRITE  # no BeginTransaction, no Rollback
    assert queue.enqueued == ["req-1"]
    assert preconditions(api) == {
        "users/arda": "update_time",  # the charge fails if the user changed since the read
        "generation_requests/req-1": "create",
        "users/arda/transactions/deduction_req-1": "create",
    }


def test_a_keyed_create_reads_the_user_and_the_key_in_one_read():
    service, api, queue = build()

    result = service.create(BODY, "key-1")

    assert result.status_code == 202
    # the charge, then (after the enqueue) the key marked done: an update of its own
    assert api.calls == [*ONE_WRITE, "Commit"]
    assert queue.enqueued == ["req-1"]
    assert len(api.commits[0].writes) == 4  # user, request, deduction, key (create())
    api.calls.clear()

    replay = service.create(BODY, "key-1")

    assert (replay.status_code, replay.body) == (202, result.body)
    assert api.calls == ["BatchGetDocuments"]
    assert queue.enqueued == ["req-1"]


def test_a_charge_that_loses_a_race_on_the_user_reads_and_commits_again():
    service, api, queue = build()
    # another write of the user between this charge's read and its commit
    api.before_commit.append(lambda: api.put("users/arda", {"current_credits": 5}))

    result = service.create(BODY, None)

    assert result.status_code == 202
    assert api.calls == ONE_WRITE * 2
    assert result.body["deductedCredits"] == 4
    assert queue.enqueued == ["req-1"]
    user = api.commits[-1].writes[0]._pb.update  # the winning charge read the new balance
    assert user.fields["current_credits"].integer_value == 1


def test_a_same_key_charge_that_commits_first_makes_the_loser_replay_its_answer():
    service, api, queue = build()
    first = service.create(BODY, "key-1")
    key_write = api.commits[0].writes[3]._pb.update
    key_path = key_write.name.split("/documents/", 1)[1]
    assert key_path.startswith("idempotency_keys/")
    api.calls.clear()
    # The second call reads no record; the first call's lands before its commit, as a
    # concurrent same-key charge's would: the claim's create() fails.
    stored = api.take(key_path)
    api.before_commit.append(lambda: api.put(key_path, stored))

    again = service.create(BODY, "key-1")

    assert (again.status_code, again.body) == (202, first.body)
    assert api.calls == [*ONE_WRITE, "BatchGetDocuments"]
    assert queue.enqueued == ["req-1"]  # charged and enqueued once


def test_an_expired_key_is_replaced_only_if_unchanged_since_the_read():
    service, api, queue = build()
    service.create(BODY, "key-1")
    key_path = next(p for p in preconditions(api, 0) if p.startswith("idempotency_keys/"))
    api.put(key_path, {**api.take(key_path), "expires_at": datetime(2025, 1, 1, tzinfo=UTC)})
    api.calls.clear()

    again = service.create(BODY, "key-1")

    assert (again.status_code, again.body["generationRequestId"]) == (202, "req-2")
    assert api.calls == [*ONE_WRITE, "Commit"]  # the charge, then the key marked done
    assert preconditions(api, -2)[key_path] == "update_time"
    assert queue.enqueued == ["req-1", "req-2"]


def test_start_processing_settle_and_mark_deleted_are_one_read_and_one_commit_each():
    service, api, _ = build()
    service.create(BODY, None)
    repo = GenerationRepository(recording_client(api)[0], TransactionRunner())

    for step in (
        lambda: repo.start_processing("req-1", NOW, "token"),
        lambda: repo.settle(
            "req-1",
            GenerationOutcome(error_message="boom"),
            NOW,
            from_statuses={GenerationStatus.PROCESSING},
        ),
        lambda: repo.mark_deleted("req-1", NOW),
    ):
        api.calls.clear()
        assert step() is not None
        assert api.calls == ONE_WRITE


def test_a_settle_is_guarded_by_the_request_and_writes_the_owner_blind():
    service, api, _ = build()
    service.create(BODY, None)
    repo = GenerationRepository(recording_client(api)[0], TransactionRunner())

    settled = repo.settle(
        "req-1",
        GenerationOutcome(error_message="boom"),
        NOW,
        from_statuses={GenerationStatus.QUEUED},
    )

    assert settled is not None and settled.status == GenerationStatus.FAILED
    assert preconditions(api) == {
        "generation_requests/req-1": "update_time",
        "users/arda/transactions/refund_req-1": "create",
        "users/arda": "exists",  # increments, whatever the owner's charges did meanwhile
    }


def test_booking_and_granting_are_one_read_and_one_commit():
    db, api = recording_client()
    api.put("users/arda", {"current_credits": 3})
    credits = CreditRepository(db, TransactionRunner())
    entry = TransactionRecord(
        id="purchase_s1", type="purchase", credits=5, user_id="arda", timestamp=NOW
    )

    booked = credits.book(entry)

    assert (booked.created, booked.balance) == (True, 8)
    assert api.calls == ONE_WRITE
    api.calls.clear()
    assert credits.book(entry).created is False
    assert api.calls == ["BatchGetDocuments"]
    api.calls.clear()
    grant = GrantRecord(
        id="g1", user_id="arda", credits=2, reason="r", granted_by="admin", created_at=NOW
    )

    granted = credits.book_grant(grant)

    assert (granted.created, granted.balance) == (True, 10)
    assert api.calls == ONE_WRITE
    assert preconditions(api) == {
        "users/arda": "update_time",
        "users/arda/transactions/grant_g1": "create",
        "grants/g1": "create",
    }


def test_opening_an_account_is_one_read_and_one_commit():
    db, api = recording_client()
    accounts = AccountRepository(db, TransactionRunner())
    user = UserRecord(id="new", welcome_due=True, created_at=NOW)
    welcome = TransactionRecord(
        id="welcome_new", type="welcome", credits=5, user_id="new", timestamp=NOW
    )

    opened = accounts.open(user, welcome)

    assert (opened.created, opened.welcome_granted, opened.user.current_credits) == (True, True, 5)
    assert api.calls == ONE_WRITE


class _Scripted:
    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.runs = 0

    def __call__(self) -> str:
        self.runs += 1
        if self.errors:
            raise self.errors.pop(0)
        return "done"


def test_a_guarded_write_is_retried_on_a_stale_read_or_an_abort_with_backoff():
    time = FakeTime()
    body = _Scripted(gexc.FailedPrecondition("stale"), gexc.Aborted("lock timeout"))

    assert TransactionRunner(sleep=time.sleep).run_guarded(body, "user:arda") == "done"
    assert body.runs == 3 and len(time.sleeps) == 2


def test_a_create_clash_is_retried_only_when_asked():
    runner = TransactionRunner(sleep=FakeTime().sleep)
    clash = _Scripted(gexc.AlreadyExists("exists"))
    assert runner.run_guarded(clash, "user:arda", retry_exists=True) == "done"
    with pytest.raises(ConflictError):
        runner.run_guarded(_Scripted(gexc.AlreadyExists("exists")), "user:arda")


def test_a_guarded_write_that_keeps_losing_gives_up():
    body = _Scripted(*[gexc.FailedPrecondition("stale")] * 5)
    with pytest.raises(ContentionError):
        TransactionRunner(attempts=3, sleep=FakeTime().sleep).run_guarded(body, "user:arda")
    assert body.runs == 3
