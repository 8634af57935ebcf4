"""The sweeper's per-request isolation and its waiting rule, with the repository faked."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from schemas.store import MalformedRecord, StuckCandidate
from services.worker_service import GenerationWorker, StuckTimeouts

NOW = datetime(2026, 3, 2, 12, tzinfo=UTC)
TIMEOUTS = StuckTimeouts(processing_seconds=600, queued_seconds=3600)


class Clock:
    def now(self) -> datetime:
        return NOW


class FakeRepo:
    def __init__(self, candidates, failing=(), malformed=()) -> None:
        self.candidates = candidates
        self.failing = set(failing)
        self.malformed = set(malformed)
        self.settled: list[str] = []
        self.quarantined: list[str] = []

    def find_stuck(self, statuses, updated_before):
        return self.candidates

    def settle(self, request_id, outcome, now, **kwargs):
        if request_id in self.failing:
            raise RuntimeError("boom")
        if request_id in self.malformed:
            raise MalformedRecord("malformed record: credits_deducted")
        self.settled.append(request_id)
        return object()

    def quarantine(self, request_id, reason, now):
        self.quarantined.append(request_id)
        return True


def candidate(request_id, status="queued", minutes=20):
    return StuckCandidate(request_id, status, NOW - timedelta(minutes=minutes))


def test_failures_are_isolated_counted_and_queued_requests_wait_without_a_task_lookup():
    repo = FakeRepo(
        [
            candidate("young-queued", minutes=20),
            candidate("old-queued", minutes=90),
            candidate("processing", status="processing", minutes=20),
            candidate("bad", minutes=90),
            candidate("broken", minutes=90),
        ],
        failing={"bad"},
        malformed={"broken"},
    )
    result = GenerationWorker(repo, None, None, Clock()).recover_stuck(TIMEOUTS)  # type: ignore[arg-type]
    assert result.as_dict() == {
        "examined": 5,
        "refunded": 2,
        "waiting": 1,
        "settled_elsewhere": 0,
        "quarantined": 1,
        "skipped": 1,
        "webhooks_requeued": 0,  # no webhook queue wired
    }
    assert repo.settled == ["old-queued", "processing"]
    assert repo.quarantined == ["broken"]


class Tasks:
    def __init__(self, answers):
        self.answers = answers

    def task_exists(self, request_id):
        return self.answers[request_id]


def test_a_task_lookup_decides_when_it_answers():
    repo = FakeRepo(
        [
            candidate("pending", minutes=600),
            candidate("gone", minutes=20),
            candidate("unknown-young", minutes=20),
            candidate("unknown-old", minutes=90),
            candidate("retrying", status="processing", minutes=30),
        ]
    )
    tasks = Tasks(
        {
            "pending": True,
            "gone": False,
            "unknown-young": None,
            "unknown-old": None,
            "retrying": True,
        }
    )
    result = GenerationWorker(repo, None, None, Clock(), tasks).recover_stuck(TIMEOUTS)  # type: ignore[arg-type]
    assert (result.waiting, result.refunded) == (3, 2)
    assert repo.settled == ["gone", "unknown-old"]
