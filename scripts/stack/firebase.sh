#!/usr/bin/env bash
# The pinned firebase-tools CLI, as the emulator stack runs it (emulators.py): with
# emulator_worker_connections.cjs loaded (the Functions emulator's calls to its Python workers
# do not reuse connections; see there). Arguments go to `firebase`.
here="$(cd "$(dirname "$0")" && pwd)"
exec node --require "$here/emulator_worker_connections.cjs" \
  "$here/../../node_modules/.bin/firebase" "$@"
