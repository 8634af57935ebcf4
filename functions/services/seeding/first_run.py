"""The seed state made visible before `make dev` says it is running: each seeded completed
request gets the picture the worker would have stored for it, and the week holding the
history's anomalies gets its report."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from schemas.store import StoredImage
from services.image_paths import image_path
from services.image_renderer import ImageSpec, render_png
from services.model_simulator import image_spec
from services.seeding.history import anomalous_week

if TYPE_CHECKING:
    from services.ports import ImageStore, SeedStore
    from services.report_service import ReportService

type RenderAll = Callable[[Sequence[ImageSpec]], Iterable[bytes]]


def render_each(specs: Sequence[ImageSpec]) -> Iterable[bytes]:
    return map(render_png, specs)


def new_token() -> str:
    return str(uuid.uuid4())


@dataclass(frozen=True)
class FirstRunOutcome:
    images: int  # requests that got their picture
    report_id: str | None  # None: nothing is seeded
    anomalies: int = 0


class FirstRun:
    """`render_all` renders specs in order (lazily, so that uploads overlap rendering)."""

    def __init__(
        self,
        store: SeedStore,
        images: ImageStore,
        reports: ReportService,
        render_all: RenderAll = render_each,
        token: Callable[[], str] = new_token,
    ) -> None:
        self._store = store
        self._images = images
        self._reports = reports
        self._render_all = render_all
        self._token = token

    def prepare(self) -> FirstRunOutcome:
        images = self.attach_images()
        seeded_at = self._store.seeded_at()
        if seeded_at is None:
            return FirstRunOutcome(images, None)
        run = self._reports.run(anomalous_week(seeded_at).start.date())
        return FirstRunOutcome(images, run.report.id, run.anomaly_summary.total_anomalies)

    def attach_images(self) -> int:
        """Render, store and record the picture of every seeded completed request without one."""
        records = self._store.completed_without_image()
        pngs = self._render_all([image_spec(record) for record in records])
        stored: dict[str, StoredImage] = {}
        for record, png in zip(records, pngs, strict=True):
            path, token = image_path(record), self._token()
            stored[record.id] = StoredImage(self._images.save(path, png, token), path, token)
        return self._store.attach_images(stored) if stored else 0
