"""Retention and deleteGenerationRequest: the expiry computed on read, the service's rules over
the shared fakes, and the bucket's lifecycle rule file (the Storage emulator has no lifecycle)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from core import config
from core.errors import ConfigurationError, DeleteInFlightError, NotFoundError
from core.settings import Settings
from schemas.documents import Catalog, GenerationRecord, GenerationStatus
from schemas.responses import generation_status_body, retention_body
from services.catalog_service import CatalogService
from services.generation_service import GenerationService
from tests.support.fakes import FakeCatalog, FakeGenerations, FakeImages, FakeQueue, ManualClock

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
DONE = NOW - timedelta(days=2)
THIRTY_DAYS = timedelta(days=30)
REPO = Path(__file__).resolve().parents[3]
PATH = "generated/arda/req-1.png"


def record(status: GenerationStatus = GenerationStatus.COMPLETED, **changes) -> GenerationRecord:
    completed = status is GenerationStatus.COMPLETED
    base = GenerationRecord(
        id="req-1",
        user_id="arda",
        model="Model A",
        style="anime",
        color="neon",
        size="512x512",
        status=status,
        prompt="a secret prompt",
        credits_deducted=1,
        created_at=DONE - timedelta(seconds=5),
        updated_at=DONE,
        completed_at=DONE if status.is_terminal else None,
        image_url="https://storage.test/pic" if completed else None,
        image_path=PATH if completed else None,
        image_token="tok" if completed else None,
    )
    return base.model_copy(update=changes)


# --- the expiry, computed on read -----------------------------------------------------------------
def test_a_completed_picture_expires_retention_after_completion():
    body = retention_body(record(), THIRTY_DAYS, NOW)
    assert body == {
        "imageExpiresAt": "2026-03-29T12:00:00+00:00",
        "imageExpired": False,
        "deleted": False,
    }
    # merged into the status body, the URL stays until then
    assert (generation_status_body(record()) | body)["imageUrl"] == "https://storage.test/pic"


def test_at_and_after_the_expiry_there_is_no_url_and_it_says_expired():
    expires = DONE + THIRTY_DAYS
    for now in (expires, expires + timedelta(days=400)):
        body = generation_status_body(record()) | retention_body(record(), THIRTY_DAYS, now)
        assert body["imageUrl"] is None
        assert body["imageExpired"] is True
        assert body["imageExpiresAt"] == "2026-03-29T12:00:00+00:00"
    just_before = retention_body(record(), THIRTY_DAYS, expires - timedelta(microseconds=1))
    assert just_before["imageExpired"] is False
    assert "imageUrl" not in just_before


@pytest.mark.parametrize(
    "status", [GenerationStatus.QUEUED, GenerationStatus.FAILED, GenerationStatus.CANCELLED]
)
def test_without_a_picture_there_is_no_expiry(status):
    body = retention_body(record(status), THIRTY_DAYS, NOW + timedelta(days=999))
    assert body["imageExpiresAt"] is None
    assert body["imageExpired"] is False


def test_a_naive_completion_time_is_taken_as_utc():
    naive = record(completed_at=DONE.replace(tzinfo=None))
    assert retention_body(naive, THIRTY_DAYS, NOW)["imageExpiresAt"] == "2026-03-29T12:00:00+00:00"


def test_a_deleted_request_has_no_url_and_no_expiry():
    deleted = record(deleted=True)  # even were a URL left behind
    body = generation_status_body(deleted) | retention_body(deleted, THIRTY_DAYS, NOW)
    assert body["imageUrl"] is None
    assert body["imageExpiresAt"] is None
    assert body["deleted"] is True


def test_the_retention_param_defaults_to_30_days_and_is_at_least_one():
    assert config.RETENTION_DAYS.default == 30
    assert Settings().retention_days == 30
    with pytest.raises(ValueError):
        Settings(retention_days=0)


# --- the service --------------------------------------------------------------------------------
def build(
    *records: GenerationRecord, images: FakeImages | None = None, events: list[str] | None = None
) -> tuple[GenerationService, FakeGenerations, FakeImages, ManualClock]:
    clock = ManualClock(NOW)
    generations = FakeGenerations(*records, users={"arda": 10}, events=events)
    images = images if images is not None else FakeImages(events=events)
    service = GenerationService(
        CatalogService(FakeCatalog(Catalog(styles=[], colors=[], sizes=[])), clock),
        generations,
        FakeQueue(),
        clock,
        max_in_flight=10,
        images=lambda: images,
        retention=timedelta(days=7),
    )
    return service, generations, images, clock


def test_the_service_computes_the_expiry_with_its_retention_and_clock():
    service, _, _, clock = build()
    assert service.retention_fields(record())["imageExpiresAt"] == "2026-03-06T12:00:00+00:00"
    assert service.retention_fields(record())["imageExpired"] is False
    clock.advance(timedelta(days=5))
    assert service.retention_fields(record())["imageExpired"] is True


def test_deleting_a_completed_request_marks_it_then_removes_its_picture():
    events: list[str] = []
    service, generations, images, _ = build(record(), events=events)
    deleted = service.delete("req-1", lambda owner: owner == "arda")
    assert events == ["mark_deleted", "delete"]  # the record first: no read hands out the URL
    assert images.deleted == [PATH]
    assert deleted.deleted is True
    assert deleted.deleted_at == NOW
    assert deleted.prompt == ""
    assert (deleted.image_url, deleted.image_path, deleted.image_token) == (None, None, None)
    # what stays: the request itself, its cost and its outcome
    assert (deleted.status, deleted.credits_deducted, deleted.completed_at) == (
        GenerationStatus.COMPLETED,
        1,
        DONE,
    )
    assert generations.users == {"arda": 10}  # no money moves


def test_a_repeat_answers_the_same_and_removes_the_picture_again():
    """A run stopped after the mark and before the object's removal is finished by a repeat:
    the picture's path is known from the request even once its fields are cleared."""
    service, _, images, clock = build(record())
    first = service.delete("req-1")
    clock.advance(timedelta(minutes=3))
    again = service.delete("req-1")
    assert again == first  # deleted_at is the first call's
    assert images.deleted == [PATH, PATH]


@pytest.mark.parametrize("status", [GenerationStatus.FAILED, GenerationStatus.CANCELLED])
def test_a_failed_or_cancelled_request_can_be_deleted(status):
    service, _, images, _ = build(record(status))
    deleted = service.delete("req-1")
    assert deleted.deleted is True
    assert deleted.prompt == ""
    assert deleted.status is status
    assert images.deleted == [PATH]  # nothing there: a missing object is fine


@pytest.mark.parametrize("status", [GenerationStatus.QUEUED, GenerationStatus.PROCESSING])
def test_a_request_in_flight_is_409_and_nothing_changes(status):
    service, generations, images, _ = build(record(status))
    before = generations.get("req-1")
    with pytest.raises(DeleteInFlightError) as refused:
        service.delete("req-1")
    assert refused.value.status == 409
    assert refused.value.error == "delete_in_flight"
    assert "cancel" in refused.value.message.lower()
    assert generations.get("req-1") == before
    assert images.deleted == []


def test_another_users_request_is_404_like_an_unknown_one():
    service, generations, images, _ = build(record())
    with pytest.raises(NotFoundError) as hidden:
        service.delete("req-1", lambda owner: owner == "someone-else")
    with pytest.raises(NotFoundError) as unknown:
        service.delete("nope", lambda owner: owner == "someone-else")
    assert hidden.value.envelope() | {"message": ""} == unknown.value.envelope() | {"message": ""}
    assert generations.get("req-1") == record()
    assert images.deleted == []


def test_without_an_image_store_delete_is_a_configuration_error():
    clock = ManualClock(NOW)
    service = GenerationService(
        CatalogService(FakeCatalog(Catalog(styles=[], colors=[], sizes=[])), clock),
        FakeGenerations(record()),
        FakeQueue(),
        clock,
        max_in_flight=10,
    )
    with pytest.raises(ConfigurationError):
        service.delete("req-1")


# --- the bucket's lifecycle rule ----------------------------------------------------------------
def test_the_lifecycle_rule_deletes_generated_pictures_a_day_after_the_default_retention():
    """One Delete rule on `generated/` (the worker's paths), one day later than RETENTION_DAYS:
    an object is uploaded a little before its request completes and the rule runs some time
    after it is due, so the extra day keeps a picture until its computed expiry."""
    lifecycle = json.loads((REPO / "storage.lifecycle.json").read_text())
    assert set(lifecycle) == {"rule"}
    [rule] = lifecycle["rule"]
    assert rule["action"] == {"type": "Delete"}
    assert rule["condition"] == {
        "age": config.RETENTION_DAYS.default + 1,
        "matchesPrefix": ["generated/"],
    }
    assert PATH.startswith(rule["condition"]["matchesPrefix"][0])
