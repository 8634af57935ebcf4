"""docs/firestore-export imports into a Firestore emulator (what `make dev` and
`firebase emulators:start --import=./docs/firestore-export` do) and holds the seed state.

The suite's own emulator is busy on the default port, so this test starts a private Firestore
emulator on a free port with `--seed_from_export` (the flag firebase-tools passes for
`--import`), reads it with its own client and stops it.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from google.cloud import firestore

from core.firestore_client import build_firestore_client
from services.seeding import reference_data
from tests.support.ledger import ledger_violations

ROOT = Path(__file__).resolve().parents[3]
EXPORT = ROOT / "docs" / "firestore-export"
METADATA = EXPORT / "firestore_export" / "firestore_export.overall_export_metadata"
PROJECT = "feraset-imagen"
START_TIMEOUT = 90.0


def emulator_jar() -> Path | None:
    """The jar firebase-tools would run: the toolchain's override, else its download cache."""
    override = os.environ.get("FIRESTORE_EMULATOR_BINARY_PATH")
    if override:
        return Path(override)
    cache = Path(
        os.environ.get("FIREBASE_EMULATORS_PATH") or Path.home() / ".cache/firebase/emulators"
    )
    jars = sorted(cache.glob("cloud-firestore-emulator-v*.jar"))
    return jars[-1] if jars else None


def java() -> str | None:
    home = os.environ.get("JAVA_HOME")
    if home and (Path(home) / "bin" / "java").is_file():
        return str(Path(home) / "bin" / "java")
    return shutil.which("java")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def imported_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[firestore.Client]:
    assert METADATA.is_file(), f"{METADATA} is missing: run `make export`"
    jar, java_bin = emulator_jar(), java()
    if jar is None or java_bin is None:
        pytest.skip("no Firestore emulator jar or java (run through `make test`)")
    port = free_port()
    log_path = tmp_path / "firestore-import.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                java_bin,
                "-Duser.language=en",
                "-jar",
                str(jar),
                "--host=127.0.0.1",
                f"--port={port}",
                f"--project_id={PROJECT}",
                f"--seed_from_export={METADATA}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if process.poll() is not None:
                pytest.fail(f"emulator exited ({process.returncode}):\n{log_path.read_text()}")
            try:
                if requests.get(f"http://127.0.0.1:{port}/", timeout=2).ok:
                    break
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"emulator not ready in {START_TIMEOUT} s:\n{log_path.read_text()}")
            time.sleep(0.2)
        # The client reads FIRESTORE_EMULATOR_HOST when built; the session client keeps its own.
        with monkeypatch.context() as env:
            env.setenv("FIRESTORE_EMULATOR_HOST", f"127.0.0.1:{port}")
            env.setenv("GCLOUD_PROJECT", PROJECT)
            client = build_firestore_client()
        yield client
        client.close()
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


def ids(db: firestore.Client, collection: str) -> set[str]:
    return {snap.id for snap in db.collection(collection).select([]).stream()}


def test_export_imports_the_seed_state(imported_db: firestore.Client) -> None:
    assert ids(imported_db, "users") == set(reference_data.USERS)
    assert ids(imported_db, "styles") == {s["id"] for s in reference_data.STYLES}
    assert ids(imported_db, "colors") == {c["id"] for c in reference_data.COLORS}
    assert ids(imported_db, "sizes") == {s["id"] for s in reference_data.SIZES}
    assert ids(imported_db, "credit_packs") == {"pack_50", "pack_200", "pack_1000"}
    assert len(ids(imported_db, "users")) == 13
    assert (len(reference_data.STYLES), len(reference_data.COLORS), len(reference_data.SIZES)) == (
        6,
        5,
        3,
    )

    credits = {
        snap.id: snap.get("current_credits")
        for snap in imported_db.collection("users").select(["current_credits"]).stream()
    }
    assert credits == {user_id: c for user_id, (_, c) in reference_data.USERS.items()}
    # The fabricated history came along, and every ledger in it is consistent.
    assert ids(imported_db, "generation_requests")
    assert ledger_violations(imported_db) == []
