#!/usr/bin/env bash
# Usage: scripts/storage_emulator.sh
# Cloud Storage for the local stack, in the foreground: the `gcp-storage-emulator` package (the
# Firebase Storage emulator cannot start offline: it downloads its rules runtime). It serves the
# Cloud Storage JSON API on 127.0.0.1:9199 (the Storage emulator's usual port) and keeps objects
# in memory, like the rest of the stack's state: they are gone when the stack stops. The
# project's default bucket is created at start. The functions find it through
# STORAGE_EMULATOR_HOST (default http://127.0.0.1:9199, functions/emulator/storage.py).
# emulators_exec.sh and dev.sh start it in the emulators' session, so it stops with them.
cd "$(dirname "$0")/.."
# scripts/storage_emulator_in_memory.py runs the package without its per-write metadata snapshot.
exec functions/venv/bin/python scripts/storage_emulator_in_memory.py start --host 127.0.0.1 \
  --port 9199 --in-memory --default-bucket feraset-imagen.appspot.com --quiet
