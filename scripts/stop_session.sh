#!/usr/bin/env bash
# Usage: scripts/stop_session.sh <session id>
# Stops an emulator run started in a session of its own: firebase-tools first, with SIGTERM (it
# shuts its emulators down gracefully; SIGINT would be ignored by a backgrounded process), then
# whatever it left behind in that session (firebase-tools 15 leaves Python function workers).
sid=${1:?session id}
pkill -TERM -s "$sid" -f "node_modules/.bin/firebase" 2>/dev/null
for _ in $(seq 1 60); do
  pgrep -s "$sid" -f "node_modules/.bin/firebase" >/dev/null || break
  sleep 0.5
done
pkill -KILL -s "$sid" 2>/dev/null
exit 0
