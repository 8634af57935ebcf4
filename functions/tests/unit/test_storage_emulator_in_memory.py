"""scripts/stack/storage_emulator_in_memory.py: no metadata snapshot per write when in memory."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import pytest
from gcp_storage_emulator.storage import Storage

from tests.support.scripts import load_script

PNG = b"\x89PNG not really"


@pytest.fixture
def launcher(monkeypatch) -> ModuleType:
    # The workaround patches the class; monkeypatch puts the package's method back afterwards.
    monkeypatch.setattr(Storage, "_write_config_to_file", Storage._write_config_to_file)
    return load_script("stack/storage_emulator_in_memory")


def store_one(storage: Storage) -> None:
    storage.create_bucket("bucket", {"name": "bucket"})
    storage.create_file("bucket", "generated/u/r.png", PNG, {"name": "generated/u/r.png"})


def snapshot_written(storage: Storage) -> bool:
    return storage._store.exists_file(".meta")


def test_the_package_writes_a_snapshot_in_memory_too(launcher):
    storage = Storage(use_memory_fs=True)
    store_one(storage)
    assert snapshot_written(storage)


def test_in_memory_no_snapshot_is_written_and_the_objects_are_served(launcher):
    launcher.skip_snapshot_in_memory()
    storage = Storage(use_memory_fs=True)
    store_one(storage)
    assert not snapshot_written(storage)
    assert storage.get_file("bucket", "generated/u/r.png") == PNG
    assert storage.get_file_obj("bucket", "generated/u/r.png")["name"] == "generated/u/r.png"


def test_on_a_data_directory_the_snapshot_is_kept(launcher, tmp_path: Path):
    launcher.skip_snapshot_in_memory()
    storage = Storage(use_memory_fs=False, data_dir=str(tmp_path))
    store_one(storage)
    assert snapshot_written(storage)
    reloaded = Storage(use_memory_fs=False, data_dir=str(tmp_path))
    assert reloaded.get_file("bucket", "generated/u/r.png") == PNG


def test_it_refuses_to_run_without_in_memory(launcher):
    with pytest.raises(SystemExit, match="in-memory"):
        launcher.main(["start", "--port", "9199"])
