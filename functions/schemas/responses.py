"""Response bodies: the exact field names the clients depend on."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel

from core.clock import to_rfc3339
from schemas.documents import Catalog, GenerationRecord, TransactionRecord, UserRecord


class CreateGenerationResponse(BaseModel):
    generationRequestId: str
    status: Literal["queued"] = "queued"
    deductedCredits: int
    imageUrl: None = None


def generation_status_body(record: GenerationRecord) -> dict[str, Any]:
    return {
        "generationRequestId": record.id,
        "status": record.status.value,
        "imageUrl": record.image_url if record.status.value == "completed" else None,
        "error_message": record.error_message if record.status.value == "failed" else None,
        "progress": record.status.progress,
        "created_at": to_rfc3339(record.created_at),
        "updated_at": to_rfc3339(record.updated_at),
        "completed_at": to_rfc3339(record.completed_at),
    }


def generation_summary_body(record: GenerationRecord) -> dict[str, Any]:
    """A request as listed for its owner (the status fields plus what was asked for)."""
    return generation_status_body(record) | {
        "model": record.model,
        "style": record.style,
        "color": record.color,
        "size": record.size,
        "prompt": record.prompt,
        "credits_deducted": record.credits_deducted,
    }


def transaction_body(tx: TransactionRecord) -> dict[str, Any]:
    return {
        "id": tx.id,
        "type": tx.type,
        "credits": tx.credits,
        "generation_request_id": tx.generation_request_id,
        "user_id": tx.user_id,
        "timestamp": to_rfc3339(tx.timestamp),
        "description": tx.description,
    }


def user_data_body(user: UserRecord) -> dict[str, Any]:
    return {"name": user.name, "email": user.email, "current_credits": user.current_credits}


def catalog_body(catalog: Catalog, models: tuple[str, ...]) -> dict[str, Any]:
    return {
        "models": list(models),
        "styles": [
            s.model_dump(include={"id", "display_name", "description"}) for s in catalog.styles
        ],
        "colors": [
            c.model_dump(include={"id", "display_name", "hex_examples"}) for c in catalog.colors
        ],
        "sizes": [
            s.model_dump(
                include={"id", "width", "height", "aspect_ratio", "display_name", "credit_cost"}
            )
            for s in catalog.sizes
        ],
    }
