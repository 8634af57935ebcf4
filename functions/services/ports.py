"""Interfaces the services and controllers depend on; adapters live in core/ and repositories/,
and tests provide fakes."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from datetime import date, datetime
from typing import Any, Protocol

from core.webhook_http import WebhookResponse
from schemas.documents import RequestRecord, TransactionRecord, UserRecord
from schemas.report import StoredDay, WeeklyReport


class GenerationQueue(Protocol):
    def enqueue(self, generation_request_id: str) -> None:
        """Schedule the worker for this request. Raises on failure; duplicates are harmless."""

    def cancel(self, generation_request_id: str) -> None:
        """Unschedule it if it has not started; best effort, never raises."""


class WebhookQueue(Protocol):
    def enqueue(self, generation_request_id: str) -> None:
        """Schedule the delivery of this request's webhook event. Raises on failure; a
        duplicate is harmless (one task per request)."""


class WebhookSender(Protocol):
    def post(self, url: str, body: bytes, headers: dict[str, str]) -> WebhookResponse:
        """POST one attempt; the receiver's status code, or why there was none. Raises
        WebhookUrlRefused when the URL or an address its host resolves to is not allowed."""


class TaskInspector(Protocol):
    def task_exists(self, generation_request_id: str) -> bool | None:
        """Whether the request's worker task is still in the queue (pending or being retried);
        None when that cannot be told (the queue did not answer)."""


class ImageStore(Protocol):
    def save(self, path: str, png: bytes, token: str) -> str:
        """Store `png` at `path` (overwriting the same bytes is harmless); its download URL,
        which carries `token`. Raises on failure."""

    def delete(self, path: str) -> None:
        """Remove the object at `path` if it exists; best effort, never raises."""


class UserStore(Protocol):
    """Users and their ledger, read as they are (no rule sits between them and the caller)."""

    def get(self, user_id: str) -> UserRecord | None: ...

    def list_all(self) -> list[UserRecord]: ...

    def transactions_page(
        self, user_id: str, limit: int, cursor: str | None
    ) -> tuple[list[TransactionRecord], str | None]:
        """Newest first; the cursor is the id of the last transaction of the previous page."""


class ReportStore(Protocol):
    """Streams of report inputs (half-open `[start, end)` ranges) and the stored reports."""

    def requests_created(self, start: datetime, end: datetime) -> Iterable[RequestRecord]: ...

    def transactions_booked(
        self, start: datetime, end: datetime
    ) -> Iterable[TransactionRecord]: ...

    def users_created(self, start: datetime, end: datetime) -> Iterable[UserRecord]: ...

    def rollups(self, days: Sequence[date], with_users: Collection[date]) -> dict[date, StoredDay]:
        """The stored rollups of `days` (a missing day is absent), with their per-user entries
        for the days in `with_users`."""

    def save_rollup(self, header: dict[str, Any], users: list[dict[str, Any]]) -> None:
        """Replace the rollup of `header["date"]` whole (header and user shards)."""

    def save(self, report: WeeklyReport) -> None: ...

    def get(self, report_id: str) -> dict[str, Any] | None: ...

    def latest(self) -> dict[str, Any] | None: ...

    def list_summaries(self, limit: int) -> list[dict[str, Any]]: ...
