"""gcp-storage-emulator in memory, without its metadata snapshot after every write.

Usage: storage_emulator_in_memory.py start --in-memory [the package's other `start` options]

Storage-emulator workaround (emulators.py runs this). After every write the package
serializes the metadata of every object it holds into one JSON snapshot, so that a server
started later on the same data directory can load it. In memory nothing ever reads it back, and
each upload re-encodes all the others: a session's uploads cost O(n^2). Here the snapshot is
skipped in memory and written as the package writes it on a data directory.
"""

from __future__ import annotations

import sys

from gcp_storage_emulator.__main__ import main as package_main
from gcp_storage_emulator.storage import Storage

_write_snapshot = Storage._write_config_to_file


def _write_snapshot_unless_in_memory(storage: Storage) -> None:
    if not storage._use_memory_fs:
        _write_snapshot(storage)


def skip_snapshot_in_memory() -> None:
    Storage._write_config_to_file = _write_snapshot_unless_in_memory  # type: ignore[method-assign]


def main(args: list[str]) -> int:
    if "--in-memory" not in args:
        sys.exit("storage_emulator_in_memory: for --in-memory only (a data directory needs it)")
    skip_snapshot_in_memory()
    return package_main(args) or 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
