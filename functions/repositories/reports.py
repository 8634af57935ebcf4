"""Weekly reports: streaming, projected reads of the source collections; the reports collection.

Reads never materialise a collection: each query streams only the fields the aggregation uses,
and the caller consumes records one at a time. Query errors propagate (a report of zeros for a
failed read would be a lie).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from google.cloud import firestore
from google.cloud.firestore_v1.base_document import DocumentSnapshot

from repositories.firestore_helpers import (
    GENERATION_REQUESTS,
    REPORTS,
    TRANSACTIONS,
    USERS,
    to_model,
)
from schemas.documents import RequestRecord, TransactionRecord, UserRecord
from schemas.report import WeeklyReport

# The report's projection of a generation request: RequestRecord's fields (the id is the name).
REQUEST_FIELDS = [name for name in RequestRecord.model_fields if name != "id"]
TRANSACTION_FIELDS = ["user_id", "type", "credits", "timestamp", "generation_request_id"]
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
