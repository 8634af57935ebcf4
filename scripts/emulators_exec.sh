#!/usr/bin/env bash
# Usage: scripts/emulators_exec.sh <env profile> <emulators> <command...>
# Runs <command> inside `firebase emulators:exec --only <emulators>` with functions/.env.local
# written for <profile>. The run gets a session of its own so that everything it started can be
# stopped afterwards: firebase-tools 15 leaves the Python function workers running on exit.
set -uo pipefail
cd "$(dirname "$0")/.."
profile=$1 only=$2
shift 2
functions/venv/bin/python scripts/env_local.py "$profile" || exit 1
eval "$(functions/venv/bin/python scripts/toolchain.py)"
sidfile=$(mktemp)
setsid bash -c 'echo $$ > "$0"; exec npx --no-install firebase --project feraset-imagen \
  emulators:exec --only "$1" "$2"' "$sidfile" "$only" "$*" &
runner=$!
trap 'scripts/stop_session.sh "$(cat "$sidfile")"' INT TERM
wait "$runner"
status=$?
sid=$(cat "$sidfile")
rm -f "$sidfile"
[ -n "$sid" ] && scripts/stop_session.sh "$sid"
exit "$status"
