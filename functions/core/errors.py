"""Typed application errors. Services raise them; `controllers.http` maps them to responses."""

from __future__ import annotations

from typing import Any, NamedTuple


class FieldError(NamedTuple):
    field: str
    message: str


class AppError(Exception):
    """Base of every error that becomes a JSON error envelope."""

    status: int = 500
    error_type: str = "system"
    default_message: str = "An internal error occurred"
    # Seconds a client should wait before retrying (sent as a Retry-After header), if any.
    retry_after: int | None = None

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

    def envelope(self) -> dict[str, Any]:
        """The JSON error envelope every HTTP error answers with."""
        body: dict[str, Any] = {
            "success": False,
            "error_type": self.error_type,
            "message": self.message,
            "error": self.error,
        }
        if self.details is not None:
            body["details"] = [{"field": d.field, "message": d.message} for d in self.details]
        return body | self.extra


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


class SeedDisabledError(AppError):
    """seed_database while the SEED_ENABLED param is false (always, unless set on purpose)."""

    status = 403
    error_type = "seed_disabled"
    default_message = "Seeding is disabled here (the SEED_ENABLED param is false)"


class AdminKeyTooShortError(AppError):
    """Admin functions refuse to serve until ADMIN_API_KEY is long enough to resist guessing."""

    status = 503
    error_type = "system"
    default_message = (
        "Admin functions are disabled: the ADMIN_API_KEY secret must be at least 32 characters"
    )


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


class RetryLaterError(AppError):
    """503: nothing was written and the same request may be sent again after `retry_after`."""

    status = 503


class ContentionError(RetryLaterError):
    """A transaction kept losing to concurrent writers."""

    error_type = "busy"
    default_message = "The service is busy; please retry"
    retry_after = 2


class BackendUnavailableError(RetryLaterError):
    """Firestore (or another backend) did not answer within its deadline."""

    error_type = "unavailable"
    default_message = "A backend service is temporarily unavailable; please retry"
    retry_after = 5


class DeletionIncompleteError(RetryLaterError):
    """deleteAccount stopped at a step that failed; the steps done stay done, and calling again
    finishes the rest."""

    error_type = "unavailable"
    default_message = (
        "The account deletion stopped before it finished; call deleteAccount again (with a "
        "fresh sign-in) to finish it"
    )
    retry_after = 5


class ConflictError(AppError):
    """A record that must be created once already exists (never contention: not retried)."""

    status = 409
    error_type = "conflict"
    default_message = "The record already exists"


class GrantConflictError(AppError):
    """A grantId already used for another grant (another user, amount or reason)."""

    status = 409
    error_type = "conflict"
    default_message = "This grantId was already used for a different grant"


class NotCancellableError(AppError):
    """The request already finished (completed or failed): there is nothing to cancel."""

    status = 409
    error_type = "conflict"
    default_message = "The generation request has already finished and cannot be cancelled"


class DeleteInFlightError(AppError):
    """The request is still queued or processing: it must be cancelled before it is deleted."""

    status = 409
    error_type = "conflict"
    default_message = (
        "The generation request is still queued or processing: cancel it first "
        "(cancelGenerationRequest), then delete it"
    )


class PayloadTooLargeError(AppError):
    status = 413
    error_type = "payload_too_large"
    default_message = "The request body is too large"


class UnsupportedMediaTypeError(AppError):
    status = 415
    error_type = "unsupported_media_type"
    default_message = "Content-Type must be application/json"


class TooManyInFlightError(AppError):
    """The user already has the maximum number of requests queued or processing."""

    status = 429
    error_type = "too_many_in_flight"
    default_message = "Too many generation requests in progress; retry when one has finished"
    retry_after = 10


class TooManyPendingWebhooksError(AppError):
    """The user already has the maximum number of webhook events not yet delivered."""

    status = 429
    error_type = "too_many_pending_webhooks"
    default_message = "Too many webhook events not yet delivered; retry when one has been"
    retry_after = 60


class TooManyStreamsError(AppError):
    """The user already has the maximum number of status streams open."""

    status = 429
    error_type = "too_many_streams"
    default_message = "Too many status streams open; close one or retry when one has ended"
    retry_after = 10


class TooManyApiKeysError(AppError):
    """The user already has the maximum number of active API keys (one must be revoked first)."""

    status = 409
    error_type = "too_many_api_keys"
    default_message = "Too many active API keys; revoke one before creating another"


class TooManyApiKeysCreatedError(AppError):
    """The user created the maximum number of API keys in the window; Retry-After says when the
    oldest creation leaves it."""

    status = 429
    error_type = "too_many_api_keys_created"
    default_message = "Too many API keys created recently; retry later"

    def __init__(self, message: str, *, retry_after: int, extra: dict[str, Any]) -> None:
        super().__init__(message, extra=extra)
        self.retry_after = retry_after


class PaymentsNotConfiguredError(AppError):
    """Stripe's secrets are not set here: nothing can be bought or booked (retrying won't help)."""

    status = 503
    error_type = "payments_not_configured"
    default_message = (
        "Payments are not set up here (the STRIPE_SECRET_KEY secret is not set). On the local "
        "stack, send a signed test event with scripts/stripe_event.py instead"
    )


class PaymentsUnavailableError(RetryLaterError):
    """Stripe did not answer, or refused the request: nothing was created."""

    error_type = "payments_unavailable"
    default_message = "The payment provider is temporarily unavailable; please retry"
    retry_after = 5


class ConfigurationError(RuntimeError):
    """The deployed configuration is unsafe or invalid: the functions refuse to serve."""
