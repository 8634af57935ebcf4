#!/usr/bin/env bash
# `make dev`: run the Emulator Suite in the foreground with reference data and users loaded.
# Imports docs/firestore-export when it exists, otherwise seeds through seed_database.
# Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
BASE=http://127.0.0.1:5551/feraset-imagen/us-central1

functions/venv/bin/python scripts/env_local.py dev
eval "$(functions/venv/bin/python scripts/toolchain.py)"
args=(emulators:start --project feraset-imagen)
if [ -f docs/firestore-export/firebase-export-metadata.json ]; then
  args+=(--import=docs/firestore-export)
fi
# A session of its own, so that Ctrl-C can also stop the Python function workers that
# firebase-tools leaves running when it exits.
sidfile=$(mktemp)
setsid bash -c 'echo $$ > "$0"; shift; exec npx --no-install firebase "$@"' "$sidfile" _ "${args[@]}" &
pid=$!
stop() {
  scripts/stop_session.sh "$(cat "$sidfile")"
  wait "$pid" 2>/dev/null || true
  rm -f "$sidfile"
  exit 0
}
trap stop INT TERM

for _ in $(seq 1 180); do
  curl -sf "$BASE/health" >/dev/null 2>&1 && break
  kill -0 "$pid" 2>/dev/null || { echo "emulators exited during start-up" >&2; exit 1; }
  sleep 1
done
curl -sf "$BASE/health" >/dev/null || { echo "functions emulator not ready after 180 s" >&2; exit 1; }

if [ -z "$(curl -s "$BASE/validate_user?userId=arda" | grep '"exists": true' || true)" ]; then
  echo "Seeding reference data and users..."
  curl -s -X POST "$BASE/seed_database"; echo
fi
cat <<MSG

  Feraset Imagen API is running (Ctrl-C to stop)
    Web UI     http://127.0.0.1:8888
    Functions  $BASE/<functionName>
    Try        curl "$BASE/getUserCredits?userId=arda"

MSG
wait "$pid" || true
stop
