#!/usr/bin/env bash
# Usage: scripts/emulators_exec.sh <env profile> <emulators> <command...>
# Runs <command> inside `firebase emulators:exec --only <emulators>` with functions/.env.local
# written for <profile>, and Cloud Storage's emulator beside them. The run gets a session of its own so that everything it started can be
# stopped afterwards: firebase-tools 15 leaves the Python function workers running on exit.
set -uo pipefail
cd "$(dirname "$0")/.."
profile=$1 only=$2
shift 2
functions/venv/bin/python scripts/env_local.py "$profile" || exit 1
eval "$(functions/venv/bin/python scripts/toolchain.py)"
export STORAGE_EMULATOR_HOST=http://127.0.0.1:9199  # for the command (the functions: .env.local)
# setsid(1) does not fork here (a background job of a non-interactive shell is not a process
# group leader), so the session id is the job's pid. The trap uses no command substitution:
# bash 5.2 can fail to parse one in a handler under a signal and then skip the stop.
# Cloud Storage (scripts/storage_emulator.sh) runs beside them in the same session.
setsid bash -c 'scripts/storage_emulator.sh & exec scripts/firebase.sh \
  --project feraset-imagen emulators:exec --only "$0" "$1"' "$only" "$*" &
runner=$!
sid=$runner
trap 'scripts/stop_session.sh "$sid"' INT TERM
wait "$runner"
status=$?
scripts/stop_session.sh "$sid"
exit "$status"
