"""`Prefer: wait`: the header parser, the service's backoff poll (on a fake clock, so nothing
here really sleeps), the controller's answers, and the timeout that must cover the wait."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from controllers.auth import UserAuthorizer
from controllers.generation_controller import GenerationController
from controllers.http import CORS_HEADERS, endpoint
from controllers.prefer import parse_wait
from core import capacity
from core.errors import NotFoundError, ValidationError
from core.firestore_client import RPC_DEADLINE_SECONDS
from repositories.firestore_helpers import TRANSACTION_DEADLINE_SECONDS
from repositories.slots import RELEASE_SECONDS, TAKE_SECONDS
from schemas.documents import Catalog, GenerationRecord, GenerationStatus
from services.catalog_service import CatalogService
from services.concurrency import ConcurrencySlots
from services.generation_service import (
    WAIT_FIRST_POLL_SECONDS,
    WAIT_MAX_POLL_SECONDS,
    CreateResult,
    GenerationService,
)
from tests.support.fakes import (
    FakeCatalog,
    FakeQueue,
    FakeSlots,
    FakeTime,
    ManualClock,
    ScriptedRequests,
)
from tests.support.http import call, make_request
from tests.support.records import status_record

NOW = datetime(2026, 1, 5, tzinfo=UTC)


# --- the parser -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("values", "seconds"),
    [
        ([], None),
        (["return=minimal"], None),
        (["respond-async, handling=lenient"], None),
        ([""], None),
        ([" , ,"], None),
        (["wait"], 60),
        (["WAIT"], 60),
        (["wait="], 60),  # RFC 7240: an empty value is no value
        (['wait=""'], 60),
        (["wait=1"], 1),
        (["wait=60"], 60),
        (["Wait=10"], 10),
        (["wait = 10"], 10),
        (['wait="10"'], 10),
        (["wait=05"], 5),
        (["return=minimal, wait=5"], 5),
        (["wait=5; foo=bar; baz, respond-async"], 5),
        (['foo="a, wait=9; \\"quoted\\"", wait=7'], 7),  # a comma inside quotes splits nothing
        (["return=minimal", "wait=30"], 30),  # two Prefer headers are one list
        (["wait=5, wait=5"], 5),  # the same value twice
        (["wait=5", "wait=05"], 5),
        (["wait, wait=60"], 60),
    ],
)
def test_wait_is_read_from_the_preferences(values: list[str], seconds: int | None) -> None:
    assert parse_wait(values) == seconds


@pytest.mark.parametrize(
    "values",
    [
        ["wait=abc"],
        ["wait=0"],
        ["wait=61"],
        ["wait=-1"],
        ["wait=1.5"],
        ["wait=100"],
        ["wait=060"],
        ["wait=+5"],
        ["wait=\uff15"],  # a fullwidth digit 5
        ['wait="1 "'],
        ["wait=5, wait=10"],  # conflicting waits
        ["wait=5", "wait=6"],
        ["wait, wait=30"],  # bare wait is 60
        ["wait 5"],
        ["wait=5 10"],
        ["=5"],
        ["wait=5;;x y"],
        ['wait="5'],  # unterminated quote
        ["wait=(5)"],
        ["wa\u00efit=5"],
        ["return=minimal; wait=5 ="],
    ],
)
def test_malformed_or_out_of_range_is_invalid_prefer(values: list[str]) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_wait(values)
    error = caught.value
    assert (error.status, error.error) == (400, "invalid_prefer")
    assert [d.field for d in error.details or []] == ["Prefer"]
    assert "Prefer" in error.message


@given(st.lists(st.text(st.characters(max_codepoint=0xFF)), max_size=3))
def test_any_header_is_a_wait_none_or_a_400(values: list[str]) -> None:
    """Whatever a client sends (latin-1, as HTTP headers arrive): never another exception."""
    try:
        seconds = parse_wait(values)
    except ValidationError as error:
        assert error.error == "invalid_prefer"
    else:
        assert seconds is None or 1 <= seconds <= capacity.MAX_WAIT_SECONDS


# --- the service's poll -----------------------------------------------------------------------
def record(
    status: GenerationStatus, request_id: str = "r1", owner: str = "arda"
) -> GenerationRecord:
    return status_record(status, NOW, request_id, owner)


def waiting_service(changes: dict[float, GenerationStatus | None]):
    clock = FakeTime()
    requests = ScriptedRequests(clock, changes, NOW)
    wall_clock = ManualClock(NOW)
    service = GenerationService(
        CatalogService(FakeCatalog(Catalog(styles=[], colors=[], sizes=[])), wall_clock),
        requests,
        FakeQueue(),
        wall_clock,
        max_in_flight=10,
        sleep=clock.sleep,
        monotonic=clock.monotonic,
    )
    return service, clock, requests


def test_a_terminal_request_answers_at_once():
    service, clock, requests = waiting_service({0: GenerationStatus.FAILED})
    assert service.wait_until_terminal("r1", 60).status is GenerationStatus.FAILED
    assert clock.sleeps == [] and requests.reads == [0]


def test_polls_back_off_and_stop_when_terminal():
    changes = {0: GenerationStatus.QUEUED, 0.5: GenerationStatus.PROCESSING}
    service, clock, requests = waiting_service(changes | {3.0: GenerationStatus.COMPLETED})
    done = service.wait_until_terminal("r1", 10)
    assert done.status is GenerationStatus.COMPLETED
    assert clock.sleeps == pytest.approx([0.05, 0.1, 0.2, 0.4, 0.8, 1.0, 1.0])
    assert len(requests.reads) == len(clock.sleeps) + 1  # one read after each sleep
    assert clock.now == pytest.approx(3.55)  # found within one poll interval of the change


def test_the_poll_interval_doubles_from_50_ms_to_at_most_1_s():
    service, clock, _ = waiting_service({0: GenerationStatus.QUEUED})
    service.wait_until_terminal("r1", 60)
    assert clock.sleeps[0] == WAIT_FIRST_POLL_SECONDS == 0.05
    assert max(clock.sleeps) == WAIT_MAX_POLL_SECONDS == 1.0
    assert all(
        b == min(2 * a, 1.0) for a, b in zip(clock.sleeps[:5], clock.sleeps[1:6], strict=True)
    )
    assert len(clock.sleeps) < 70  # about one read a second, never a busy loop


@pytest.mark.parametrize("seconds", [1, 7, 60])
def test_a_request_still_running_is_answered_at_the_deadline_never_after(seconds):
    service, clock, requests = waiting_service({0: GenerationStatus.QUEUED})
    still = service.wait_until_terminal("r1", seconds)
    assert still.status is GenerationStatus.QUEUED
    assert clock.now == pytest.approx(seconds)  # the last sleep is cut short
    assert requests.reads[-1] == pytest.approx(seconds)  # and one last read at the deadline
    assert all(read <= seconds + 1e-9 for read in requests.reads)


def test_a_change_at_the_last_moment_is_seen():
    changes = {0: GenerationStatus.QUEUED, 2.0: GenerationStatus.CANCELLED}
    service, clock, _ = waiting_service(changes)
    assert service.wait_until_terminal("r1", 2).status is GenerationStatus.CANCELLED
    assert clock.now == pytest.approx(2.0)


def test_waiting_on_another_users_request_is_404_without_waiting():
    service, clock, _ = waiting_service({0: GenerationStatus.QUEUED})
    with pytest.raises(NotFoundError):
        service.wait_until_terminal("r1", 30, visible=lambda owner: owner == "havanur")
    assert clock.sleeps == []


def test_a_request_that_disappears_midway_is_404():
    service, _, _ = waiting_service({0: GenerationStatus.QUEUED, 1: None})
    with pytest.raises(NotFoundError):
        service.wait_until_terminal("r1", 30)


# --- the controller ---------------------------------------------------------------------------
ACCEPTED = {"generationRequestId": "r1", "status": "queued", "deductedCredits": 1, "imageUrl": None}
BODY = {
    "userId": "arda",
    "model": "Model A",
    "style": "anime",
    "color": "neon",
    "size": "512x512",
    "prompt": "p",
}


@pytest.fixture
def service(mocker):
    # A mock: these tests check which calls the controller makes on the service.
    fake = mocker.Mock(spec=GenerationService)
    fake.create.return_value = CreateResult(202, dict(ACCEPTED))
    fake.get.return_value = record(GenerationStatus.QUEUED)
    fake.retention_fields.return_value = {}  # the per-read extras: tested on their own
    fake.queue_position.return_value = None
    return fake


def handlers(service, slots: FakeSlots | None = None) -> tuple[Any, Any]:
    waits = ConcurrencySlots(
        slots or FakeSlots(), ManualClock(NOW), kind="wait", limit=4, lease=timedelta(minutes=2)
    )
    controller = GenerationController(
        service,
        UserAuthorizer(False, lambda token: {}),
        None,  # type: ignore[arg-type]
        waits=waits,
    )
    return endpoint(["POST"])(controller.create), endpoint(["GET", "POST"])(controller.status)


def create(service, prefer: str | None = None) -> tuple[int, Any, Any]:
    create_handler, _ = handlers(service)
    headers = {"Prefer": prefer} if prefer is not None else None
    response = create_handler(make_request("POST", json_body=BODY, headers=headers))
    return response.status_code, response.get_json(), response.headers


def test_without_prefer_the_create_answer_is_unchanged(service):
    status, body, headers = create(service)
    assert (status, body) == (202, ACCEPTED)
    assert "Preference-Applied" not in headers
    service.wait_until_terminal.assert_not_called()


def test_prefer_without_wait_changes_nothing(service):
    status, body, headers = create(service, "return=minimal")
    assert (status, body) == (202, ACCEPTED) and "Preference-Applied" not in headers


@pytest.mark.parametrize(
    ("final", "status"),
    [
        (GenerationStatus.COMPLETED, 200),
        (GenerationStatus.FAILED, 200),
        (GenerationStatus.CANCELLED, 200),
        (GenerationStatus.QUEUED, 202),
        (GenerationStatus.PROCESSING, 202),
    ],
)
def test_a_waited_create_answers_the_status_with_the_charge(service, final, status):
    service.wait_until_terminal.return_value = record(final)
    answer, body, headers = create(service, "wait=10")
    assert answer == status
    assert body["generationRequestId"] == "r1" and body["status"] == final.value
    assert body["deductedCredits"] == 1 and body["progress"] == final.progress
    assert set(body) >= {"imageUrl", "error_message", "created_at", "updated_at", "completed_at"}
    assert headers["Preference-Applied"] == "wait=10"
    assert headers["Access-Control-Expose-Headers"] == "Preference-Applied"
    service.wait_until_terminal.assert_called_once_with("r1", 10)


def test_bare_wait_waits_the_longest(service):
    service.wait_until_terminal.return_value = record(GenerationStatus.COMPLETED)
    assert create(service, "wait")[2]["Preference-Applied"] == "wait=60"
    service.wait_until_terminal.assert_called_once_with("r1", 60)


def test_a_refused_create_replayed_from_its_key_is_answered_as_stored_without_waiting(service):
    stored = {"success": False, "error_type": "queue_failure", "refunded": True}
    service.create.return_value = CreateResult(503, stored)
    status, body, headers = create(service, "wait=5")
    assert (status, body) == (503, stored) and "Preference-Applied" not in headers
    service.wait_until_terminal.assert_not_called()


@pytest.mark.parametrize("prefer", ["wait=abc", "wait=0", "wait=61", "wait=1.5", "wait=1, wait=2"])
def test_a_bad_prefer_is_400_before_anything_is_charged(service, prefer):
    status, body, headers = create(service, prefer)
    assert status == 400
    assert (body["success"], body["error"]) == (False, "invalid_prefer")
    assert body["details"][0]["field"] == "Prefer"
    assert headers["Access-Control-Allow-Origin"] == "*"
    service.create.assert_not_called()


def test_a_read_failing_during_the_wait_still_answers_the_accepted_202(service):
    service.wait_until_terminal.side_effect = ConnectionError("firestore went away")
    status, body, headers = create(service, "wait=10")
    assert (status, body) == (202, ACCEPTED)  # the charged request's id, not a 5xx to retry
    assert "Preference-Applied" not in headers


def test_a_status_read_with_wait_is_200_either_way(service):
    _, status_handler = handlers(service)
    for final in (GenerationStatus.PROCESSING, GenerationStatus.COMPLETED):
        service.wait_until_terminal.return_value = record(final)
        with_wait = call(
            status_handler, "GET", query={"generationRequestId": "r1"}, headers={"Prefer": "wait=3"}
        )
        assert with_wait[0] == 200 and with_wait[1]["status"] == final.value
    request_id, seconds, visible = service.wait_until_terminal.call_args.args
    assert (request_id, seconds) == ("r1", 3) and visible("anyone")  # open mode sees all


def test_a_status_read_without_wait_reads_once(service):
    _, status_handler = handlers(service)
    status, body = call(status_handler, "GET", query={"generationRequestId": "r1"})
    assert (status, body["status"]) == (200, "queued")
    service.wait_until_terminal.assert_not_called()


def test_a_status_read_with_a_bad_prefer_is_400(service):
    _, status_handler = handlers(service)
    status, body = call(
        status_handler, "GET", query={"generationRequestId": "r1"}, headers={"Prefer": "wait=x"}
    )
    assert (status, body["error"]) == (400, "invalid_prefer")
    service.wait_until_terminal.assert_not_called()


def test_browsers_may_send_prefer_and_read_preference_applied():
    assert "Prefer" in [h.strip() for h in CORS_HEADERS["Access-Control-Allow-Headers"].split(",")]
    assert CORS_HEADERS["Access-Control-Expose-Headers"] == "Preference-Applied"


# --- the timeout covers the wait --------------------------------------------------------------
# The charge, taking a wait slot, the wait with its last read, giving the slot back.
LONGEST_WAITING_CALL = (
    TRANSACTION_DEADLINE_SECONDS
    + TAKE_SECONDS
    + capacity.MAX_WAIT_SECONDS
    + RPC_DEADLINE_SECONDS
    + RELEASE_SECONDS
)


def test_the_waiting_timeout_covers_the_longest_call_with_margin():
    assert capacity.WAITING["timeout_sec"] >= LONGEST_WAITING_CALL + 20
    assert capacity.MAX_WAIT_SECONDS == 60


def test_a_wait_slot_lease_outlives_any_call_that_holds_it():
    """A lease is taken to be a crashed holder's only once no call could still hold it."""
    assert capacity.WAIT_LEASE_SECONDS >= capacity.WAITING["timeout_sec"] > LONGEST_WAITING_CALL
