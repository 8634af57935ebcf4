"""FirstRun: the seeded completed requests get the worker's pictures, and the week holding the
seeded anomalies gets its report, also when the seed state is an export weeks old."""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from PIL import Image

from core.settings import AnomalyThresholds
from schemas.documents import GenerationRecord, GenerationStatus
from services.image_paths import image_path
from services.image_renderer import ImageSpec, render_png
from services.model_simulator import image_spec, pixel_size
from services.report_service import ReportService
from services.reports.window import WEEK, last_complete_week, report_id
from services.seeding.first_run import FirstRun, RenderAll, render_each
from services.seeding.history import INTENDED_ANOMALIES, SeedHistory, fabricate_history
from tests.support.fakes import FakeImages, FakeSeedStore, ManualClock
from tests.support.memory_reports import MemoryReportStore

SEEDED_AT = datetime(2025, 8, 6, 13, 45, tzinfo=UTC)  # a Wednesday


def seeded_store(history: SeedHistory, seeded_at: datetime = SEEDED_AT) -> FakeSeedStore:
    store = FakeSeedStore()
    store.seeded_time = seeded_at
    store.requests = {
        request_id: GenerationRecord.model_validate({**doc, "id": request_id})
        for request_id, doc in history.requests.items()
    }
    return store


def fake_render(specs: Sequence[ImageSpec]) -> Iterator[bytes]:
    return (f"png of {spec.request_id} {spec.width}x{spec.height}".encode() for spec in specs)


def first_run(
    history: SeedHistory,
    now: datetime,
    seeded_at: datetime = SEEDED_AT,
    render_all: RenderAll = fake_render,
) -> tuple[FirstRun, FakeSeedStore, FakeImages, MemoryReportStore]:
    store, images = seeded_store(history, seeded_at), FakeImages()
    reports = MemoryReportStore.of(history)
    tokens = (f"token-{n}" for n in range(10_000))
    service = ReportService(reports, ManualClock(now), AnomalyThresholds())
    run = FirstRun(store, images, service, render_all, token=lambda: next(tokens))
    return run, store, images, reports


@pytest.fixture(scope="module")
def history() -> SeedHistory:
    return fabricate_history(SEEDED_AT)


def test_every_seeded_completed_request_gets_the_workers_picture(history):
    run, store, images, _ = first_run(history, SEEDED_AT)
    completed = {r.id: r for r in store.requests.values() if r.status is GenerationStatus.COMPLETED}
    before = dict(store.requests)

    outcome = run.prepare()

    assert outcome.images == len(completed) > 100
    assert {path for path, _, _ in images.saved} == {image_path(r) for r in completed.values()}
    saved = {path: (png, token) for path, png, token in images.saved}
    for request_id, original in completed.items():
        record = store.requests[request_id]
        png, token = saved[image_path(original)]
        assert png == next(fake_render([image_spec(original)]))  # its own picture
        assert record.image_path == image_path(original)
        assert record.image_token == token
        assert record.image_url is not None
        assert parse_qs(urlsplit(record.image_url).query)["token"] == [token]
        # Unchanged otherwise: same request, same figures.
        unset = {"image_url": None, "image_path": None, "image_token": None}
        assert record.model_copy(update=unset) == original
    # Failed requests are left as they were.
    assert all(
        store.requests[r.id] == r for r in before.values() if r.status is GenerationStatus.FAILED
    )


def test_a_picture_is_the_renderers_png_of_the_request_at_its_own_size(history):
    completed = {i: r for i, r in history.requests.items() if r["status"] == "completed"}
    one_per_size = [
        next(i for i, r in completed.items() if r["size"] == size)
        for size in ("512x512", "1024x1024", "1024x1792")
    ]
    few = SeedHistory(requests={i: history.requests[i] for i in one_per_size})
    run, store, images, _ = first_run(few, SEEDED_AT, render_all=render_each)
    assert run.attach_images() == 3
    by_path = {path: png for path, png, _ in images.saved}
    for size in ("512x512", "1024x1024", "1024x1792"):
        record = next(r for r in store.requests.values() if r.size == size and r.image_path)
        png = by_path[record.image_path]
        assert png == render_png(image_spec(record))
        with Image.open(io.BytesIO(png)) as picture:
            assert (picture.format, picture.size) == ("PNG", pixel_size(size))


def test_requests_that_already_have_a_picture_are_not_rendered_again(history):
    run, store, _, _ = first_run(history, SEEDED_AT)
    assert run.attach_images() > 0
    assert run.attach_images() == 0
    assert store.calls.count("attach_images") == 1


def test_the_report_covers_the_seeded_anomalous_week_right_after_seeding(history):
    run, _, _, reports = first_run(history, SEEDED_AT + timedelta(minutes=1))
    outcome = run.prepare()
    week = last_complete_week(SEEDED_AT)
    assert outcome.report_id == report_id(week.start) == "weekly_report_2025_W31"
    detected = reports.saved[outcome.report_id]["anomaly_analysis"]["detected_anomalies"]
    assert {a["type"] for a in detected} >= INTENDED_ANOMALIES
    assert outcome.anomalies == len(detected)


def test_an_imported_export_weeks_old_gets_the_report_of_its_own_anomalous_week(history):
    """Not the last complete week before now: that one holds nothing of the seeded history."""
    now = SEEDED_AT + 10 * WEEK
    run, _, _, reports = first_run(history, now)
    outcome = run.prepare()
    assert outcome.report_id == report_id(last_complete_week(SEEDED_AT).start)
    assert list(reports.saved) == [outcome.report_id]
    assert outcome.anomalies > 0


def test_nothing_seeded_means_no_report():
    run, store, images, reports = first_run(SeedHistory(), SEEDED_AT)
    store.seeded_time = None
    outcome = run.prepare()
    assert (outcome.images, outcome.report_id) == (0, None)
    assert images.saved == [] and reports.saved == {}
    assert "attach_images" not in store.calls
