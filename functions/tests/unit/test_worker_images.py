"""The worker stores a completed request's PNG before settling it, under one stable token."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from urllib.parse import quote

import pytest

from schemas.documents import GenerationRecord, GenerationStatus
from services.image_paths import image_path
from services.model_simulator import ModelRun
from services.worker_service import GenerationWorker, WorkResult
from tests.support.fakes import FakeGenerations, FakeImages, ManualClock
from tests.support.records import processing_record

NOW = datetime(2026, 3, 2, 12, tzinfo=UTC)


class FakeModel:
    """Returns `run`; `meanwhile` runs while it generates (another party settling the request)."""

    def __init__(self, run: ModelRun, meanwhile: Callable[[], None] | None = None) -> None:
        self.run = run
        self.meanwhile = meanwhile

    def generate(self, record: GenerationRecord) -> ModelRun:
        if self.meanwhile is not None:
            self.meanwhile()
        return self.run


def worker(run: ModelRun, fail_upload: bool = False, lost_to: GenerationStatus | None = None):
    events: list[str] = []  # "save", "settle" and "delete", in order
    repo = FakeGenerations(processing_record(status=GenerationStatus.QUEUED), events=events)
    images = FakeImages(fail_upload, events=events)

    def settled_elsewhere() -> None:
        assert lost_to is not None
        repo.put(repo.records["req-1"].model_copy(update={"status": lost_to}))

    model = FakeModel(run, settled_elsewhere if lost_to is not None else None)
    # FakeModel stands in for the concrete ModelSimulator (not a port)
    return GenerationWorker(repo, model, images, ManualClock(NOW)), repo, images  # type: ignore[arg-type]


def test_a_completed_request_is_stored_before_it_is_settled():
    w, repo, images = worker(ModelRun(png=b"png-bytes"))
    assert w.process("req-1") is WorkResult.COMPLETED
    assert repo.events == ["save", "settle"]
    [(path, png, token)] = images.saved
    stored_token = repo.records["req-1"].image_token
    assert (path, png, token) == ("generated/arda/req-1.png", b"png-bytes", stored_token)
    [(_, outcome)] = repo.settled
    assert outcome.image_path == path
    assert outcome.image_url == (
        f"https://storage.test/v0/b/bucket/o/{quote(path, safe='')}?alt=media&token={token}"
    )


def test_redeliveries_upload_the_same_name_under_the_same_token():
    w, repo, images = worker(ModelRun(png=b"png-bytes"))
    repo.settle_errors["req-1"] = ConnectionError("the settle's answer was lost")
    with pytest.raises(ConnectionError):
        w.process("req-1")  # Cloud Tasks delivers the task again
    del repo.settle_errors["req-1"]
    w.process("req-1")
    assert len(images.saved) == 2 and images.saved[0] == images.saved[1]


def test_a_model_failure_stores_nothing():
    w, repo, images = worker(ModelRun(error_message="Content filter violation"))
    assert w.process("req-1") is WorkResult.FAILED
    assert images.saved == [] and repo.events == ["settle"]
    [(_, outcome)] = repo.settled
    assert outcome.error_message == "Content filter violation" and outcome.image_url is None


def test_an_upload_failure_is_not_settled_so_the_task_is_retried():
    w, repo, _ = worker(ModelRun(png=b"png-bytes"), fail_upload=True)
    with pytest.raises(ConnectionError):
        w.process("req-1")
    assert repo.settled == []


def test_image_path_is_under_the_owner():
    record = processing_record(id="r9", image_token="t")
    assert image_path(record) == "generated/arda/r9.png"


@pytest.mark.parametrize("winner", [GenerationStatus.CANCELLED, GenerationStatus.FAILED])
def test_a_picture_that_lost_to_a_cancel_or_the_sweeper_is_removed(winner):
    w, repo, images = worker(ModelRun(png=b"png-bytes"), lost_to=winner)
    assert w.process("req-1") is WorkResult.SUPERSEDED
    assert repo.events == ["save", "settle", "delete"]
    assert images.deleted == ["generated/arda/req-1.png"]


def test_a_picture_another_delivery_completed_with_is_kept():
    w, repo, images = worker(ModelRun(png=b"png-bytes"), lost_to=GenerationStatus.COMPLETED)
    assert w.process("req-1") is WorkResult.SUPERSEDED
    assert images.deleted == [] and repo.events == ["save", "settle"]
