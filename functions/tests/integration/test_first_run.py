"""Right after `make dev` starts, the seeded history looks alive: a seeded completed request's
`imageUrl` downloads its PNG, at its size, and `listReports` lists the week holding the seeded
anomalies. Both start-up paths: a fresh seed (the start-up steps of scripts/stack/emulators.py,
run here against this run's emulators) and the committed export (scripts/data/first_run.py
against a private Firestore emulator started from it)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
import requests
from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter
from PIL import Image

from emulator.storage import emulator_host
from services.model_simulator import pixel_size
from services.reports.window import last_complete_week, report_id
from services.seeding.history import INTENDED_ANOMALIES
from tests.integration.conftest import FUNCTIONS_BASE, wipe_firestore
from tests.integration.test_export_import import imported_db  # noqa: F401 (a fixture)
from tests.support.scripts import load_script

ROOT = Path(__file__).resolve().parents[3]
IMAGE_FIELDS = ("image_url", "image_path", "image_token")

pytestmark = pytest.mark.skipif(
    not os.environ.get("CLOUD_TASKS_EMULATOR_HOST"), reason="needs the full emulator suite"
)


def seeded_requests(db: firestore.Client) -> dict[str, dict[str, Any]]:
    query = db.collection("generation_requests").where(filter=FieldFilter("seeded", "==", True))
    return {snap.id: snap.to_dict() or {} for snap in query.stream()}


def seeded_at(db: firestore.Client) -> datetime:
    sizes = db.collection("sizes").where(filter=FieldFilter("seeded", "==", True)).limit(1)
    created_at = next(iter(sizes.stream())).get("created_at")
    assert isinstance(created_at, datetime)
    return created_at


def assert_png_of_its_size(image_url: str, user_id: str, request_id: str, size: str) -> None:
    path = f"generated%2F{user_id}%2F{request_id}.png"
    assert image_url.startswith(
        f"{emulator_host()}/download/storage/v1/b/feraset-imagen.appspot.com/o/{path}?alt=media"
    ), image_url
    response = requests.get(image_url, timeout=30)
    assert response.status_code == 200
    with Image.open(BytesIO(response.content)) as picture:
        assert (picture.format, picture.size) == ("PNG", pixel_size(size))


def assert_pictures_stored(before: dict[str, dict[str, Any]], after: dict[str, dict[str, Any]]):
    """Every completed request has its picture; nothing else about any request changed."""
    assert after.keys() == before.keys()
    for request_id, doc in after.items():
        original = before[request_id]
        if doc["status"] == "completed":
            assert original["image_url"] is None and doc["image_url"], request_id
            assert doc["image_path"] == f"generated/{doc['user_id']}/{request_id}.png"
        else:
            assert doc["image_url"] is None
        assert {k: v for k, v in doc.items() if k not in IMAGE_FIELDS} == {
            k: v for k, v in original.items() if k not in IMAGE_FIELDS
        }
    for size in ("512x512", "1024x1024", "1024x1792"):
        request_id, doc = next(
            (i, d) for i, d in after.items() if d["size"] == size and d["status"] == "completed"
        )
        assert_png_of_its_size(doc["image_url"], doc["user_id"], request_id, size)


@pytest.fixture
def fresh_start() -> Iterator[None]:
    """`make dev` starts on an empty Firestore (conftest seeds the users without history)."""
    wipe_firestore()
    yield


def test_start_up_stores_the_seeded_pictures_and_the_seeded_weeks_report(db, fresh_start):
    emulators = load_script("stack/emulators")
    stack = emulators.Stack()
    emulators.seed_reference_data(stack)  # seed_database, as make dev calls it
    before = seeded_requests(db)
    assert len(before) > 100

    emulators.prepare_first_run(stack)

    # Through the API, as the console reads them.
    request_id, doc = next((i, d) for i, d in before.items() if d["status"] == "completed")
    status = requests.get(
        f"{FUNCTIONS_BASE}/getGenerationStatus", params={"generationRequestId": request_id}
    ).json()
    assert status["status"] == "completed" and status["imageUrl"]
    assert_png_of_its_size(status["imageUrl"], doc["user_id"], request_id, doc["size"])
    assert_pictures_stored(before, seeded_requests(db))

    week = last_complete_week(seeded_at(db))
    body = requests.get(f"{FUNCTIONS_BASE}/listReports", timeout=30).json()
    assert [r["id"] for r in body["reports"]] == [report_id(week.start)]
    report = requests.get(f"{FUNCTIONS_BASE}/getReport", timeout=30).json()["report"]
    assert report["report_period"]["start_date"] == week.start.isoformat()
    detected = {a["type"] for a in report["anomaly_analysis"]["detected_anomalies"]}
    assert detected >= INTENDED_ANOMALIES


def test_the_imported_export_gets_its_pictures_and_its_own_weeks_report(
    imported_db: firestore.Client,  # noqa: F811
) -> None:
    """The export is weeks old: its anomalies are in the week before it was made, not in the
    last complete week before now."""
    before = seeded_requests(imported_db)
    host = imported_db._emulator_host  # the private emulator's
    env = os.environ | {"FIRESTORE_EMULATOR_HOST": host, "SEED_ENABLED": "true"}
    run = subprocess.run(
        [sys.executable, str(ROOT / "scripts/data/first_run.py")],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr

    assert_pictures_stored(before, seeded_requests(imported_db))
    week = last_complete_week(seeded_at(imported_db))
    reports = {snap.id: snap.to_dict() or {} for snap in imported_db.collection("reports").stream()}
    assert list(reports) == [report_id(week.start)]
    anomalies = reports[report_id(week.start)]["anomaly_analysis"]["detected_anomalies"]
    detected = {a["type"] for a in anomalies}
    assert detected >= INTENDED_ANOMALIES
