"""The HTTP boundary of every HTTP function: CORS, body limits, JSON parsing, the error envelope.

CORS is set here because firebase-functions' `cors` option cannot send the Allow-Headers,
Max-Age and 204 preflight the clients rely on.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Callable, Collection, Iterable
from typing import TYPE_CHECKING, Any

from flask import Request, Response
from google.api_core import exceptions as gexc
from werkzeug.exceptions import RequestEntityTooLarge

from core.errors import (
    AppError,
    BackendUnavailableError,
    ConfigurationError,
    FieldError,
    InternalError,
    MethodNotAllowedError,
    PayloadTooLargeError,
    UnsupportedMediaTypeError,
    ValidationError,
)
from core.logging import log_exception

if TYPE_CHECKING:
    import pydantic

CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
    # Last-Event-ID: a browser's EventSource resends it when it reconnects to a status stream.
    "Access-Control-Allow-Headers": (
        "Content-Type, Authorization, Idempotency-Key, Prefer, Cancel-After, Last-Event-ID"
    ),
    "Access-Control-Max-Age": "3600",
    # A page may read the `Prefer: wait` answer header (controllers/prefer.py).
    "Access-Control-Expose-Headers": "Preference-Applied",
}
_ADMIN_CORS_BASE = {k: v for k, v in CORS_HEADERS.items() if k != "Access-Control-Allow-Origin"} | {
    "Vary": "Origin"
}
# Larger bodies answer 413 before anything else happens.
MAX_BODY_BYTES = 64 * 1024
# Backend failures that mean "not reachable within the deadline": a clean 503, not a 500.
_UNAVAILABLE = (gexc.ServiceUnavailable, gexc.DeadlineExceeded, gexc.RetryError)

Handler = Callable[[Request], Response]


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        json.dumps(body, ensure_ascii=False),
        status=status,
        mimetype="application/json",
        headers=headers,
    )


def error_response(error: AppError, extra: dict[str, Any] | None = None) -> Response:
    response = json_response(error.envelope() | (extra or {}), error.status)
    if error.retry_after is not None:
        response.headers["Retry-After"] = str(error.retry_after)
    return response


def cors_headers(request: Request, admin_origins: Collection[str] | None) -> dict[str, str]:
    """User functions answer any origin. Admin functions answer only allowed origins (never
    `*`), so a page elsewhere cannot read their answers or send them credentials."""
    if admin_origins is None:
        return CORS_HEADERS
    origin = request.headers.get("Origin", "")
    if origin not in admin_origins:
        # Without Allow-Origin the browser withholds the answer from the page.
        return _ADMIN_CORS_BASE
    return _ADMIN_CORS_BASE | {"Access-Control-Allow-Origin": origin}


def endpoint(
    methods: Iterable[str],
    *,
    admin_origins: Callable[[], Collection[str]] | None = None,
    error_extra: dict[str, Any] | None = None,
) -> Callable[[Handler], Handler]:
    """Answer preflights, enforce method and body size, map every exception to the envelope.
    With `admin_origins`: CORS for those origins only, and a POST must be JSON (415) so that a
    plain form on another site cannot drive it. `error_extra` joins every error envelope."""
    allowed = frozenset(m.upper() for m in methods)

    def decorate(handler: Handler) -> Handler:
        @functools.wraps(handler)
        def wrapped(request: Request) -> Response:
            try:
                origins = admin_origins() if admin_origins is not None else None
            except Exception as exc:
                return _internal(request, exc, error_extra)
            headers = cors_headers(request, origins)
            if request.method == "OPTIONS":
                return Response(status=204, headers=headers)
            try:
                response = _serve(handler, request, allowed, admin=origins is not None)
            except AppError as error:
                response = error_response(error, error_extra)
            except _UNAVAILABLE as exc:
                log_exception("backend unavailable", exc, path=request.path)
                response = error_response(BackendUnavailableError(), error_extra)
            except Exception as exc:
                response = _internal(request, exc, error_extra)
            response.headers.update(headers)
            return response

        return wrapped

    return decorate


def _serve(handler: Handler, request: Request, allowed: frozenset[str], *, admin: bool) -> Response:
    if request.method not in allowed:
        raise MethodNotAllowedError(
            f"Method {request.method} not allowed; use {', '.join(sorted(allowed))}",
            error="method_not_allowed",
        )
    raw_body(request)  # 413 before credentials are looked at or anything is parsed
    if admin and request.method == "POST" and not _is_json(request):
        raise UnsupportedMediaTypeError(error="unsupported_media_type")
    return handler(request)


def _internal(
    request: Request, exc: Exception, error_extra: dict[str, Any] | None = None
) -> Response:
    if isinstance(exc, ConfigurationError):
        correlation_id = log_exception(f"refusing to serve: {exc}", exc, path=request.path)
    else:
        correlation_id = log_exception("unhandled error", exc, path=request.path)
    return error_response(InternalError(error=correlation_id), error_extra)


def raw_body(request: Request) -> bytes:
    """The body, at most MAX_BODY_BYTES (413 beyond, also for bodies without Content-Length)."""
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise _too_large()
    request.max_content_length = MAX_BODY_BYTES + 1  # a chunked body is cut just past the limit
    try:
        data = request.get_data(cache=True)
    except RequestEntityTooLarge:
        raise _too_large() from None
    if len(data) > MAX_BODY_BYTES:
        raise _too_large()
    return data


def _too_large() -> PayloadTooLargeError:
    return PayloadTooLargeError(
        f"The request body is larger than {MAX_BODY_BYTES // 1024} KiB", error="body_too_large"
    )


def _is_json(request: Request) -> bool:
    return "application/json" in (request.content_type or "").lower()


def json_body(request: Request) -> dict[str, Any]:
    """The request body as a JSON object (parsed as strictly as `parse_json` does), or a 400."""
    if not _is_json(request):
        raise ValidationError("Content-Type must be application/json", error="invalid_content_type")
    body = parse_json(raw_body(request))
    if not isinstance(body, dict):
        raise ValidationError("Request body must be a JSON object", error="invalid_json")
    return body


def parse_json(raw: bytes) -> Any:
    """Strict JSON, else a 400: UTF-8 without a byte order mark; no NaN, Infinity, overflowing
    numbers, lone surrogates, or nesting deep enough to exhaust the parser."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise _bad_json("Request body is not valid UTF-8") from None
    if text.startswith("\ufeff"):
        raise _bad_json("Request body must not start with a byte order mark")
    try:
        body = json.loads(text, parse_constant=_reject_constant)
    except RecursionError:
        raise _bad_json("Request body is nested too deeply") from None
    except ValueError:
        raise _bad_json("Request body is not valid JSON") from None
    _check_values(body)
    return body


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _check_values(body: Any) -> None:
    """Reject what JSON text can spell but a stored document cannot hold."""
    pending = [body]
    while pending:
        value = pending.pop()
        if isinstance(value, dict):
            pending.extend(value.keys())
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)
        elif isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise _bad_json("Request body contains a lone surrogate") from None
        elif isinstance(value, float) and not math.isfinite(value):
            raise _bad_json("Request body contains a number out of range")


def _bad_json(message: str) -> ValidationError:
    return ValidationError(message, error="invalid_json")


def optional_json_body(request: Request) -> dict[str, Any]:
    """Like `json_body`, but an empty body is an empty object."""
    if not raw_body(request).strip():
        return {}
    return json_body(request)


def params(request: Request) -> dict[str, Any]:
    """GET query parameters, or the JSON object of a POST."""
    if request.method == "GET":
        return request.args.to_dict()
    return json_body(request)


def validate[M: pydantic.BaseModel](
    model: type[M], data: dict[str, Any], context: dict[str, Any] | None = None
) -> M:
    """Parse with pydantic; failures become a 400 with one detail per field (no internals).
    `context` reaches the model's validators (e.g. the webhook URL policy)."""
    import pydantic  # loaded with `model` already; main.py imports this module without it

    try:
        return model.model_validate(data, context=context)
    except pydantic.ValidationError as exc:
        details = [
            FieldError(".".join(str(p) for p in err["loc"]) or "body", _describe(err))
            for err in exc.errors(include_url=False, include_input=False)
        ]
        raise ValidationError(
            "Request validation failed", error="validation_failed", details=details
        ) from None


def _describe(err: Any) -> str:
    kind = err["type"]
    if kind == "missing":
        return "Field required"
    if kind == "string_pattern_mismatch":
        return "Contains characters that are not allowed"
    return str(err["msg"])


def health_probe(request: Request) -> Response:
    """health: touches nothing, so its latency is the emulator's floor."""
    return json_response({"status": "ok"})
