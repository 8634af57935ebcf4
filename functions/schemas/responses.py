"""Response bodies: the exact field names the clients depend on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from core.clock import to_rfc3339
from core.models import Model
from schemas.documents import (
    ApiKeyRecord,
    Catalog,
    GenerationRecord,
    GenerationStatus,
    TransactionRecord,
    UserRecord,
)
from schemas.ledger import refunded_credits


class CreateGenerationResponse(Model):
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
        "webhook": webhook_body(record),
        # Cancel-After: the deadline, and who cancelled a cancelled request
        "cancelAt": to_rfc3339(record.cancel_at),
        "cancelReason": record.cancel_reason if record.status.value == "cancelled" else None,
        # what the request cost: a pure function of the record, no ledger read
        "creditsCharged": record.credits_deducted,
        "creditsRefunded": refunded_credits(record),
    }


# A queued request's `queuePosition` counts at most this many requests ahead of it.
QUEUE_POSITION_CAP = 1000


def queue_position_body(ahead: int, cap: int = QUEUE_POSITION_CAP) -> int | str:
    """`queuePosition` for `ahead` queued requests before this one: the number up to `cap`
    (`cap` itself included, an exact count), the string "<cap>+" beyond it."""
    return ahead if ahead <= cap else f"{cap}+"


def webhook_body(record: GenerationRecord) -> dict[str, Any] | None:
    """The delivery of the request's webhook event; null without a `webhookUrl`. Until the
    request is settled its event is `pending` with no attempt made."""
    if record.webhook_url is None:
        return None
    delivery = record.webhook
    return {
        "state": delivery.state if delivery else "pending",
        "attempts": delivery.attempts if delivery else 0,
        "lastStatusCode": delivery.last_status_code if delivery else None,
        "lastError": delivery.last_error if delivery else None,
    }


def webhook_event(record: GenerationRecord) -> dict[str, Any]:
    """The one event of a settled request: `generation.<status>`, stamped with the time it was
    settled, its data the status body (without the delivery's own state, so that every attempt
    carries the same event)."""
    data = generation_status_body(record)
    del data["webhook"]
    data["queuePosition"] = None  # as getGenerationStatus answers it: a settled one is not queued
    return {
        "type": f"generation.{record.status.value}",
        "timestamp": to_rfc3339(record.completed_at),
        "data": data,
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
        "creditPacks": [
            p.model_dump(include={"id", "name", "credits", "amount", "currency"})
            for p in catalog.credit_packs
        ],
    }


def api_key_body(record: ApiKeyRecord) -> dict[str, Any]:
    """A key as its owner sees it in a listing: metadata only, never the key or its hash."""
    return {
        "keyId": record.key_id,
        "name": record.name,
        "prefix": record.prefix,
        "createdAt": to_rfc3339(record.created_at),
        "lastUsedAt": to_rfc3339(record.last_used_at),
        "revokedAt": to_rfc3339(record.revoked_at),
        "scopes": list(record.scopes),
        "expiresAt": to_rfc3339(record.expires_at),
    }


# --- retention and deletion (issue 25) ---------------------------------------------------------
def retention_body(record: GenerationRecord, retention: timedelta, now: datetime) -> dict[str, Any]:
    """What a read at `now` says of the request's picture, kept `retention` after completion:
    `imageExpiresAt` (null without a picture), and after it no `imageUrl` and `imageExpired`.
    A deleted request (deleteGenerationRequest) has neither picture nor prompt."""
    completed_at = record.completed_at
    expires_at = None
    if (
        record.status is GenerationStatus.COMPLETED
        and record.image_url is not None
        and completed_at is not None
        and not record.deleted
    ):
        aware = completed_at if completed_at.tzinfo else completed_at.replace(tzinfo=UTC)
        expires_at = aware + retention
    expired = expires_at is not None and now >= expires_at
    body: dict[str, Any] = {
        "imageExpiresAt": to_rfc3339(expires_at),
        "imageExpired": expired,
        "deleted": record.deleted,
    }
    if expired or record.deleted:
        body["imageUrl"] = None
    return body


# --- exportAccountData -------------------------------------------------------------------------
def account_profile_body(user: UserRecord) -> dict[str, Any]:
    """users/{uid} as its owner downloads it (exportAccountData)."""
    return {
        "userId": user.id,
        "name": user.name,
        "email": user.email,
        "current_credits": user.current_credits,
        "initial_credits": user.initial_credits,
        "total_images_generated": user.total_images_generated,
        "is_active": user.is_active,
        "created_at": to_rfc3339(user.created_at),
    }


def exported_request_body(record: GenerationRecord) -> dict[str, Any]:
    """A request in the export: its listing body plus where its webhook event went."""
    return generation_summary_body(record) | {"webhookUrl": record.webhook_url}
