#!/usr/bin/env bash
# Usage: scripts/stop_session.sh <session id>
# Stops an emulator run started in a session of its own: firebase-tools first, with SIGTERM (it
# shuts its emulators down gracefully; SIGINT would be ignored by a backgrounded process), then
# whatever it left behind in that session (firebase-tools 15 leaves Python function workers),
# and finally any process the session started that lives in a session of its own: firebase-tools
# starts the Java emulators (Firestore, Pub/Sub) detached, so when it has to be killed (under
# load it may not finish shutting down within 30 s) they would outlive it and hold their ports.
sid=${1:?session id}

# The session's processes and all their descendants, recorded before anything is stopped (once
# their parent is gone, orphans can no longer be traced back to the run).
tree=$(ps -eo pid=,ppid=,sid= | awk -v sid="$sid" '
  { pid[NR] = $1; ppid[NR] = $2; if ($3 == sid) keep[$1] = 1 }
  END {
    for (grew = 1; grew; ) {
      grew = 0
      for (i = 1; i <= NR; i++)
        if (!(pid[i] in keep) && (ppid[i] in keep)) { keep[pid[i]] = 1; grew = 1 }
    }
    for (p in keep) print p
  }')

pkill -TERM -s "$sid" -f "node_modules/.bin/firebase" 2>/dev/null
for _ in $(seq 1 60); do
  pgrep -s "$sid" -f "node_modules/.bin/firebase" >/dev/null || break
  sleep 0.5
done
pkill -KILL -s "$sid" 2>/dev/null
for pid in $tree; do
  kill -KILL "$pid" 2>/dev/null
done
exit 0
