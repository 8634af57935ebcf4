"""The HTTP boundary shared by every HTTP function: CORS, JSON parsing, the error envelope.

firebase-functions' own `cors` option only forwards origins and methods to flask-cors, so it
cannot produce the Allow-Headers, Max-Age and 204 preflight the clients rely on; this module
sets them on every response instead, in one place.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterable
from typing import Any

import pydantic
from flask import Request, Response

from core.errors import AppError, FieldError, InternalError, MethodNotAllowedError, ValidationError
from core.logging import log_exception

CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
    "Access-Control-Allow-Headers": "Content-Type, Authorization, Idempotency-Key",
    "Access-Control-Max-Age": "3600",
}

Handler = Callable[[Request], Response]


def json_response(body: Any, status: int = 200) -> Response:
    return Response(
        json.dumps(body, ensure_ascii=False),
        status=status,
        mimetype="application/json",
        headers=CORS_HEADERS,
    )


def error_body(error: AppError) -> dict[str, Any]:
    body: dict[str, Any] = {
        "success": False,
        "error_type": error.error_type,
        "message": error.message,
        "error": error.error,
    }
    if error.details is not None:
        body["details"] = [{"field": d.field, "message": d.message} for d in error.details]
    return body | error.extra


def error_response(error: AppError) -> Response:
    return json_response(error_body(error), error.status)


def endpoint(methods: Iterable[str]) -> Callable[[Handler], Handler]:
    """Answer preflights, enforce the method, and map every exception to the envelope."""
    allowed = frozenset(m.upper() for m in methods)

    def decorate(handler: Handler) -> Handler:
        @functools.wraps(handler)
        def wrapped(request: Request) -> Response:
            if request.method == "OPTIONS":
                return Response(status=204, headers=CORS_HEADERS)
            try:
                if request.method not in allowed:
                    raise MethodNotAllowedError(
                        f"Method {request.method} not allowed; use {', '.join(sorted(allowed))}",
                        error="method_not_allowed",
                    )
                return handler(request)
            except AppError as error:
                return error_response(error)
            except Exception as exc:
                correlation_id = log_exception("unhandled error", exc, path=request.path)
                return error_response(InternalError(error=correlation_id))

        return wrapped

    return decorate


def json_body(request: Request) -> dict[str, Any]:
    """The request body as a JSON object, or a 400."""
    if "application/json" not in (request.content_type or "").lower():
        raise ValidationError("Content-Type must be application/json", error="invalid_content_type")
    try:
        body = json.loads(request.get_data(cache=True) or b"")
    except (ValueError, UnicodeDecodeError):
        raise ValidationError("Request body is not valid JSON", error="invalid_json") from None
    if not isinstance(body, dict):
        raise ValidationError("Request body must be a JSON object", error="invalid_json")
    return body


def optional_json_body(request: Request) -> dict[str, Any]:
    """Like `json_body`, but an empty body is an empty object."""
    if not request.get_data(cache=True).strip():
        return {}
    return json_body(request)


def params(request: Request) -> dict[str, Any]:
    """GET query parameters, or the JSON object of a POST."""
    if request.method == "GET":
        return request.args.to_dict()
    return json_body(request)


def validate[M: pydantic.BaseModel](model: type[M], data: dict[str, Any]) -> M:
    """Parse with pydantic; failures become a 400 with one detail per field (no internals)."""
    try:
        return model.model_validate(data)
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
