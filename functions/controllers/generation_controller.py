"""createGenerationRequest, getGenerationStatus, listGenerationRequests,
cancelGenerationRequest, deleteGenerationRequest."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from flask import Request, Response

from controllers.cancel_after import CANCEL_AFTER_HEADER, parse_cancel_after
from controllers.event_stream import StatusStream, event_id, last_event_id, wants_event_stream
from controllers.http import json_body, json_response, params, validate
from controllers.prefer import PREFER_HEADER, parse_wait, preference_applied
from core.errors import (
    AppError,
    BackendUnavailableError,
    FieldError,
    NotFoundError,
    TooManyStreamsError,
    UnauthenticatedError,
    ValidationError,
)
from core.logging import log_exception
from core.webhook_urls import PRODUCTION, UrlPolicy
from schemas.requests import (
    WEBHOOK_POLICY,
    CancelRequest,
    CreateGenerationRequest,
    DeleteGenerationRequest,
    StatusQuery,
    UserRequestsQuery,
)
from schemas.responses import generation_status_body, generation_summary_body
from services.accounts import account_missing

if TYPE_CHECKING:
    from controllers.auth import AdminGuard, UserAuthorizer
    from schemas.documents import CancelReason, GenerationRecord
    from services.concurrency import ConcurrencySlots
    from services.generation_service import GenerationService
    from services.ports import AccountReader

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
        accounts: AccountReader | None = None,
        streams: ConcurrencySlots | None = None,
        status_stream: StatusStream | None = None,
    ) -> None:
        self._service = service
        # Asked only on a 404 or an empty list, so that a signed-in caller without an account
        # learns to call createAccount (never on the way of an answer that finds something).
        self._accounts = accounts
        self._auth = auth
        self._admin = admin
        # Concurrent `Prefer: wait` calls per user: the caller's uid, or for an anonymous caller
        # (the open emulator mode) the user the request is for. Beyond them: no wait.
        self._waits = waits
        self._validation_context = {WEBHOOK_POLICY: webhook_policy}
        # Open status streams per user, counted like waits (None: unbounded, unit tests only).
        self._streams = streams
        self._status_stream = status_stream or StatusStream()

    def create(self, request: Request) -> Response:
        uid = self._auth.authenticate(request, scope="generate")
        parsed = validate(CreateGenerationRequest, json_body(request), self._validation_context)
        self._auth.require_owner(uid, parsed.userId)
        wait = prefer_wait(request)
        key = idempotency_key(request)
        cancel_after = parse_cancel_after(request.headers.getlist(CANCEL_AFTER_HEADER))
        try:
            result = self._service.create(parsed, key, cancel_after)
        except NotFoundError as missing:
            # the charge read no user: for a signed-in caller, their own account
            if uid is not None and missing.error == "user_not_found":
                raise account_missing(uid) from None
            raise
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
        body = self._status_body(record) | {"deductedCredits": accepted["deductedCredits"]}
        status = 200 if record.status.is_terminal else 202
        return json_response(body, status, preference_applied(wait))

    def status(self, request: Request) -> Response:
        uid = self._auth.authenticate(request, scope="read")
        query = validate(StatusQuery, params(request))
        wait = prefer_wait(request)

        def visible(owner: str) -> bool:
            """Another user's request answers exactly like an unknown one (hidden)."""
            return self._auth.owns(uid, owner)

        try:
            record = self._service.get(query.generationRequestId, visible=visible)
        except NotFoundError as unknown:
            raise self._without_account(uid) or unknown from None
        if wants_event_stream(request):
            owner = record.user_id if uid is None else uid
            read = functools.partial(self._service.get, record.id, visible)
            return self._stream(record, read, owner, request)
        if wait is None:
            return json_response(self._status_body(record))
        if not record.status.is_terminal:  # a finished request needs no slot: nothing to wait for
            with self._waits.hold(record.user_id if uid is None else uid) as granted:
                if not granted:
                    return json_response(self._status_body(record))
                record = self._service.wait_until_terminal(query.generationRequestId, wait, visible)
        return json_response(self._status_body(record), headers=preference_applied(wait))

    def _stream(
        self,
        record: GenerationRecord,
        read: Callable[[], GenerationRecord],
        owner: str,
        request: Request,
    ) -> Response:
        """The status as Server-Sent Events. Everything that can refuse (the read above, the
        slot here) happens before the first byte, so refusals answer JSON like the plain call.
        A terminal request is one event and takes no slot; one the client has seen is a 204,
        which tells an EventSource to stop reconnecting."""
        seen, body = last_event_id(request), self._status_body(record)
        if record.status.is_terminal:
            if seen == event_id(body):
                return Response(status=204)
            return self._status_stream.response(
                record, read, self._status_body, seen, _nothing, body
            )
        release = _nothing
        if self._streams is not None:
            try:
                taken = self._streams.take(owner)
            except Exception as exc:
                log_exception("stream slot store failed", exc, generationRequestId=record.id)
                raise BackendUnavailableError() from None
            if taken is None:
                raise TooManyStreamsError(extra={"maxStreams": self._streams.limit})
            release = taken
        try:
            return self._status_stream.response(
                record, read, self._status_body, seen, release, body
            )
        except BaseException:
            release()
            raise

    def cancel(self, request: Request) -> Response:
        uid, visible, reason = self._owner_or_admin(request)
        parsed = validate(CancelRequest, json_body(request))
        try:
            record = self._service.cancel(parsed.generationRequestId, visible, reason)
        except NotFoundError as unknown:
            raise self._without_account(uid) or unknown from None
        body = self._status_body(record)
        return json_response({"success": True, "refundedCredits": record.credits_deducted} | body)

    def _owner_or_admin(
        self, request: Request
    ) -> tuple[str | None, Callable[[str], bool], CancelReason]:
        """A user may act on its own requests, the admin on every one; else the user's 401.
        The user's uid (None for the admin or an anonymous caller), what it may see, and who
        acts (`user` or `admin`)."""
        try:
            uid = self._auth.authenticate(request, scope="generate")
        except UnauthenticatedError as unauthenticated:
            try:
                self._admin.authorize(request)
            except AppError:
                raise unauthenticated from None
            return None, lambda owner: True, "admin"
        return uid, lambda owner: self._auth.owns(uid, owner), "user"

    def _without_account(self, uid: str | None) -> NotFoundError | None:
        """404 `account_not_found` when a signed-in caller has no account, else None."""
        if uid is not None and self._accounts is not None and self._accounts.get(uid) is None:
            return account_missing(uid)
        return None

    def list_for_user(self, request: Request) -> Response:
        uid = self._auth.authenticate(request, scope="read")
        query = validate(UserRequestsQuery, params(request))
        self._auth.require_owner(uid, query.userId)
        records = self._service.list_for_user(query.userId, query.limit)
        if not records and (missing := self._without_account(uid)):
            raise missing
        return json_response(
            {"success": True, "requests": [self._summary_body(r) for r in records]}
        )

    def _status_body(self, record: GenerationRecord) -> dict[str, Any]:
        """Every status body answered (plain, wait, stream, cancel, delete): the stored fields
        plus per-read extras."""
        return (
            generation_status_body(record)
            | self._service.retention_fields(record)
            | {"queuePosition": self._service.queue_position(record)}
        )

    def _summary_body(self, record: GenerationRecord) -> dict[str, Any]:
        """A list item: the summary plus the same per-read extras as a status body."""
        return generation_summary_body(record) | self._service.retention_fields(record)

    # --- deleteGenerationRequest ----------------------------------------------------------------
    def delete(self, request: Request) -> Response:
        """The owner deletes a finished request's picture and prompt (scope `generate`: it
        changes data). Another user's request answers like an unknown one."""
        uid = self._auth.authenticate(request, scope="generate")
        parsed = validate(DeleteGenerationRequest, json_body(request))
        try:
            record = self._service.delete(
                parsed.generationRequestId, lambda owner: self._auth.owns(uid, owner)
            )
        except NotFoundError as unknown:
            raise self._without_account(uid) or unknown from None
        return json_response({"success": True} | self._status_body(record))


def _nothing() -> None:
    """No slot to give back."""
