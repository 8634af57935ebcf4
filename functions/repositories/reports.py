"""Weekly reports: streaming, projected reads of the source collections; the daily rollups
(`usage_daily`); the reports collection.

Reads never materialise a collection: each query streams only the fields the aggregation uses,
and the caller consumes records one at a time. Query errors propagate (a report of zeros for a
failed read would be a lie).
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from datetime import date, datetime
from typing import Any

from google.cloud import firestore
from google.cloud.firestore_v1.base_document import DocumentSnapshot

from repositories.firestore_helpers import (
    GENERATION_REQUESTS,
    REPORTS,
    TRANSACTIONS,
    USAGE_DAILY,
    USERS,
    to_model,
)
from schemas.documents import RequestRecord, TransactionRecord, UserRecord
from schemas.report import StoredDay, WeeklyReport

# `usage_daily/{YYYY-MM-DD}`: a day's totals; its per-user entries in
# `usage_daily/{YYYY-MM-DD}/users/{0000, 0001, ...}`, USERS_PER_SHARD at most per document, so a
# full shard stays far below Firestore's 1 MiB document limit.
ROLLUP_USERS = "users"
USERS_PER_SHARD = 1000
SHARD_COUNT_FIELD = "user_shards"
MAX_BATCH_WRITES = 400  # below Firestore's 500 writes per batch

# The report's projection of a generation request: RequestRecord's fields (the id is the name).
REQUEST_FIELDS = [name for name in RequestRecord.model_fields if name != "id"]
TRANSACTION_FIELDS = [
    "user_id",
    "type",
    "credits",
    "timestamp",
    "generation_request_id",
    "amount",
    "currency",
]
USER_FIELDS = ["created_at"]
LISTING_FIELDS = [
    "id",
    "report_period",
    "generated_at",
    "anomaly_analysis.severity_level",
    "anomaly_analysis.total_anomalies",
]
# Newest week first: RFC 3339 UTC strings of one format sort chronologically.
NEWEST_FIRST = "report_period.start_date"


def _between(
    query: firestore.Query | firestore.CollectionReference,
    field: str,
    start: datetime,
    end: datetime,
) -> firestore.Query:
    """`start <= field < end`."""
    return query.where(filter=firestore.FieldFilter(field, ">=", start)).where(
        filter=firestore.FieldFilter(field, "<", end)
    )


class ReportRepository:
    def __init__(self, db: firestore.Client) -> None:
        self._db = db

    # --- source data ------------------------------------------------------------------------

    def requests_created(self, start: datetime, end: datetime) -> Iterator[RequestRecord]:
        query = _between(self._db.collection(GENERATION_REQUESTS), "created_at", start, end)
        for snap in query.select(REQUEST_FIELDS).stream():
            record = to_model(snap, RequestRecord)
            if record is not None:
                yield record

    def transactions_booked(self, start: datetime, end: datetime) -> Iterator[TransactionRecord]:
        """Every user's ledger entries in one collection-group query (needs the
        COLLECTION_GROUP index on `transactions.timestamp`, see firestore.indexes.json)."""
        query = _between(self._db.collection_group(TRANSACTIONS), "timestamp", start, end)
        for snap in query.select(TRANSACTION_FIELDS).stream():
            data = {**(snap.to_dict() or {}), "id": snap.id}
            if not data.get("user_id"):
                data["user_id"] = _owner_id(snap)
            yield TransactionRecord.model_validate(data)

    def users_created(self, start: datetime, end: datetime) -> Iterator[UserRecord]:
        query = _between(self._db.collection(USERS), "created_at", start, end)
        for snap in query.select(USER_FIELDS).stream():
            record = to_model(snap, UserRecord)
            if record is not None:
                yield record

    # --- daily rollups ----------------------------------------------------------------------

    def rollups(self, days: Sequence[date], with_users: Collection[date]) -> dict[date, StoredDay]:
        """One batched read for the headers, one for the shards of the days in `with_users`.
        A day whose shards are incomplete is left out (the caller recomputes it)."""
        refs = [self._day(day) for day in days]
        headers: dict[date, dict[str, Any]] = {}
        for snap in self._db.get_all(refs) if refs else []:
            if snap.exists:
                headers[date.fromisoformat(snap.id)] = snap.to_dict() or {}
        shard_refs = [
            self._shard(day, n)
            for day, header in headers.items()
            if day in with_users
            for n in range(int(header.get(SHARD_COUNT_FIELD, 0)))
        ]
        shards: dict[str, list[dict[str, Any]]] = {}
        for snap in self._db.get_all(shard_refs) if shard_refs else []:
            if snap.exists:
                shards[snap.reference.path] = list((snap.to_dict() or {}).get("users", []))
        result: dict[date, StoredDay] = {}
        for day, header in headers.items():
            if day not in with_users:
                result[day] = StoredDay(header, None)
                continue
            paths = [self._shard(day, n).path for n in range(int(header.get(SHARD_COUNT_FIELD, 0)))]
            if all(path in shards for path in paths):
                result[day] = StoredDay(header, [u for path in paths for u in shards[path]])
        return result

    def save_rollup(self, header: dict[str, Any], users: list[dict[str, Any]]) -> None:
        """Replace a day's rollup whole: its shards, then (in the final batch) its header with
        the shard count; leftover shards of a larger earlier rollup are deleted. Up to
        MAX_BATCH_WRITES - 1 shards this is one atomic batch."""
        day = date.fromisoformat(header["date"])
        day_ref = self._day(day)
        before = day_ref.get(field_paths=[SHARD_COUNT_FIELD])
        old_count = int((before.to_dict() or {}).get(SHARD_COUNT_FIELD, 0)) if before.exists else 0
        chunks = [users[i : i + USERS_PER_SHARD] for i in range(0, len(users), USERS_PER_SHARD)]
        shard_writes: list[tuple[int, list[dict[str, Any]] | None]] = [
            *enumerate(chunks),
            *((n, None) for n in range(len(chunks), old_count)),  # None: delete
        ]
        batch, writes = self._db.batch(), 0
        for n, chunk in shard_writes:
            if writes == MAX_BATCH_WRITES - 1:
                batch.commit()
                batch, writes = self._db.batch(), 0
            if chunk is None:
                batch.delete(self._shard(day, n))
            else:
                batch.set(self._shard(day, n), {"date": header["date"], "shard": n, "users": chunk})
            writes += 1
        batch.set(day_ref, {**header, SHARD_COUNT_FIELD: len(chunks)})
        batch.commit()

    def _day(self, day: date) -> firestore.DocumentReference:
        return self._db.collection(USAGE_DAILY).document(day.isoformat())

    def _shard(self, day: date, n: int) -> firestore.DocumentReference:
        return self._day(day).collection(ROLLUP_USERS).document(f"{n:04d}")

    # --- reports ----------------------------------------------------------------------------

    def save(self, report: WeeklyReport) -> None:
        """Overwrite `reports/{id}`: re-running a week replaces its report."""
        self._db.collection(REPORTS).document(report.id).set(report.model_dump())

    def get(self, report_id: str) -> dict[str, Any] | None:
        snap = self._db.collection(REPORTS).document(report_id).get()
        return snap.to_dict() if snap.exists else None

    def latest(self) -> dict[str, Any] | None:
        query = self._reports_newest_first().limit(1)
        return next((snap.to_dict() or {} for snap in query.stream()), None)

    def list_summaries(self, limit: int) -> list[dict[str, Any]]:
        """Listing fields of the newest `limit` reports."""
        query = self._reports_newest_first().select(LISTING_FIELDS).limit(limit)
        return [_listing(snap) for snap in query.stream()]

    def _reports_newest_first(self) -> firestore.Query:
        return self._db.collection(REPORTS).order_by(
            NEWEST_FIRST, direction=firestore.Query.DESCENDING
        )


def _owner_id(snap: DocumentSnapshot) -> str:
    """`users/{userId}/transactions/{txId}` -> userId."""
    owner = snap.reference.parent.parent
    return owner.id if owner is not None else ""


def _listing(snap: DocumentSnapshot) -> dict[str, Any]:
    data = snap.to_dict() or {}
    analysis = data.get("anomaly_analysis") or {}
    period = data.get("report_period") or {}
    return {
        "id": data.get("id") or snap.id,
        "report_period": {
            "start_date": period.get("start_date"),
            "end_date": period.get("end_date"),
        },
        "generated_at": data.get("generated_at"),
        "severity_level": analysis.get("severity_level"),
        "total_anomalies": analysis.get("total_anomalies", 0),
    }
