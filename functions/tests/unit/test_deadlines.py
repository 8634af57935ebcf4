"""Cancel-After: the header's parsing, and a request past its deadline cancelled by whoever
reads or runs it first (service, worker, sweeper), over the shared fakes and a manual clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from controllers.cancel_after import parse_cancel_after
from controllers.http import CORS_HEADERS
from core.errors import ValidationError
from schemas.documents import Catalog, GenerationRecord, GenerationStatus
from schemas.responses import generation_status_body, webhook_event
from services.catalog_service import CatalogService
from services.generation_service import GenerationService
from services.model_simulator import ModelRun
from services.worker_service import GenerationWorker, StuckTimeouts, WorkResult
from tests.support.fakes import FakeCatalog, FakeGenerations, FakeImages, FakeQueue, ManualClock
from tests.support.records import create_body, processing_record
from tests.unit.test_generation_service import COLOR, SIZE, STYLE
from tests.unit.test_worker_images import FakeModel

NOW = datetime(2026, 3, 2, 12, tzinfo=UTC)
DEADLINE = NOW + timedelta(seconds=30)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("30s", 30), ("5m", 300), ("1h", 3600), ("5s", 5), ("24h", 86400), ("1h30m", 5400)],
)
def test_durations_from_5s_to_24h_are_accepted(value, seconds):
    assert parse_cancel_after([value]) == timedelta(seconds=seconds)


def test_no_header_is_no_deadline():
    assert parse_cancel_after([]) is None


@pytest.mark.parametrize(
    "value",
    ["4s", "25h", "24h1s", "0", "0s", "-1", "-1s", "abc", "1.5m", "", " ", "30", "30 s", "30S",
     "1m1h", "1h1h", "9" * 400 + "s", "99999999999s", "1d", "PT30S", "\uff15s"],
)  # fmt: skip
def test_anything_else_is_400_naming_the_header(value):
    with pytest.raises(ValidationError) as refused:
        parse_cancel_after([value])
    assert refused.value.error == "invalid_cancel_after"
    assert [d.field for d in refused.value.details] == ["Cancel-After"]


def test_two_headers_are_400():
    with pytest.raises(ValidationError):
        parse_cancel_after(["30s", "30s"])


# --- the service ---------------------------------------------------------------------------
def service_with(
    *records: GenerationRecord,
) -> tuple[GenerationService, FakeGenerations, ManualClock, FakeQueue]:
    clock = ManualClock(NOW)
    catalog = FakeCatalog(Catalog(styles=[STYLE], colors=[COLOR], sizes=[SIZE]))
    generations = FakeGenerations(*records, users={"arda": 10})
    queue = FakeQueue()
    service = GenerationService(
        CatalogService(catalog, clock), generations, queue, clock, max_in_flight=10,
        new_id=lambda: "id-1",
    )  # fmt: skip
    return service, generations, clock, queue


def with_deadline(status: GenerationStatus = GenerationStatus.QUEUED) -> GenerationRecord:
    return processing_record(status=status, credits_deducted=4, cancel_at=DEADLINE)


def test_the_deadline_is_counted_from_the_stored_creation_time():
    service, generations, _, _ = service_with()
    service.create(create_body(), None, timedelta(minutes=5))
    [charge] = generations.charges
    assert charge.cancel_after == timedelta(minutes=5)
    assert generations.records["id-1"].cancel_at == NOW + timedelta(minutes=5)
    assert generation_status_body(generations.records["id-1"])["cancelAt"] == (
        "2026-03-02T12:05:00+00:00"
    )


def test_without_the_header_there_is_no_deadline():
    service, generations, _, _ = service_with()
    service.create(create_body(), None)
    record = generations.records["id-1"]
    assert record.cancel_at is None
    assert generation_status_body(record)["cancelAt"] is None


def test_the_deadline_is_part_of_what_an_idempotency_key_identifies():
    service, generations, _, _ = service_with()
    service.create(create_body(), "k")
    service.create(create_body(), "k", timedelta(seconds=30))
    service.create(create_body(), "k", timedelta(seconds=31))
    plain, thirty, other = (c.claim for c in generations.charges)
    assert plain is not None and thirty is not None and other is not None
    assert len({plain.request_hash, thirty.request_hash, other.request_hash}) == 3
    assert len({plain.doc_id, thirty.doc_id, other.doc_id}) == 1


@pytest.mark.parametrize("status", [GenerationStatus.QUEUED, GenerationStatus.PROCESSING])
def test_a_read_at_the_deadline_cancels_and_refunds(status):
    service, generations, clock, queue = service_with(with_deadline(status))
    clock.current = DEADLINE - timedelta(microseconds=1)
    assert service.get("req-1").status is status
    clock.current = DEADLINE
    record = service.get("req-1")
    assert (record.status, record.cancel_reason) == (GenerationStatus.CANCELLED, "deadline")
    assert generations.users["arda"] == 14
    assert queue.cancelled == ["req-1"]
    body = generation_status_body(record)
    assert (body["status"], body["cancelReason"]) == ("cancelled", "deadline")
    assert service.get("req-1") == record  # read again: nothing more happens
    assert len(generations.settled) == 1


def test_a_read_of_a_finished_request_past_its_deadline_changes_nothing():
    done = with_deadline(GenerationStatus.COMPLETED)
    service, generations, clock, _ = service_with(done)
    clock.current = DEADLINE + timedelta(hours=1)
    assert service.get("req-1") == done
    assert generations.settles == []


def test_a_listing_shows_no_request_past_its_deadline_in_flight():
    service, _, clock, _ = service_with(with_deadline())
    clock.current = DEADLINE
    [listed] = service.list_for_user("arda", 10)
    assert (listed.status, listed.cancel_reason) == (GenerationStatus.CANCELLED, "deadline")


def test_a_wait_stops_at_the_deadline_and_answers_the_cancelled_request():
    service, _, clock, _ = service_with(with_deadline())
    slept: list[float] = []
    monotonic = [0.0]

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        monotonic[0] += seconds
        clock.advance(timedelta(seconds=seconds))

    service._sleep = sleep  # the service's injected sleep and monotonic clock
    service._monotonic = lambda: monotonic[0]
    clock.current = DEADLINE - timedelta(seconds=2.5)
    record = service.wait_until_terminal("req-1", 60)
    assert record.status is GenerationStatus.CANCELLED
    assert sum(slept) == pytest.approx(2.5)  # woke at the deadline, not at the wait's end


def test_user_and_admin_cancels_say_who():
    service = service_with(with_deadline())[0]
    assert service.cancel("req-1", reason="admin").cancel_reason == "admin"
    service = service_with(with_deadline())[0]
    assert service.cancel("req-1").cancel_reason == "user"


def test_a_user_cancel_after_the_deadline_finds_it_cancelled_by_the_deadline():
    service, generations, clock, _ = service_with(with_deadline())
    clock.current = DEADLINE
    assert service.cancel("req-1").cancel_reason == "deadline"
    assert len(generations.settled) == 1


def test_the_webhook_event_is_cancelled_with_the_reason():
    service, _, clock, _ = service_with(with_deadline())
    clock.current = DEADLINE
    event = webhook_event(service.get("req-1"))
    assert event["type"] == "generation.cancelled"
    assert event["data"]["cancelReason"] == "deadline"


# --- the worker and the sweeper ---------------------------------------------------------------
def worker_with(record: GenerationRecord, clock: ManualClock, model: FakeModel):
    generations = FakeGenerations(record, users={"arda": 0})
    images = FakeImages()
    # FakeModel stands in for the concrete ModelSimulator (not a port)
    return GenerationWorker(generations, model, images, clock), generations, images  # type: ignore[arg-type]


def test_the_worker_does_not_start_a_request_past_its_deadline():
    clock = ManualClock(DEADLINE)
    ran: list[str] = []
    model = FakeModel(ModelRun(png=b"png"), lambda: ran.append("ran"))
    worker, generations, images = worker_with(with_deadline(), clock, model)
    assert worker.process("req-1") is WorkResult.EXPIRED
    assert ran == [] and images.saved == []
    assert generations.records["req-1"].cancel_reason == "deadline"
    assert generations.users["arda"] == 4


def test_a_result_that_comes_after_the_deadline_is_discarded_and_refunded():
    clock = ManualClock(NOW)
    model = FakeModel(ModelRun(png=b"png"), lambda: clock.advance(timedelta(minutes=1)))
    worker, generations, images = worker_with(with_deadline(), clock, model)
    assert worker.process("req-1") is WorkResult.EXPIRED
    record = generations.records["req-1"]
    assert (record.status, record.cancel_reason) == (GenerationStatus.CANCELLED, "deadline")
    assert record.image_url is None
    [(path, _, _)] = images.saved
    assert images.deleted == [path]  # stored, then deleted
    assert generations.users["arda"] == 4


def test_a_result_before_the_deadline_completes():
    clock = ManualClock(NOW)
    worker = worker_with(with_deadline(), clock, FakeModel(ModelRun(png=b"p")))[0]
    assert worker.process("req-1") is WorkResult.COMPLETED


def test_the_sweeper_cancels_requests_past_their_deadline_only():
    past = with_deadline()
    later = processing_record(
        id="later", status=GenerationStatus.QUEUED, cancel_at=DEADLINE + timedelta(hours=1)
    )
    none = processing_record(id="none", status=GenerationStatus.QUEUED)
    generations = FakeGenerations(past, later, none, users={"arda": 0})
    clock = ManualClock(DEADLINE)
    model = FakeModel(ModelRun(png=b"png"))
    sweeper = GenerationWorker(generations, model, FakeImages(), clock)  # type: ignore[arg-type]
    result = sweeper.recover_stuck(StuckTimeouts(processing_seconds=3600, queued_seconds=3600))
    assert result.deadline_cancelled == 1
    assert [request_id for request_id, _ in generations.settled] == ["req-1"]
    assert generations.records["req-1"].cancel_reason == "deadline"
    assert generations.users["arda"] == 4


def test_browsers_may_send_the_header():
    allowed = CORS_HEADERS["Access-Control-Allow-Headers"].split(",")
    assert "Cancel-After" in [h.strip() for h in allowed]
