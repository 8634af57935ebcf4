"""createGenerationRequest, getGenerationStatus, listGenerationRequests,
cancelGenerationRequest."""

from __future__ import annotations

from collections.abc import Callable

from flask import Request, Response

from controllers.auth import AdminGuard, UserAuthorizer
from controllers.http import json_body, json_response, params, validate
from core.errors import AppError, FieldError, UnauthenticatedError, ValidationError
from schemas.requests import (
    CancelRequest,
    CreateGenerationRequest,
    StatusQuery,
    UserRequestsQuery,
)
from schemas.responses import generation_status_body, generation_summary_body
from services.generation_service import GenerationService

IDEMPOTENCY_HEADER = "Idempotency-Key"


def idempotency_key(request: Request) -> str | None:
    key = request.headers.get(IDEMPOTENCY_HEADER)
    if key is None:
        return None
    if not 1 <= len(key) <= 255:
        raise ValidationError(
            "Invalid Idempotency-Key",
            error="invalid_idempotency_key",
            details=[FieldError(IDEMPOTENCY_HEADER, "Must be 1-255 characters")],
        )
    return key


class GenerationController:
    def __init__(self, service: GenerationService, auth: UserAuthorizer, admin: AdminGuard) -> None:
        self._service = service
        self._auth = auth
        self._admin = admin

    def create(self, request: Request) -> Response:
        uid = self._auth.authenticate(request)
        parsed = validate(CreateGenerationRequest, json_body(request))
        self._auth.require_owner(uid, parsed.userId)
        result = self._service.create(parsed, idempotency_key(request))
        return json_response(result.body, result.status_code)

    def status(self, request: Request) -> Response:
        uid = self._auth.authenticate(request)
        query = validate(StatusQuery, params(request))
        # Another user's request answers exactly like an unknown one: its existence stays hidden.
        record = self._service.get(
            query.generationRequestId, visible=lambda owner: self._auth.owns(uid, owner)
        )
        return json_response(generation_status_body(record))

    def cancel(self, request: Request) -> Response:
        visible = self._owner_or_admin(request)
        parsed = validate(CancelRequest, json_body(request))
        record = self._service.cancel(parsed.generationRequestId, visible)
        body = generation_status_body(record)
        return json_response({"success": True, "refundedCredits": record.credits_deducted} | body)

    def _owner_or_admin(self, request: Request) -> Callable[[str], bool]:
        """Whose requests the caller may act on: a user its own (with an ID token where auth
        is required), the admin key every one. Without either, the user's 401 stands."""
        try:
            uid = self._auth.authenticate(request)
        except UnauthenticatedError as unauthenticated:
            try:
                self._admin.authorize(request)
            except AppError:
                raise unauthenticated from None
            return lambda owner: True
        return lambda owner: self._auth.owns(uid, owner)

    def list_for_user(self, request: Request) -> Response:
        uid = self._auth.authenticate(request)
        query = validate(UserRequestsQuery, params(request))
        self._auth.require_owner(uid, query.userId)
        records = self._service.list_for_user(query.userId, query.limit)
        return json_response(
            {"success": True, "requests": [generation_summary_body(r) for r in records]}
        )
