"""A real firestore.Client over an in-memory stand-in for its GAPIC layer that records every
RPC by name, so unit tests can count a repository's round trips.

Only BatchGetDocuments (every read of a document) and Commit are served; any other RPC
(BeginTransaction, Rollback, RunQuery, ...) is recorded and fails. A commit checks its
preconditions (exists, update time) before applying anything, as the server does, and applies
field writes, deletes of fields and integer increments on top-level fields.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from google.api_core import exceptions as gexc
from google.auth.credentials import AnonymousCredentials
from google.cloud import firestore
from google.cloud.firestore_v1 import _helpers
from google.cloud.firestore_v1.types import (
    BatchGetDocumentsResponse,
    CommitRequest,
    CommitResponse,
    Document,
    WriteResult,
)
from google.protobuf import timestamp_pb2

PROJECT = "unit-test"
DATABASE = f"projects/{PROJECT}/databases/(default)"


class RecordingFirestoreApi:
    def __init__(self) -> None:
        self.calls: list[str] = []
        self.commits: list[CommitRequest] = []
        self.before_commit: list[Callable[[], None]] = []  # each runs once, before a commit
        self._docs: dict[str, Document] = {}
        self._ticks = 0

    def put(self, path: str, data: dict[str, Any]) -> None:
        """Store a document directly (no RPC recorded), as a concurrent writer would."""
        name = f"{DATABASE}/documents/{path}"
        now = self._tick()
        fields = _helpers.encode_dict(data)
        self._docs[name] = Document(name=name, fields=fields, create_time=now, update_time=now)

    def take(self, path: str) -> dict[str, Any]:
        """Remove a document directly (no RPC recorded); its data."""
        doc = self._docs.pop(f"{DATABASE}/documents/{path}")
        data = _helpers.decode_dict(doc.fields, None)
        assert isinstance(data, dict)
        return data

    def batch_get_documents(self, request: dict[str, Any], **_: Any) -> Iterator[Any]:
        self.calls.append("BatchGetDocuments")
        read_time = self._tick()
        answers = []
        for name in request["documents"]:
            found = self._docs.get(name)
            if found is None:
                answers.append(BatchGetDocumentsResponse(missing=name, read_time=read_time))
            else:
                answers.append(BatchGetDocumentsResponse(found=found, read_time=read_time))
        return iter(answers)

    def commit(self, request: dict[str, Any], **_: Any) -> CommitResponse:
        self.calls.append("Commit")
        while self.before_commit:
            self.before_commit.pop(0)()
        commit = CommitRequest(request)
        self.commits.append(commit)
        writes = [w._pb for w in commit.writes]
        for write in writes:
            self._check(write)
        now = self._tick()
        for write in writes:
            self._apply(write, now)
        return CommitResponse(
            write_results=[WriteResult(update_time=now) for _ in writes], commit_time=now
        )

    def __getattr__(self, rpc: str) -> Callable[..., Any]:
        def unexpected(*_: Any, **__: Any) -> Any:
            self.calls.append(rpc)
            raise AssertionError(f"unexpected Firestore RPC: {rpc}")

        return unexpected

    def _check(self, write: Any) -> None:
        name = write.update.name if write.HasField("update") else write.delete
        stored = self._docs.get(name)
        if not write.HasField("current_document"):
            return
        condition = write.current_document
        if condition.WhichOneof("condition_type") == "exists":
            if condition.exists and stored is None:
                raise gexc.NotFound(f"no entity to update: {name}")
            if not condition.exists and stored is not None:
                raise gexc.AlreadyExists(f"entity already exists: {name}")
        elif stored is None or stored._pb.update_time != condition.update_time:
            raise gexc.FailedPrecondition(f"the stored version does not match: {name}")

    def _apply(self, write: Any, now: timestamp_pb2.Timestamp) -> None:
        if not write.HasField("update"):
            self._docs.pop(write.delete, None)
            return
        name = write.update.name
        stored = self._docs.get(name)
        doc = Document(name=name, create_time=now) if stored is None else stored
        if write.HasField("update_mask"):
            for path in write.update_mask.field_paths:
                assert "." not in path, "nested field paths are not supported here"
                if path in write.update.fields:
                    doc._pb.fields[path].CopyFrom(write.update.fields[path])
                else:
                    doc._pb.fields.pop(path, None)
        else:
            doc._pb.ClearField("fields")
            doc._pb.fields.MergeFrom(write.update.fields)
        for transform in write.update_transforms:
            assert transform.WhichOneof("transform_type") == "increment"
            path = transform.field_path
            base = doc._pb.fields[path].integer_value if path in doc._pb.fields else 0
            doc._pb.fields[path].integer_value = base + transform.increment.integer_value
        doc._pb.update_time.CopyFrom(now)
        self._docs[name] = doc

    def _tick(self) -> timestamp_pb2.Timestamp:
        self._ticks += 1
        return timestamp_pb2.Timestamp(seconds=1_700_000_000, nanos=self._ticks * 1000)


def recording_client(
    api: RecordingFirestoreApi | None = None,
) -> tuple[firestore.Client, RecordingFirestoreApi]:
    """A firestore.Client whose RPCs go to `api` (a new one by default)."""
    db = firestore.Client(project=PROJECT, credentials=AnonymousCredentials())
    api = api or RecordingFirestoreApi()
    db._firestore_api_internal = api
    assert db._database_string == DATABASE
    return db, api
