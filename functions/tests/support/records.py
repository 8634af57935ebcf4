"""Defaults for hand-built request records in tests: override only what a test is about."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from schemas.documents import GenerationRecord, GenerationStatus
from schemas.requests import CreateGenerationRequest

REQUEST_DEFAULTS = {
    "status": "completed",
    "model": "Model A",
    "style": "anime",
    "color": "neon",
    "size": "512x512",
}


def request_options(**overrides: str) -> dict[str, str]:
    unknown = overrides.keys() - REQUEST_DEFAULTS.keys()
    if unknown:
        raise TypeError(f"unknown request options: {sorted(unknown)}")
    return REQUEST_DEFAULTS | overrides


def processing_record(**overrides: Any) -> GenerationRecord:
    """A stored request a worker has claimed: `request_options` defaults, owned by arda."""
    at = datetime(2026, 3, 2, 12, tzinfo=UTC)
    fields: dict[str, Any] = {
        "id": "req-1",
        "user_id": "arda",
        "prompt": "a fox",
        "status": GenerationStatus.PROCESSING,
        "credits_deducted": 1,
        "created_at": at,
        "updated_at": at,
    }
    return GenerationRecord.model_validate(request_options() | fields | overrides)


def status_record(
    status: GenerationStatus,
    created_at: datetime,
    request_id: str = "r1",
    owner: str = "arda",
    updated_at: datetime | None = None,
) -> GenerationRecord:
    """A request as a status read finds it (a picture URL once completed)."""
    fields: dict[str, Any] = {
        "id": request_id,
        "user_id": owner,
        "prompt": "p",
        "credits_deducted": 1,
        "image_url": "https://img/r1.png" if status is GenerationStatus.COMPLETED else None,
        "created_at": created_at,
        "updated_at": updated_at or created_at,
    }
    return GenerationRecord.model_validate(request_options(status=status.value) | fields)


def create_body(**overrides: Any) -> CreateGenerationRequest:
    """A valid createGenerationRequest body (Model B, the dearest size), as the service gets it."""
    body = {
        "userId": "arda",
        "model": "Model B",
        "style": "anime",
        "color": "neon",
        "size": "1024x1792",
        "prompt": "p",
    }
    return CreateGenerationRequest.model_validate(body | overrides)
