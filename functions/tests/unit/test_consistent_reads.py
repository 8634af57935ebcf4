"""The emulator's reads of several documents (emulator/consistent_reads.py), on a real
firestore.Client over the recording RPC stand-in: a commit that lands between the two reads
makes the guarded attempt run again instead of answering from documents of different moments."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from google.api_core import exceptions as gexc

from emulator.consistent_reads import read_all_at_once
from repositories.firestore_helpers import TransactionRunner
from tests.support.fakes import FakeTime
from tests.support.firestore_rpc import RecordingFirestoreApi, recording_client


class WriterBetweenReads(RecordingFirestoreApi):
    """Runs each of `after_read` once, after the read it is queued for (a concurrent commit)."""

    def __init__(self) -> None:
        super().__init__()
        self.after_read: list[Callable[[], None]] = []

    def batch_get_documents(self, request: dict[str, Any], **kwargs: Any) -> Iterator[Any]:
        answers = list(super().batch_get_documents(request, **kwargs))
        if self.after_read:
            self.after_read.pop(0)()
        return iter(answers)


def setup() -> tuple[Any, WriterBetweenReads, list[Any]]:
    api = WriterBetweenReads()
    db, _ = recording_client(api)
    api.put("users/arda", {"current_credits": 0})
    refs = [db.document("users/arda"), db.document("users/arda/transactions/welcome_arda")]
    return db, api, refs


def welcome_booked(api: WriterBetweenReads) -> None:
    """What a concurrent createAccount commits: the entry and the new balance, at once."""
    api.put("users/arda/transactions/welcome_arda", {"credits": 10})
    api.put("users/arda", {"current_credits": 10})


def test_reads_that_agree_answer_with_the_second():
    db, api, refs = setup()
    user, entry = read_all_at_once(db, refs)
    assert api.calls == ["BatchGetDocuments", "BatchGetDocuments"]
    assert (user.get("current_credits"), entry.exists) == (0, False)


def test_a_commit_between_the_reads_aborts_the_attempt():
    db, api, refs = setup()
    api.after_read.append(lambda: welcome_booked(api))
    with pytest.raises(gexc.Aborted):
        read_all_at_once(db, refs)


def test_the_guarded_runner_reads_again_and_sees_one_moment():
    db, api, refs = setup()
    api.after_read.append(lambda: welcome_booked(api))
    runner = TransactionRunner(sleep=FakeTime().sleep, read_all=read_all_at_once)
    user, entry = runner.run_guarded(lambda: runner.read_all(db, refs), "user:arda")
    assert (user.get("current_credits"), entry.exists) == (10, True)
    assert api.calls == ["BatchGetDocuments"] * 4


def test_a_document_created_between_the_reads_counts_as_a_change():
    db, api, refs = setup()
    api.after_read.append(lambda: api.put("users/arda/transactions/welcome_arda", {}))
    with pytest.raises(gexc.Aborted):
        read_all_at_once(db, refs)


def test_one_document_is_read_once():
    db, api, refs = setup()
    api.after_read.append(lambda: welcome_booked(api))
    [user] = read_all_at_once(db, refs[:1])
    assert api.calls == ["BatchGetDocuments"]
    assert user.get("current_credits") == 0
