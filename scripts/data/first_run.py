"""Before `make dev` says it is running: the seeded history's pictures and its weekly report.

Every seeded completed request without a picture gets the one the worker would have stored
(services/seeding/first_run.py: the same renderer, the request's own fields and size, the
worker's path scheme, in the Storage emulator), rendered by one process per core and uploaded
as they come; then the ISO week holding the seeded anomalies (the last complete week when the
history was seeded, also for an imported export) gets its report, as scheduleWeeklyReport would
store it. Only against the emulators, and only where seeding is enabled: it refuses to run
without FIRESTORE_EMULATOR_HOST and STORAGE_EMULATOR_HOST, and does nothing when SEED_ENABLED
is not true (scripts/stack/emulators.py passes the functions' values of the dev profile).

Usage: FIRESTORE_EMULATOR_HOST=127.0.0.1:5561 STORAGE_EMULATOR_HOST=http://127.0.0.1:9199 \
         SEED_ENABLED=true python scripts/data/first_run.py
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "functions"))
from core.clock import SystemClock
from core.config import SEED_ENABLED, anomaly_thresholds
from core.firestore_client import build_firestore_client
from emulator.storage import emulator_images
from repositories.reports import ReportRepository
from repositories.seed import SeedRepository
from services.image_renderer import ImageSpec, render_png
from services.report_service import ReportService
from services.seeding.first_run import FirstRun

EMULATOR_HOSTS = ("FIRESTORE_EMULATOR_HOST", "STORAGE_EMULATOR_HOST")


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

        outcome = FirstRun(SeedRepository(db), emulator_images(), reports, render_all).prepare()
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
