"""Request bodies and query parameters (pydantic v2)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
)

MODELS: tuple[str, ...] = ("Model A", "Model B")


def firestore_safe(value: str) -> str:
    """Firestore rejects ".", ".." and ids of the form __.*__ as document ids."""
    if value in {".", ".."} or (value.startswith("__") and value.endswith("__")):
        raise ValueError("Is not a valid id")
    return value


# A trimmed, non-empty string usable as one Firestore document id.
DocumentId = Annotated[
    str,
    StringConstraints(
        strict=True, strip_whitespace=True, min_length=1, max_length=100, pattern=r"^[^/]+$"
    ),
    AfterValidator(firestore_safe),
]
UserId = DocumentId
CatalogId = Annotated[
    str, StringConstraints(strict=True, min_length=1, max_length=100, pattern=r"^[A-Za-z0-9 _-]+$")
]


def normalise_catalog_id(value: str) -> str:
    """'Oil Painting' -> 'oil_painting': the display spelling is accepted, the id is stored."""
    return "_".join(value.strip().lower().split())


class CreateGenerationRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    userId: UserId
    model: Literal["Model A", "Model B"]
    style: CatalogId
    color: CatalogId
    size: CatalogId
    prompt: Annotated[
        str, StringConstraints(strict=True, strip_whitespace=True, min_length=1, max_length=1000)
    ]

    @field_validator("style", "color", "size")
    @classmethod
    def _normalise(cls, value: str) -> str:
        normalised = normalise_catalog_id(value)
        if not normalised:
            raise ValueError("Must not be blank")
        return normalised


class UserIdQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")

    userId: UserId


class CreditsQuery(UserIdQuery):
    limit: int = Field(50, ge=1, le=200)
    cursor: DocumentId | None = None


class StatusQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")

    generationRequestId: DocumentId


class WorkerTask(BaseModel):
    """The task payload: only the request id; everything else is read from Firestore."""

    model_config = ConfigDict(extra="ignore")

    generationRequestId: DocumentId


class UserRequestsQuery(UserIdQuery):
    limit: int = Field(20, ge=1, le=100)


class SeedOptions(BaseModel):
    """Optional body of seed_database: the history is deterministic for a given seed."""

    model_config = ConfigDict(extra="ignore")

    seed: Annotated[int, Field(strict=True, ge=0, le=2**63 - 1)] | None = None


class WeeklyReportOptions(BaseModel):
    """Optional body of scheduleWeeklyReport; `weekStart` is checked to be a Monday later."""

    model_config = ConfigDict(extra="ignore")

    weekStart: Annotated[str, StringConstraints(strict=True, max_length=20)] | None = None


class ReportsQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")

    limit: int = Field(20, ge=1, le=100)


class ReportQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")

    reportId: DocumentId | None = None

    @field_validator("reportId", mode="before")
    @classmethod
    def _blank_is_latest(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value
