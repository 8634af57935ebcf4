#!/usr/bin/env bash
# The pinned firebase-tools CLI, as the emulator scripts run it: with
# scripts/emulator_worker_connections.cjs loaded (the Functions emulator's calls to its Python
# workers do not reuse connections; see there). Arguments go to `firebase`. The path stays
# node_modules/.bin/firebase: scripts/stop_session.sh finds the CLI by it.
here="$(cd "$(dirname "$0")" && pwd)"
exec node --require "$here/emulator_worker_connections.cjs" \
  "$here/../node_modules/.bin/firebase" "$@"
