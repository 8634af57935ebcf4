#!/usr/bin/env bash
# `make dev`: run the Emulator Suite in the foreground with reference data and users loaded.
# Imports docs/firestore-export when it exists, otherwise seeds through seed_database.
# Ctrl-C (SIGINT) or SIGTERM stops everything; `make check-dev-stop` checks that it does.
set -euo pipefail
cd "$(dirname "$0")/.."
BASE=http://127.0.0.1:5551/feraset-imagen/us-central1

# Until the emulators are started and their session is known, a stop request is only noted;
# the real handler below then acts on it. No command substitution ever runs inside a handler
# (bash 5.2 can fail to parse one there under a signal and skip the whole stop).
stop_requested=0
trap 'stop_requested=1' INT TERM

functions/venv/bin/python scripts/ports.py || exit 1
functions/venv/bin/python scripts/env_local.py dev
eval "$(functions/venv/bin/python scripts/toolchain.py)"
# --only: firebase.json also configures Storage (its rules, for deploys), whose emulator
# cannot start offline; scripts/storage_emulator.sh stands in for it.
args=(emulators:start --project feraset-imagen --only functions,firestore,tasks,pubsub,hosting,auth)
if [ -f docs/firestore-export/firebase-export-metadata.json ]; then
  args+=(--import=docs/firestore-export)
fi
[ "$stop_requested" = 1 ] && exit 130

# A session of its own, so that stopping also reaches the Python function workers that
# firebase-tools leaves running when it exits. setsid(1) does not fork here (a background job
# of a non-interactive shell is not a group leader), so the session id is the job's pid.
# Cloud Storage (scripts/storage_emulator.sh) runs beside them in the same session.
setsid bash -c 'scripts/storage_emulator.sh & exec scripts/firebase.sh "$@"' _ "${args[@]}" &
pid=$!
sid=$pid

seeder=""
stop() {  # [exit status]
  local status=${1:-0}
  trap '' INT TERM  # one stop at a time; a second Ctrl-C must not abort it half-way
  [ -n "$seeder" ] && kill "$seeder" 2>/dev/null
  scripts/stop_session.sh "$sid"
  for _ in {1..20}; do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.5
  done
  # Still there: the signal came before the session existed. It does now; stop it again.
  kill -0 "$pid" 2>/dev/null && scripts/stop_session.sh "$sid"
  wait "$pid" 2>/dev/null || true
  exit "$status"
}
trap stop INT TERM
[ "$stop_requested" = 1 ] && stop

for _ in $(seq 1 180); do
  curl -sf --max-time 2 "$BASE/health" >/dev/null 2>&1 && break
  kill -0 "$pid" 2>/dev/null || { echo "emulators exited during start-up" >&2; stop 1; }
  sleep 1
done
curl -sf --max-time 2 "$BASE/health" >/dev/null || {
  echo "functions emulator not ready after 180 s" >&2
  stop 1
}

if ! curl -s --max-time 10 "$BASE/validate_user?userId=arda" | grep -q '"exists": true'; then
  echo "Seeding reference data and users..."
  # In the background: a stop signal is handled during `wait`, not after a 2-minute curl.
  curl -s --max-time 120 -X POST -H 'Content-Type: application/json' -d '{}' \
    "$BASE/seed_database" &
  seeder=$!
  wait "$seeder" || true
  seeder=""
  echo
fi
# The Auth emulator starts empty every time: the seed users' sign-in accounts (and the admin).
FIREBASE_AUTH_EMULATOR_HOST=127.0.0.1:9099 functions/venv/bin/python scripts/seed_auth.py || true
cat <<MSG

  Feraset Imagen API is running (Ctrl-C to stop)
    Web UI     http://127.0.0.1:8888
    Functions  $BASE/<functionName>
    Storage    http://127.0.0.1:9199 (generated images)
    Sign in    <userId>@example.com (e.g. arda@example.com) or admin@example.com,
               password feraset-demo (Auth emulator accounts; the uid is the userId)
    Try        curl "$BASE/getUserCredits?userId=arda"

MSG
wait "$pid" || true
stop
