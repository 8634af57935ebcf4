"""Emulator workaround: a read of several documents answers as of one moment.

Firestore's batchGet does (each document it returns is unchanged up to the last one's read
time); the Firestore emulator's reads each document at its own time, so a read of a user and
its welcome entry can straddle the commit that wrote both and find the entry beside the old
balance. Guarded commits still refuse a write decided on such a read, but an answer that writes
nothing would be built from it.

Reading twice and keeping the second read when both agree on every document's update time
restores the guarantee: each document was unchanged from its first read to its second, and
every first read ended before any second began, so all of them held at once in between. When
they disagree a commit landed in between, and the `run_guarded` attempt is run again.
"""

from __future__ import annotations

from google.api_core import exceptions as gexc
from google.cloud import firestore
from google.cloud.firestore_v1.base_document import DocumentSnapshot
from google.cloud.firestore_v1.document import DocumentReference

from repositories.firestore_helpers import read_all


def read_all_at_once(db: firestore.Client, refs: list[DocumentReference]) -> list[DocumentSnapshot]:
    """`read_all` whose documents held together; Aborted (retried by `run_guarded`) if a
    commit changed one of them between the two reads."""
    first = read_all(db, refs)
    if len(refs) < 2:
        return first
    second = read_all(db, refs)
    if [_version(snap) for snap in first] != [_version(snap) for snap in second]:
        raise gexc.Aborted("a commit landed between two reads of the same documents")
    return second


def _version(snapshot: DocumentSnapshot) -> object:
    return snapshot.update_time if snapshot.exists else None
