"""The sweeper's per-request isolation and its waiting rule, over the shared in-memory store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from schemas.documents import GenerationStatus
from schemas.store import MalformedRecord
from services.model_simulator import ModelSimulator
from services.worker_service import GenerationWorker, StuckTimeouts
from tests.support.fakes import FakeGenerations, FakeImages, FakeTasks, ManualClock
from tests.support.records import processing_record

NOW = datetime(2026, 3, 2, 12, tzinfo=UTC)
TIMEOUTS = StuckTimeouts(processing_seconds=600, queued_seconds=3600)


def store(*stuck: tuple[str, str, int]) -> FakeGenerations:
    """Requests (id, status, minutes since their last update), in the order the query finds."""
    generations = FakeGenerations()
    for request_id, status, minutes in stuck:
        at = NOW - timedelta(minutes=minutes)
        generations.put(
            processing_record(
                id=request_id, status=GenerationStatus(status), created_at=at, updated_at=at
            )
        )
    return generations


def sweeper(generations: FakeGenerations, tasks: FakeTasks | None = None) -> GenerationWorker:
    model = ModelSimulator({}, 0.0, 0, 0)  # never runs: the sweeper only settles
    return GenerationWorker(generations, model, FakeImages(), ManualClock(NOW), tasks)


def settled_ids(generations: FakeGenerations) -> list[str]:
    return [request_id for request_id, _ in generations.settled]


def test_failures_are_isolated_counted_and_queued_requests_wait_without_a_task_lookup():
    repo = store(
        ("young-queued", "queued", 20),
        ("old-queued", "queued", 90),
        ("processing", "processing", 20),
        ("bad", "queued", 90),
        ("broken", "queued", 90),
    )
    repo.settle_errors["bad"] = RuntimeError("boom")
    repo.settle_errors["broken"] = MalformedRecord("malformed record: credits_deducted")
    result = sweeper(repo).recover_stuck(TIMEOUTS)
    assert result.as_dict() == {
        "examined": 5,
        "refunded": 2,
        "waiting": 1,
        "settled_elsewhere": 0,
        "quarantined": 1,
        "skipped": 1,
        "webhooks_requeued": 0,  # no webhook queue wired
        "deadline_cancelled": 0,
    }
    assert settled_ids(repo) == ["old-queued", "processing"]
    assert repo.quarantined == ["broken"]


def test_a_task_lookup_decides_when_it_answers():
    repo = store(
        ("pending", "queued", 600),
        ("gone", "queued", 20),
        ("unknown-young", "queued", 20),
        ("unknown-old", "queued", 90),
        ("retrying", "processing", 30),
    )
    tasks = FakeTasks(
        {
            "pending": True,
            "gone": False,
            "unknown-young": None,
            "unknown-old": None,
            "retrying": True,
        }
    )
    result = sweeper(repo, tasks).recover_stuck(TIMEOUTS)
    assert (result.waiting, result.refunded) == (3, 2)
    assert settled_ids(repo) == ["gone", "unknown-old"]
