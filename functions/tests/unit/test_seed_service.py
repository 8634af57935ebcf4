"""SeedService: writes through the store's owned-only operations and reports what it did."""

from __future__ import annotations

from datetime import UTC, datetime

from services.seeding import reference_data
from services.seeding.service import SeedOutcome, SeedService
from tests.support.fakes import FakeSeedStore, ManualClock

NOW = datetime(2025, 8, 6, 13, 45, tzinfo=UTC)


def seed(foreign: set[str]) -> tuple[SeedOutcome, FakeSeedStore]:
    repository = FakeSeedStore(foreign)
    outcome = SeedService(repository, ManualClock(NOW)).seed(seed=3)
    return outcome, repository


def test_every_user_gets_exactly_its_own_history():
    outcome, repository = seed(set())
    assert set(repository.users) == set(reference_data.USERS)
    for user_id, (user, requests, transactions) in repository.users.items():
        assert all(r["user_id"] == user_id for r in requests.values())
        assert all(t["user_id"] == user_id for t in transactions.values())
        deducted = sum(t["credits"] for t in transactions.values() if t["type"] == "deduction")
        refunded = sum(t["credits"] for t in transactions.values() if t["type"] == "refund")
        assert user["current_credits"] == user["initial_credits"] - deducted + refunded
    assert outcome.users_left_alone == []
    assert outcome.counts["users"] == len(reference_data.USERS)


def test_users_the_seeder_does_not_own_are_left_alone_and_not_counted():
    everyone, _ = seed(set())
    outcome, repository = seed({"arda", "realistic"})
    assert outcome.users_left_alone == ["arda"]
    assert "arda" not in repository.users
    assert outcome.counts["users"] == len(reference_data.USERS) - 1
    assert outcome.counts["styles"] == len(reference_data.STYLES) - 1
    assert outcome.counts["generation_requests"] < everyone.counts["generation_requests"]


def test_a_reseed_forgets_the_rollups_of_the_history_it_replaced():
    """Daily rollups summarise the old history: dropped once, after the new one is written."""
    _, repository = seed(set())
    assert repository.calls[-1] == "forget_rollups"
    assert repository.calls.count("forget_rollups") == 1
    assert "replace_user" in repository.calls
