"""Time source. Everything stored or returned is timezone-aware UTC."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


def to_rfc3339(value: datetime | None) -> str | None:
    """RFC 3339 in UTC, e.g. 2025-08-04T13:14:26.757346+00:00 (naive values are taken as UTC)."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat()
