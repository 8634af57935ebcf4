"""The worker stores a completed request's PNG before settling it, under one stable token."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import quote

import pytest

from core.image_storage import download_url
from schemas.documents import GenerationStatus
from services.model_simulator import ModelRun
from services.worker_service import GenerationWorker, WorkResult, image_path
from tests.support.records import processing_record

NOW = datetime(2026, 3, 2, 12, tzinfo=UTC)


class Clock:
    def now(self) -> datetime:
        return NOW


class FakeRepo:
    """start_processing keeps the first token it is given, as the real one does."""

    def __init__(self, settled_elsewhere_as: GenerationStatus | None = None) -> None:
        self.token: str | None = None
        self.settled: list[tuple[str, object]] = []
        self.events: list[str] = []
        # When set, settle loses (returns None): a cancel, the sweeper or another delivery won.
        self.settled_elsewhere_as = settled_elsewhere_as

    def start_processing(self, request_id, now, image_token):
        self.token = self.token or image_token
        return processing_record(id=request_id, image_token=self.token)

    def settle(self, request_id, outcome, now, **kwargs):
        self.events.append("settle")
        if self.settled_elsewhere_as is not None:
            return None
        self.settled.append((request_id, outcome))
        return object()

    def get(self, request_id):
        return processing_record(id=request_id, status=self.settled_elsewhere_as)


class FakeModel:
    def __init__(self, run: ModelRun) -> None:
        self.run = run

    def generate(self, record):
        return self.run


class FakeImages:
    def __init__(self, repo: FakeRepo, fail: bool = False) -> None:
        self.repo = repo
        self.fail = fail
        self.saved: list[tuple[str, bytes, str]] = []
        self.deleted: list[str] = []

    def delete(self, path):
        self.repo.events.append("delete")
        self.deleted.append(path)

    def save(self, path, png, token):
        self.repo.events.append("save")
        if self.fail:
            raise ConnectionError("storage unreachable")
        self.saved.append((path, png, token))
        return download_url("https://storage.test/v0", "bucket", path, token)


def worker(run: ModelRun, fail_upload: bool = False, lost_to: GenerationStatus | None = None):
    repo = FakeRepo(lost_to)
    images = FakeImages(repo, fail_upload)
    return GenerationWorker(repo, FakeModel(run), images, Clock()), repo, images  # type: ignore[arg-type]


def test_a_completed_request_is_stored_before_it_is_settled():
    w, repo, images = worker(ModelRun(png=b"png-bytes"))
    assert w.process("req-1") is WorkResult.COMPLETED
    assert repo.events == ["save", "settle"]
    [(path, png, token)] = images.saved
    assert (path, png, token) == ("generated/arda/req-1.png", b"png-bytes", repo.token)
    [(_, outcome)] = repo.settled
    assert outcome.image_path == path
    assert outcome.image_url == (
        f"https://storage.test/v0/b/bucket/o/{quote(path, safe='')}?alt=media&token={token}"
    )


def test_redeliveries_upload_the_same_name_under_the_same_token():
    w, _, images = worker(ModelRun(png=b"png-bytes"))
    w.process("req-1")
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
    record = FakeRepo().start_processing("r9", NOW, "t")
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
