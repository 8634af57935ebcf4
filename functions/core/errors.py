"""Typed application errors. Services raise them; `controllers.http` maps them to responses."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class FieldError:
    field: str
    message: str


class AppError(Exception):
    """Base of every error that becomes a JSON error envelope."""

    status: int = 500
    error_type: str = "system"
    default_message: str = "An internal error occurred"

    def __init__(
        self,
        message: str | None = None,
        *,
        error: str | None = None,
        details: list[FieldError] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        self.message = message or self.default_message
        self.error = error or self.error_type
        self.details = details
        self.extra = extra or {}
        super().__init__(self.message)


class ValidationError(AppError):
    status = 400
    error_type = "validation"
    default_message = "The request is invalid"


class UnauthenticatedError(AppError):
    status = 401
    error_type = "unauthenticated"
    default_message = "Authentication is required"


class InsufficientCreditsError(AppError):
    status = 402
    error_type = "insufficient_credits"
    default_message = "Insufficient credits"


class ForbiddenError(AppError):
    status = 403
    error_type = "forbidden"
    default_message = "You are not allowed to do this"


class NotFoundError(AppError):
    status = 404
    error_type = "not_found"
    default_message = "Not found"


class MethodNotAllowedError(AppError):
    status = 405
    error_type = "method_not_allowed"
    default_message = "Method not allowed"


class IdempotencyInFlightError(AppError):
    status = 409
    error_type = "idempotency_conflict"
    default_message = "A request with this Idempotency-Key is still being processed; retry shortly"


class IdempotencyMismatchError(AppError):
    status = 422
    error_type = "idempotency_conflict"
    default_message = "This Idempotency-Key was already used with a different request body"


class QueueFailureError(AppError):
    status = 503
    error_type = "queue_failure"
    default_message = "Failed to queue generation task; the credits were refunded"


class InternalError(AppError):
    """An unexpected failure; the message shown to clients never carries internals."""

    status = 500
    error_type = "system"


class ContentionError(AppError):
    """A transaction kept losing to concurrent writers; nothing was written. Safe to retry."""

    status = 503
    error_type = "system"
    default_message = "The service is busy; please retry"
