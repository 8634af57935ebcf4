"""An in-memory ReportStore, fed from plain documents (e.g. a fabricated seed history)."""

from __future__ import annotations

import copy
from collections.abc import Collection, Iterator, Sequence
from datetime import date, datetime
from typing import Any

from schemas.documents import RequestRecord, TransactionRecord, UserRecord
from schemas.report import StoredDay, WeeklyReport
from services.seeding.history import SeedHistory


class MemoryReportStore:
    def __init__(
        self,
        requests: dict[str, dict[str, Any]] | None = None,
        transactions: list[dict[str, Any]] | None = None,
        users: dict[str, datetime] | None = None,
    ) -> None:
        self.requests = requests or {}
        self.transactions = transactions or []
        self.users = users or {}
        self.saved: dict[str, dict[str, Any]] = {}
        self.days: dict[date, StoredDay] = {}  # the stored rollups
        self.rollup_writes: list[date] = []
        self.request_scans: list[tuple[datetime, datetime]] = []

    @classmethod
    def of(cls, history: SeedHistory) -> MemoryReportStore:
        ledger = [
            {**tx, "id": tx_id}
            for by_id in history.transactions.values()
            for tx_id, tx in by_id.items()
        ]
        return cls(history.requests, ledger, history.user_created_at)

    def requests_created(self, start: datetime, end: datetime) -> Iterator[RequestRecord]:
        self.request_scans.append((start, end))
        for request_id, doc in self.requests.items():
            if start <= doc["created_at"] < end:
                yield RequestRecord.model_validate({**doc, "id": request_id})

    def transactions_booked(self, start: datetime, end: datetime) -> Iterator[TransactionRecord]:
        for n, doc in enumerate(self.transactions):
            if start <= doc["timestamp"] < end:
                yield TransactionRecord.model_validate({"id": f"tx{n}", **doc})

    def users_created(self, start: datetime, end: datetime) -> Iterator[UserRecord]:
        for user_id, created_at in self.users.items():
            if start <= created_at < end:
                yield UserRecord(id=user_id, created_at=created_at)

    def rollups(self, days: Sequence[date], with_users: Collection[date]) -> dict[date, StoredDay]:
        return {
            day: StoredDay(
                copy.deepcopy(self.days[day].header),
                copy.deepcopy(self.days[day].users) if day in with_users else None,
            )
            for day in days
            if day in self.days
        }

    def save_rollup(self, header: dict[str, Any], users: list[dict[str, Any]]) -> None:
        day = date.fromisoformat(header["date"])
        self.days[day] = StoredDay(copy.deepcopy(header), copy.deepcopy(users))
        self.rollup_writes.append(day)

    def save(self, report: WeeklyReport) -> None:
        self.saved[report.id] = report.model_dump()

    def get(self, report_id: str) -> dict[str, Any] | None:
        return self.saved.get(report_id)

    def latest(self) -> dict[str, Any] | None:
        return self.list_summaries(1)[0] if self.saved else None

    def list_summaries(self, limit: int) -> list[dict[str, Any]]:
        newest = sorted(
            self.saved.values(), key=lambda r: r["report_period"]["start_date"], reverse=True
        )
        return newest[:limit]
