"""The emulator's reads of several documents hold together (emulator/consistent_reads.py).

The Firestore emulator's batchGet reads each document at its own time: with one thread
committing two documents together and three reading both with one batchGet, 12 to 40 of about
2,000 plain reads in 3 s found them from different commits (production's batchGet answers as of
one moment). Through the emulator's runner, without the host lock, none does.
"""

from __future__ import annotations

import threading
import time

from google.cloud import firestore

from container import emulator_transactions

SECONDS = 3.0


def test_guarded_reads_never_straddle_a_commit(db: firestore.Client):
    pair = [db.document("consistency_probe/a"), db.document("consistency_probe/b")]
    batch = db.batch()
    for ref in pair:
        batch.set(ref, {"n": 0})
    batch.commit()
    runner = emulator_transactions(host_lock=False)
    stop = threading.Event()
    seen: list[tuple[int, int]] = []
    written = [0]

    def write() -> None:
        while not stop.is_set():
            written[0] += 1
            batch = db.batch()
            for ref in pair:
                batch.set(ref, {"n": written[0]})
            batch.commit()
            time.sleep(0.002)  # room for two reads in a row, now and then

    def read() -> None:
        while not stop.is_set():
            a, b = runner.run_guarded(lambda: runner.read_all(db, pair), "probe")
            seen.append((a.get("n"), b.get("n")))

    threads = [threading.Thread(target=write)] + [threading.Thread(target=read) for _ in range(3)]
    for thread in threads:
        thread.start()
    time.sleep(SECONDS)
    stop.set()
    for thread in threads:
        thread.join()
    # A read that straddles a commit is read again after a backoff, so reads are fewer than
    # commits here (30 to 75 in 3 s, against about 2,000 without the workaround).
    assert written[0] > 50 and len(seen) > 10, (written[0], len(seen))
    assert [(a, b) for a, b in seen if a != b] == []
