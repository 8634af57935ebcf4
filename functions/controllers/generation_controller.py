"""createGenerationRequest, getGenerationStatus, listGenerationRequests,
cancelGenerationRequest."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Request, Response

from controllers.auth import AdminGuard, UserAuthorizer
from controllers.http import json_body, json_response, params, validate
from controllers.prefer import PREFER_HEADER, parse_wait, preference_applied
from core.errors import AppError, FieldError, UnauthenticatedError, ValidationError
from core.logging import log_exception
from core.webhook_urls import PRODUCTION, UrlPolicy
from schemas.requests import (
    WEBHOOK_POLICY,
    CancelRequest,
    CreateGenerationRequest,
    StatusQuery,
    UserRequestsQuery,
)
from schemas.responses import generation_status_body, generation_summary_body
from services.concurrency import ConcurrencySlots
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


def prefer_wait(request: Request) -> int | None:
    """The seconds of `Prefer: wait` (every `Prefer` header, as one list), or None."""
    return parse_wait(request.headers.getlist(PREFER_HEADER))


class GenerationController:
    def __init__(
        self,
        service: GenerationService,
        auth: UserAuthorizer,
        admin: AdminGuard,
        webhook_policy: UrlPolicy = PRODUCTION,
        *,
        waits: ConcurrencySlots,
    ) -> None:
        self._service = service
        self._auth = auth
        self._admin = admin
        # Concurrent `Prefer: wait` calls per user: the caller's uid, or for an anonymous caller
        # (the open emulator mode) the user the request is for. Beyond them: no wait.
        self._waits = waits
        self._validation_context = {WEBHOOK_POLICY: webhook_policy}

    def create(self, request: Request) -> Response:
        uid = self._auth.authenticate(request, scope="generate")
        parsed = validate(CreateGenerationRequest, json_body(request), self._validation_context)
        self._auth.require_owner(uid, parsed.userId)
        wait = prefer_wait(request)
        result = self._service.create(parsed, idempotency_key(request))
        if wait is None or result.status_code != 202:
            return json_response(result.body, result.status_code)
        with self._waits.hold(parsed.userId if uid is None else uid) as granted:
            if not granted:
                return json_response(result.body, result.status_code)
            return self._waited_create(result.body, wait)

    def _waited_create(self, accepted: dict[str, Any], wait: int) -> Response:
        """`Prefer: wait` on an accepted create: the status body, 200 once terminal, else 202.
        The request is charged by now, so a read failing during the wait answers the plain 202
        rather than an error that invites a second charge."""
        request_id = accepted["generationRequestId"]
        try:
            record = self._service.wait_until_terminal(request_id, wait)
        except Exception as exc:
            log_exception("wait failed", exc, generationRequestId=request_id)
            return json_response(accepted, 202)
        body = generation_status_body(record) | {"deductedCredits": accepted["deductedCredits"]}
        status = 200 if record.status.is_terminal else 202
        return json_response(body, status, preference_applied(wait))

    def status(self, request: Request) -> Response:
        uid = self._auth.authenticate(request, scope="read")
        query = validate(StatusQuery, params(request))
        wait = prefer_wait(request)

        def visible(owner: str) -> bool:
            """Another user's request answers exactly like an unknown one (hidden)."""
            return self._auth.owns(uid, owner)

        record = self._service.get(query.generationRequestId, visible=visible)
        if wait is None:
            return json_response(generation_status_body(record))
        if not record.status.is_terminal:  # a finished request needs no slot: nothing to wait for
            with self._waits.hold(record.user_id if uid is None else uid) as granted:
                if not granted:
                    return json_response(generation_status_body(record))
                record = self._service.wait_until_terminal(query.generationRequestId, wait, visible)
        return json_response(generation_status_body(record), headers=preference_applied(wait))

    def cancel(self, request: Request) -> Response:
        visible = self._owner_or_admin(request)
        parsed = validate(CancelRequest, json_body(request))
        record = self._service.cancel(parsed.generationRequestId, visible)
        body = generation_status_body(record)
        return json_response({"success": True, "refundedCredits": record.credits_deducted} | body)

    def _owner_or_admin(self, request: Request) -> Callable[[str], bool]:
        """A user may act on its own requests, the admin on every one; else the user's 401."""
        try:
            uid = self._auth.authenticate(request, scope="generate")
        except UnauthenticatedError as unauthenticated:
            try:
                self._admin.authorize(request)
            except AppError:
                raise unauthenticated from None
            return lambda owner: True
        return lambda owner: self._auth.owns(uid, owner)

    def list_for_user(self, request: Request) -> Response:
        uid = self._auth.authenticate(request, scope="read")
        query = validate(UserRequestsQuery, params(request))
        self._auth.require_owner(uid, query.userId)
        records = self._service.list_for_user(query.userId, query.limit)
        return json_response(
            {"success": True, "requests": [generation_summary_body(r) for r in records]}
        )
