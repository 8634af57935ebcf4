"""Before `make dev` says it is running: the seeded history's pictures and its weekly report.

Every seeded completed request without a picture gets the one the worker would have stored
(services/seeding/first_run.py: the same renderer, the request's own fields and size, the
worker's path scheme, in the Storage emulator), rendered by one process per core (or read from
.cache/seed-pictures, kept from an earlier start) and uploaded as they come; then the ISO week
holding the seeded anomalies (the last complete week when the history was seeded, also for an
imported export) gets its report, as scheduleWeeklyReport would store it. Only against the
emulators, and only where seeding is enabled: it refuses to run without FIRESTORE_EMULATOR_HOST
and STORAGE_EMULATOR_HOST, and does nothing when SEED_ENABLED is not true
(scripts/stack/emulators.py passes the functions' values of the dev profile).

Usage: FIRESTORE_EMULATOR_HOST=127.0.0.1:5561 STORAGE_EMULATOR_HOST=http://127.0.0.1:9199 \
         SEED_ENABLED=true python scripts/data/first_run.py
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import PIL

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "functions"))
from core.clock import SystemClock
from core.config import SEED_ENABLED
from core.firestore_client import build_firestore_client
from core.settings import anomaly_thresholds
from emulator.storage import emulator_images
from repositories.reports import ReportRepository
from repositories.seed import SeedRepository
from services import image_renderer
from services.image_renderer import ImageSpec, render_png
from services.report_service import ReportService
from services.seeding.first_run import FirstRun, RenderAll

EMULATOR_HOSTS = ("FIRESTORE_EMULATOR_HOST", "STORAGE_EMULATOR_HOST")
CACHE = Path(__file__).resolve().parents[2] / ".cache" / "seed-pictures"


def cached(render_all: RenderAll) -> RenderAll:
    """`render_all` through a cache of earlier starts' pictures: the renderer is deterministic,
    so a picture is kept under its spec's hash, in a folder named by the renderer's source and
    the Pillow version (a change of either starts afresh)."""
    source = Path(image_renderer.__file__).read_bytes() + PIL.__version__.encode()
    folder = CACHE / hashlib.sha256(source).hexdigest()[:16]
    for stale in CACHE.glob("*"):
        if stale != folder:
            shutil.rmtree(stale, ignore_errors=True)
    folder.mkdir(parents=True, exist_ok=True)

    def render(specs: Sequence[ImageSpec]) -> Iterator[bytes]:
        files = [folder / f"{image_renderer.seed_of(spec):064x}.png" for spec in specs]
        fresh = iter(render_all([s for s, f in zip(specs, files, strict=True) if not f.is_file()]))
        for file in files:
            if file.is_file():
                yield file.read_bytes()
                continue
            png = next(fresh)
            partial = file.with_suffix(f".{os.getpid()}.part")
            partial.write_bytes(png)
            partial.replace(file)
            yield png

    return render


def main() -> None:
    missing = [name for name in EMULATOR_HOSTS if not os.environ.get(name)]
    if missing:
        sys.exit(f"first_run: {', '.join(missing)} not set; this only runs against the emulators")
    if not SEED_ENABLED.value:
        print("first_run: SEED_ENABLED is not true, nothing done")
        return
    started = time.perf_counter()
    # The workers fork before the Firestore client exists (gRPC does not survive a fork).
    with ProcessPoolExecutor(os.cpu_count() or 1, mp_context=get_context("fork")) as pool:
        pool.submit(int).result()
        db = build_firestore_client()
        reports = ReportService(ReportRepository(db), SystemClock(), anomaly_thresholds())

        def render_all(specs: Sequence[ImageSpec]) -> Iterable[bytes]:
            return pool.map(render_png, specs, chunksize=4)

        store, images = SeedRepository(db), emulator_images()
        outcome = FirstRun(store, images, reports, cached(render_all)).prepare()
    report = (
        f"report {outcome.report_id} ({outcome.anomalies} anomalies)"
        if outcome.report_id
        else "no seed state, no report"
    )
    print(
        f"first_run: {outcome.images} seeded pictures stored, {report}, "
        f"{time.perf_counter() - started:.1f} s"
    )


if __name__ == "__main__":
    main()
