"""Regenerate docs/firestore-export from the seeder (`make export`).

Runs inside `firebase emulators:exec --only firestore`, which sets FIRESTORE_EMULATOR_HOST and
FIREBASE_EMULATOR_HUB: wipes the Firestore emulator, seeds it in-process with SeedService (the
same code `seed_database` runs), then asks the emulator hub to export, which is what
`firebase emulators:export` does. The seeded history is relative to the day this runs, so the
export is a snapshot of that day (docs/seed-data.md).

Usage: make export   (or inside emulators:exec: python scripts/data/export_seed.py [--seed N])
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "functions"))
from core.clock import SystemClock
from core.firestore_client import build_firestore_client, project_id
from repositories.seed import SeedRepository
from services.seeding.history import DEFAULT_SEED
from services.seeding.service import SeedService

ROOT = Path(__file__).resolve().parents[2]
EXPORT_DIR = ROOT / "docs" / "firestore-export"


def emulator_env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        sys.exit(
            f"export_seed: {name} is not set; run this inside `firebase emulators:exec "
            "--only firestore` (use `make export`)"
        )
    return value


def wipe(firestore_host: str, project: str) -> None:
    url = f"http://{firestore_host}/emulator/v1/projects/{project}/databases/(default)/documents"
    requests.delete(url, timeout=60).raise_for_status()


def export(hub: str, path: Path) -> None:
    """POST the hub's export route (firebase-tools lib/emulator/hub.js, `/_admin/export`). The
    hub writes to a temporary directory and then replaces `path` with it."""
    response = requests.post(
        f"http://{hub}/_admin/export",
        json={"path": str(path), "initiatedBy": "export"},
        timeout=300,
    )
    if response.status_code != 200:
        sys.exit(f"export_seed: export failed ({response.status_code}): {response.text}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="history random seed")
    parser.add_argument("--out", type=Path, default=EXPORT_DIR, help="export directory")
    args = parser.parse_args()

    firestore_host = emulator_env("FIRESTORE_EMULATOR_HOST")
    hub = emulator_env("FIREBASE_EMULATOR_HUB")
    project = project_id()

    wipe(firestore_host, project)
    written = (
        SeedService(SeedRepository(build_firestore_client()), SystemClock())
        .seed(seed=args.seed)
        .counts
    )
    print("seeded:", ", ".join(f"{name} {count}" for name, count in written.items()))

    started = time.perf_counter()
    out = args.out.resolve()
    export(hub, out)
    files = [p for p in out.rglob("*") if p.is_file()]
    size = sum(p.stat().st_size for p in files)
    print(
        f"exported to {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}: "
        f"{len(files)} files, {size / 1024:.1f} KiB in {time.perf_counter() - started:.1f} s"
    )


if __name__ == "__main__":
    main()
