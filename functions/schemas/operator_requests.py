"""Bodies and queries of the operator's functions: seeding, reports, rollups and grants.
Apart from schemas/requests.py, so that the user-facing functions do not define them."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Literal

from pydantic import BeforeValidator, ConfigDict, Field, StringConstraints, field_validator
from pydantic_core import PydanticCustomError

from core.models import Model
from schemas.ids import DocumentId, UserId


class SeedOptions(Model):
    """Optional body of seed_database: the history is deterministic for a given seed."""

    model_config = ConfigDict(extra="ignore")

    seed: Annotated[int, Field(strict=True, ge=0, le=2**63 - 1)] | None = None


_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _week_start(value: object) -> date | None:
    """`YYYY-MM-DD` naming a Monday (date.fromisoformat alone would also take "20250106")."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise PydanticCustomError("string_type", "Input should be a valid string")
    if not _ISO_DATE.fullmatch(text := value.strip()):
        raise PydanticCustomError("week_start", "weekStart must be a date in YYYY-MM-DD format")
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise PydanticCustomError("week_start", "weekStart must be a valid calendar date") from None
    if day.weekday() != 0:
        raise PydanticCustomError("week_start", "weekStart must be a Monday")
    return day


class WeeklyReportOptions(Model):
    """Optional body of scheduleWeeklyReport. Whether the week has ended is checked where the
    clock is (the report service)."""

    model_config = ConfigDict(extra="ignore")

    weekStart: Annotated[date | None, BeforeValidator(_week_start)] = None
    # The daily rollups, or a scan of the source collections (the reference; same figures).
    source: Literal["rollups", "scan"] = "rollups"


def _day(value: object) -> date:
    """`YYYY-MM-DD`, a real calendar date."""
    if not isinstance(value, str):
        raise PydanticCustomError("string_type", "Input should be a valid string")
    if not _ISO_DATE.fullmatch(text := value.strip()):
        raise PydanticCustomError("date_format", "date must be a date in YYYY-MM-DD format")
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise PydanticCustomError("date_format", "date must be a valid calendar date") from None


class DailyRollupOptions(Model):
    """Body of scheduleDailyRollup: the UTC day to (re)compute. Whether it has ended is checked
    where the clock is (the report service)."""

    model_config = ConfigDict(extra="ignore", populate_by_name=False)

    day: Annotated[date, BeforeValidator(_day), Field(alias="date")]


class ReportsQuery(Model):
    model_config = ConfigDict(extra="ignore")

    limit: int = Field(20, ge=1, le=100)


class ReportQuery(Model):
    model_config = ConfigDict(extra="ignore")

    reportId: DocumentId | None = None

    @field_validator("reportId", mode="before")
    @classmethod
    def _blank_is_latest(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value


# A caller-chosen grant id: the grant's idempotency key (its entry is grant_<grantId>).
GRANT_ID_PATTERN = r"^[A-Za-z0-9_-]{8,64}$"
MAX_GRANT_CREDITS = 1_000_000


class GrantCreditsRequest(Model):
    """Body of grantCredits (admin): credits for one user, once per `grantId`."""

    model_config = ConfigDict(extra="forbid")

    userId: UserId
    credits: Annotated[int, Field(strict=True, ge=1, le=MAX_GRANT_CREDITS)]
    reason: Annotated[
        str,
        StringConstraints(
            strict=True,
            strip_whitespace=True,
            min_length=1,
            max_length=200,
            pattern=r"^[^\x00-\x1f\x7f]+$",
        ),
    ]
    grantId: Annotated[str, StringConstraints(strict=True, pattern=GRANT_ID_PATTERN)]
