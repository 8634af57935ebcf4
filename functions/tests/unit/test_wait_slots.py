"""At most MAX_CONCURRENT_WAITS_PER_USER `Prefer: wait` calls wait at once per user: the slots
(services/concurrency.py) on a fake store, and the controller's answers beyond them. The race
across processes is tests/integration/test_wait_slots.py."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from controllers.auth import UserAuthorizer
from controllers.generation_controller import GenerationController
from controllers.http import endpoint
from core.errors import NotFoundError
from core.settings import Settings, load_settings
from schemas.documents import GenerationStatus
from services import concurrency
from services.concurrency import ConcurrencySlots
from services.generation_service import CreateResult, GenerationService
from tests.support.fakes import FakeSlots, ManualClock, record_logs
from tests.support.http import make_request
from tests.unit.test_prefer_wait import ACCEPTED, BODY, record

NOW = datetime(2026, 1, 5, tzinfo=UTC)
LEASE = timedelta(minutes=2)


def slots_of(store: FakeSlots, clock: ManualClock | None = None, limit: int = 4):
    return ConcurrencySlots(store, clock or ManualClock(NOW), kind="wait", limit=limit, lease=LEASE)


# --- the slots --------------------------------------------------------------------------------
def test_a_user_holds_at_most_limit_slots_and_gets_one_back_when_a_holder_ends():
    store = FakeSlots()
    slots = slots_of(store)
    with slots.hold("arda") as a, slots.hold("arda") as b, slots.hold("arda") as c:
        with slots.hold("arda") as d:
            assert (a, b, c, d) == (True, True, True, True)
            with slots.hold("arda") as fifth:
                assert fifth is False
            with slots.hold("havanur") as other:
                assert other is True  # another user has slots of its own
            assert store.held("arda") == 4
        with slots.hold("arda") as again:
            assert again is True  # the fourth ended: its slot is free again
    assert store.leases == {}  # every slot given back


def test_a_slot_is_given_back_when_the_block_raises():
    store = FakeSlots()
    with pytest.raises(RuntimeError), slots_of(store).hold("arda") as granted:
        assert granted
        raise RuntimeError("the wait failed")
    assert store.leases == {}


def test_a_crashed_holders_lease_is_taken_over_once_it_expired():
    store, clock = FakeSlots(), ManualClock(NOW)
    slots = slots_of(store, clock, limit=1)
    crashed = store.take("arda", 1, NOW, NOW + LEASE)  # never released
    assert crashed is not None
    with slots.hold("arda") as granted:
        assert granted is False
    clock.advance(LEASE)
    with slots.hold("arda") as granted:
        assert granted is True
        store.release(crashed)  # the old holder's late release frees nothing of the new one
        assert store.held("arda") == 1
    assert store.leases == {}


def test_the_lease_is_taken_until_now_plus_the_lease_time():
    store = FakeSlots()
    with slots_of(store).hold("arda"):
        assert list(store.expiry.values()) == [NOW + LEASE]


def test_a_store_that_fails_to_take_means_no_slot_and_a_warning(monkeypatch):
    logged = record_logs(monkeypatch, concurrency)
    store = FakeSlots()
    store.take_error = TimeoutError("the slot store did not answer in time")
    with slots_of(store).hold("arda") as granted:
        assert granted is False
    assert store.calls == [("take", "arda")]  # nothing to give back
    assert [(level, message, fields["action"]) for level, message, fields in logged] == [
        ("warn", "slot store failed", "take")
    ]


def test_a_store_that_fails_to_release_is_logged_not_raised(monkeypatch):
    logged = record_logs(monkeypatch, concurrency)
    store = FakeSlots()
    store.release_error = ConnectionError("firestore went away")
    with slots_of(store).hold("arda") as granted:
        assert granted is True
    assert store.calls == [("take", "arda"), ("release", "arda")]
    assert [(level, fields["action"]) for level, _, fields in logged] == [("warn", "release")]


def test_the_limit_is_a_setting_of_four_by_default(monkeypatch):
    assert Settings().max_concurrent_waits_per_user == 4
    monkeypatch.delenv("FUNCTIONS_EMULATOR", raising=False)
    assert load_settings().max_concurrent_waits_per_user == 4
    monkeypatch.setenv("MAX_CONCURRENT_WAITS_PER_USER", "2")
    assert load_settings().max_concurrent_waits_per_user == 2


# --- the controller beyond the limit ----------------------------------------------------------
@pytest.fixture
def service(mocker):
    # A mock, as in test_prefer_wait.py: these tests check which calls the controller makes.
    fake = mocker.Mock(spec=GenerationService)
    fake.create.return_value = CreateResult(202, dict(ACCEPTED))
    fake.get.return_value = record(GenerationStatus.QUEUED)
    fake.retention_fields.return_value = {}  # the per-read extras: tested on their own
    fake.wait_until_terminal.return_value = record(GenerationStatus.COMPLETED)
    fake.queue_position.return_value = None
    return fake


def handlers(service, store: FakeSlots, *, uid: str | None = None) -> tuple[Any, Any]:
    """Create and status handlers; `uid`: every call presents a token of that user."""
    auth = UserAuthorizer(uid is not None, lambda token: {"uid": uid})
    controller = GenerationController(service, auth, None, waits=slots_of(store))  # type: ignore[arg-type]
    return endpoint(["POST"])(controller.create), endpoint(["GET", "POST"])(controller.status)


def full(owner: str) -> FakeSlots:
    """A store in which `owner` already holds all four slots."""
    store = FakeSlots()
    for _ in range(4):
        assert store.take(owner, 4, NOW, NOW + LEASE) is not None
    return store


def post(handler: Any, prefer: str, body: dict[str, Any], token: bool = False) -> Any:
    headers = {"Prefer": prefer} | ({"Authorization": "Bearer t"} if token else {})
    return handler(make_request("POST", json_body=body, headers=headers))


def get(handler: Any, prefer: str, token: bool = False) -> Any:
    headers = {"Prefer": prefer} | ({"Authorization": "Bearer t"} if token else {})
    return handler(make_request("GET", query={"generationRequestId": "r1"}, headers=headers))


def test_a_create_beyond_the_limit_is_created_and_answered_at_once_without_the_header(service):
    create_handler, _ = handlers(service, full("arda"))
    response = post(create_handler, "wait=30", BODY)
    assert (response.status_code, response.get_json()) == (202, ACCEPTED)  # as without Prefer
    assert "Preference-Applied" not in response.headers
    service.create.assert_called_once()
    service.wait_until_terminal.assert_not_called()


def test_a_status_read_beyond_the_limit_is_a_plain_read(service):
    _, status_handler = handlers(service, full("arda"))
    response = get(status_handler, "wait=30")
    assert response.status_code == 200
    assert response.get_json()["status"] == "queued"
    assert "Preference-Applied" not in response.headers
    service.wait_until_terminal.assert_not_called()


def test_within_the_limit_the_wait_holds_a_slot_and_gives_it_back(service):
    store = FakeSlots()
    create_handler, status_handler = handlers(service, store)
    assert post(create_handler, "wait=5", BODY).headers["Preference-Applied"] == "wait=5"
    assert get(status_handler, "wait=5").headers["Preference-Applied"] == "wait=5"
    assert store.calls == [("take", "arda"), ("release", "arda")] * 2
    assert store.leases == {}


def test_an_anonymous_wait_counts_against_the_user_it_is_for(service):
    """The open emulator mode: the create's userId, the status read's request owner."""
    store = full("havanur")  # someone else's slots are all taken: no matter
    create_handler, status_handler = handlers(service, store)
    assert "Preference-Applied" in post(create_handler, "wait=5", BODY).headers
    assert "Preference-Applied" in get(status_handler, "wait=5").headers
    assert [who for _, who in store.calls[4:]] == ["arda"] * 4


def test_an_identified_wait_counts_against_the_callers_uid(service):
    create_handler, status_handler = handlers(service, full("arda"), uid="arda")
    assert "Preference-Applied" not in post(create_handler, "wait=5", BODY, token=True).headers
    assert "Preference-Applied" not in get(status_handler, "wait=5", token=True).headers
    service.wait_until_terminal.assert_not_called()


def test_a_finished_request_answers_at_once_with_the_header_and_takes_no_slot(service):
    service.get.return_value = record(GenerationStatus.COMPLETED)
    store = full("arda")
    _, status_handler = handlers(service, store)
    response = get(status_handler, "wait=5")
    assert response.headers["Preference-Applied"] == "wait=5"
    assert response.get_json()["status"] == "completed"
    assert len(store.calls) == 4  # only the takes that filled the store
    service.wait_until_terminal.assert_not_called()


def test_an_unknown_request_is_404_before_any_slot_is_taken(service):
    service.get.side_effect = NotFoundError("nope", error="generation_not_found")
    store = FakeSlots()
    _, status_handler = handlers(service, store)
    response = get(status_handler, "wait=5")
    assert (response.status_code, response.get_json()["error"]) == (404, "generation_not_found")
    assert store.calls == []


def test_a_failing_slot_store_answers_without_waiting_never_an_error(service):
    store = FakeSlots()
    store.take_error = ConnectionError("firestore went away")
    create_handler, status_handler = handlers(service, store)
    created = post(create_handler, "wait=5", BODY)
    assert (created.status_code, created.get_json()) == (202, ACCEPTED)
    read = get(status_handler, "wait=5")
    assert read.status_code == 200 and "Preference-Applied" not in read.headers
    service.wait_until_terminal.assert_not_called()
