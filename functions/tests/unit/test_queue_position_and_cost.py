"""`queuePosition` (a count of the queued requests ahead, capped) and `creditsCharged` /
`creditsRefunded` (read off the record) in the status body, list items and webhook events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from controllers.auth import AdminGuard, UserAuthorizer
from controllers.generation_controller import GenerationController
from schemas.documents import OWNER_MISSING, Catalog, GenerationRecord, GenerationStatus
from schemas.ledger import refund, refunded_credits
from schemas.responses import (
    QUEUE_POSITION_CAP,
    generation_status_body,
    generation_summary_body,
    queue_position_body,
    webhook_event,
)
from services import generation_service
from services.catalog_service import CatalogService
from services.generation_service import GenerationService
from tests.support.fakes import (
    FakeCatalog,
    FakeGenerations,
    FakeQueue,
    FakeSlots,
    ManualClock,
)
from tests.support.http import call
from tests.support.records import processing_record
from tests.unit.test_wait_slots import slots_of

NOW = datetime(2026, 3, 2, 12, tzinfo=UTC)


def queued(request_id: str, seconds: float, user_id: str = "arda") -> GenerationRecord:
    at = NOW + timedelta(seconds=seconds)
    return processing_record(
        id=request_id,
        user_id=user_id,
        status=GenerationStatus.QUEUED,
        created_at=at,
        updated_at=at,
    )


def service_over(
    *records: GenerationRecord, cap: int = QUEUE_POSITION_CAP
) -> tuple[GenerationService, FakeGenerations]:
    clock = ManualClock(NOW)
    store = FakeGenerations(*records, users={"arda": 10, "emma": 10})
    elapsed = [0.0]  # `Prefer: wait` sleeps on this fake time

    def sleep(seconds: float) -> None:
        elapsed[0] += seconds

    service = GenerationService(
        CatalogService(FakeCatalog(Catalog(styles=[], colors=[], sizes=[])), clock),
        store,
        FakeQueue(),
        clock,
        max_in_flight=10,
        sleep=sleep,
        monotonic=lambda: elapsed[0],
        queue_position_cap=cap,
    )
    return service, store


# --- creditsCharged / creditsRefunded ---------------------------------------------------------
@pytest.mark.parametrize(
    ("status", "refunded"),
    [("queued", 0), ("processing", 0), ("completed", 0), ("failed", 4), ("cancelled", 4)],
)
def test_the_cost_is_the_charge_and_the_refund_of_a_failed_or_cancelled_request(status, refunded):
    record = processing_record(status=GenerationStatus(status), credits_deducted=4)
    body = generation_status_body(record)
    assert (body["creditsCharged"], body["creditsRefunded"]) == (4, refunded)
    # list items and webhook events carry the same two fields
    item = generation_summary_body(record)
    assert (item["creditsCharged"], item["creditsRefunded"]) == (4, refunded)
    event = webhook_event(record)["data"]
    assert (event["creditsCharged"], event["creditsRefunded"]) == (4, refunded)


@pytest.mark.parametrize("status", ["failed", "cancelled"])
def test_the_refund_is_what_the_ledger_books_for_it(status):
    record = processing_record(status=GenerationStatus(status), credits_deducted=3)
    assert refunded_credits(record) == refund(record, "why", NOW).credits == 3


def test_a_request_settled_without_an_owner_refunded_nothing():
    """The settle finds no owner document to refund and books no refund entry."""
    record = processing_record(status=GenerationStatus.FAILED, settle_problem=OWNER_MISSING)
    assert generation_status_body(record)["creditsRefunded"] == 0
    assert generation_status_body(record)["creditsCharged"] == 1


def test_the_original_fields_stay_as_they_were():
    body = generation_status_body(processing_record(credits_deducted=4))
    assert body["progress"] == 50.0 and body["imageUrl"] is None
    assert generation_summary_body(processing_record(credits_deducted=4))["credits_deducted"] == 4


# --- queuePosition: the formatting of the capped count ----------------------------------------
@pytest.mark.parametrize(
    ("ahead", "cap", "shown"),
    [
        (0, 1000, 0),
        (1, 1000, 1),
        (999, 1000, 999),
        (1000, 1000, 1000),  # exactly the cap: an exact count, shown as a number
        (1001, 1000, "1000+"),
        (3, 3, 3),
        (4, 3, "3+"),
    ],
)
def test_the_position_is_the_count_up_to_the_cap_and_cap_plus_beyond(ahead, cap, shown):
    assert queue_position_body(ahead, cap) == shown


def test_the_production_cap_is_1000():
    assert QUEUE_POSITION_CAP == 1000
    assert queue_position_body(1001) == "1000+"


@given(st.integers(1, 2000), st.data())
def test_a_position_is_an_integer_up_to_the_cap_or_the_cap_plus(cap, data):
    ahead = data.draw(st.integers(0, cap + 1))  # the count never reads more than cap + 1
    shown = queue_position_body(ahead, cap)
    assert shown == ahead if ahead <= cap else shown == f"{cap}+"
    assert isinstance(shown, int) or shown == f"{cap}+"


# --- queuePosition: the service's count -------------------------------------------------------
def test_queued_requests_of_every_user_count_in_creation_order():
    records = [
        queued("c", 0, "arda"),
        queued("a", 1, "emma"),
        queued("b", 2, "arda"),
        processing_record(id="p", created_at=NOW - timedelta(seconds=9)),  # not queued: not ahead
    ]
    service, _ = service_over(*records)
    assert [service.queue_position(r) for r in records[:3]] == [0, 1, 2]


def test_requests_created_at_the_same_instant_are_ordered_by_id():
    records = [queued("b", 0), queued("a", 0), queued("c", 0)]
    service, _ = service_over(*records)
    assert {r.id: service.queue_position(r) for r in records} == {"a": 0, "b": 1, "c": 2}


def test_a_request_that_is_not_queued_has_no_position_and_costs_no_count():
    service, store = service_over(queued("q", 0))
    for status in GenerationStatus:
        if status is not GenerationStatus.QUEUED:
            assert service.queue_position(processing_record(status=status)) is None
    assert store.queue_counts == []


def test_the_count_reads_at_most_one_more_than_the_cap():
    records = [queued(f"r{i}", i) for i in range(5)]
    service, store = service_over(*records, cap=3)
    assert [service.queue_position(r) for r in records] == [0, 1, 2, 3, "3+"]
    assert {limit for _, limit in store.queue_counts} == {4}


def test_a_failing_count_answers_no_position_and_is_logged(monkeypatch):
    logged: list[tuple[str, Exception, dict[str, Any]]] = []
    monkeypatch.setattr(
        generation_service, "log_exception", lambda m, e, **f: logged.append((m, e, f))
    )
    service, store = service_over(queued("q", 0))
    store.queue_count_error = RuntimeError("index missing")
    assert service.queue_position(queued("q", 0)) is None
    assert logged == [
        ("queue position count failed", store.queue_count_error, {"generationRequestId": "q"})
    ]


# --- the controller: every status answer carries it, list items do not ------------------------
def controller(*records: GenerationRecord, cap: int = QUEUE_POSITION_CAP) -> GenerationController:
    return GenerationController(
        service_over(*records, cap=cap)[0],
        UserAuthorizer(False, lambda token: {}),
        AdminGuard("k" * 32),
        waits=slots_of(FakeSlots()),
    )


def status_of(ctl: GenerationController, request_id: str, **headers: str) -> dict[str, Any]:
    query = {"generationRequestId": request_id}
    status, body = call(ctl.status, "GET", query=query, headers=headers)
    assert status == 200, body
    return dict(body)


def test_the_status_answer_carries_the_position_while_queued_and_null_after():
    records = [queued("r0", 0), queued("r1", 1, "emma"), queued("r2", 2)]
    done = processing_record(id="done", status=GenerationStatus.COMPLETED)
    ctl = controller(*records, done)
    assert [status_of(ctl, r.id)["queuePosition"] for r in records] == [0, 1, 2]
    assert status_of(ctl, "done")["queuePosition"] is None
    assert status_of(ctl, "r2", Prefer="wait=1")["queuePosition"] == 2  # still queued when it ends


def test_list_items_carry_the_cost_but_no_position():
    ctl = controller(queued("r0", 0), queued("r1", 1))
    status, body = call(ctl.list_for_user, "GET", query={"userId": "arda"})
    assert status == 200
    for item in body["requests"]:
        assert "queuePosition" not in item
        assert (item["creditsCharged"], item["creditsRefunded"]) == (1, 0)


def test_the_cancel_answer_carries_the_refund():
    ctl = controller(queued("r0", 0))
    status, body = call(ctl.cancel, json_body={"generationRequestId": "r0"})
    assert status == 200
    assert (body["creditsCharged"], body["creditsRefunded"], body["refundedCredits"]) == (1, 1, 1)
