"""The shared HTTP boundary: CORS, methods, JSON parsing, the envelope, no leaked internals."""

from __future__ import annotations

import json

import pytest
from google.api_core import exceptions as gexc

from controllers.http import (
    CORS_HEADERS,
    MAX_BODY_BYTES,
    endpoint,
    json_body,
    json_response,
    validate,
)
from core.errors import (
    ConfigurationError,
    ContentionError,
    InsufficientCreditsError,
    NotFoundError,
    ValidationError,
)
from schemas.requests import CreateGenerationRequest
from tests.support.http import call, make_request

VALID = {
    "userId": "arda",
    "model": "Model A",
    "style": "Oil Painting",
    "color": " NEON ",
    "size": "512x512",
    "prompt": "  a cat  ",
}


@endpoint(["POST"])
def echo(request):
    return json_response(json_body(request))


@endpoint(["GET"])
def explode(request):
    raise RuntimeError("secret database password in /srv/app.py line 42")


@endpoint(["GET"])
def missing(request):
    raise NotFoundError("User not found: x", error="user_not_found")


def test_preflight_is_204_with_cors_headers():
    response = echo(make_request("OPTIONS"))
    assert response.status_code == 204
    for name, value in CORS_HEADERS.items():
        assert response.headers[name] == value


def test_every_answer_carries_cors_headers():
    for handler, method in ((echo, "POST"), (echo, "GET"), (missing, "GET"), (explode, "GET")):
        response = handler(make_request(method, json_body={} if method == "POST" else None))
        assert response.headers["Access-Control-Allow-Origin"] == "*"


def test_wrong_method_is_405_envelope():
    status, body = call(echo, "GET")
    assert status == 405
    assert body["success"] is False and body["error_type"] == "method_not_allowed"


def test_unexpected_error_is_500_without_internals():
    status, body = call(explode, "GET")
    assert status == 500
    assert body["error_type"] == "system"
    assert "secret" not in json.dumps(body) and "RuntimeError" not in json.dumps(body)
    assert len(body["error"]) == 32  # the correlation id that was logged


def test_typed_error_maps_to_its_status():
    status, body = call(missing, "GET")
    assert (status, body["error_type"], body["error"]) == (404, "not_found", "user_not_found")
    assert "details" not in body


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        ('{"a": 1}', None),
        ('{"a": 1}', "text/plain"),
        ("{oops", "application/json"),
        ("[1, 2]", "application/json"),
        ('"text"', "application/json"),
        ("\xff\xfe", "application/json"),
    ],
)
def test_json_body_rejects_non_objects(data, content_type):
    with pytest.raises(ValidationError):
        json_body(make_request("POST", data=data, content_type=content_type))


def test_json_body_accepts_charset_parameter():
    request = make_request("POST", data='{"a": 1}', content_type="application/json; charset=utf-8")
    assert json_body(request) == {"a": 1}


def test_create_request_normalises_display_spellings():
    parsed = validate(CreateGenerationRequest, VALID)
    assert (parsed.style, parsed.color, parsed.prompt) == ("oil_painting", "neon", "a cat")


def test_blank_catalog_ids_are_rejected_by_the_schema():
    """Whitespace-only ids normalise to "": a 400 naming each field, never a catalog lookup."""
    with pytest.raises(ValidationError) as caught:
        validate(CreateGenerationRequest, VALID | {"style": " ", "color": "\t", "size": "  "})
    assert {d.field for d in caught.value.details or []} == {"style", "color", "size"}


def test_validation_details_name_each_field_without_pydantic_internals():
    with pytest.raises(ValidationError) as caught:
        validate(CreateGenerationRequest, {"userId": 5, "model": "Model Z"})
    fields = {d.field for d in caught.value.details or []}
    assert fields == {"userId", "model", "style", "color", "size", "prompt"}
    text = json.dumps([d.message for d in caught.value.details or []])
    assert "pydantic" not in text and "https://" not in text


def test_insufficient_credits_carries_figures():
    error = InsufficientCreditsError("Insufficient credits. Required: 4, Available: 3")
    assert error.status == 402 and error.error_type == "insufficient_credits"


# --- hostile bodies: always a 400 envelope, never an exception ---------------------------------
HOSTILE = {
    "deep-nesting": b"[" * 60_000,
    "deep-objects": b'{"a":' * 12_000,
    "5000-digit-number": b'{"userId": ' + b"9" * 5000 + b"}",
    "float-overflow": b'{"userId": 1e999}',
    "bom": b"\xef\xbb\xbf" + json.dumps(VALID).encode(),
    "nan": b'{"userId": NaN}',
    "infinity": b'{"userId": Infinity}',
    "lone-surrogate": b'{"userId": "\\ud800"}',
    "lone-surrogate-key": b'{"\\udc00": 1}',
    "invalid-utf8": b'{"userId": "\xff"}',
    "empty": b"",
}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_hostile_json_is_a_400(case):
    status, body = call(echo, data=HOSTILE[case], content_type="application/json")
    assert status == 400 and body["error_type"] == "validation", body
    assert body["error"] == "invalid_json"


def test_body_over_the_limit_is_413_before_the_handler_runs():
    ran = []

    @endpoint(["POST"])
    def handler(request):
        ran.append(True)
        return json_response({})

    status, body = call(handler, data=b" " * (MAX_BODY_BYTES + 1), content_type="text/plain")
    assert status == 413 and body["error_type"] == "payload_too_large", body
    assert ran == []
    status, _ = call(handler, data=b" " * MAX_BODY_BYTES, content_type="text/plain")
    assert status == 200


def test_busy_and_unavailable_carry_retry_after():
    @endpoint(["GET"])
    def busy(request):
        raise ContentionError()

    @endpoint(["GET"])
    def unreachable(request):
        raise gexc.ServiceUnavailable("connect failed 10.0.0.1:443")

    for handler, error_type in ((busy, "busy"), (unreachable, "unavailable")):
        response = handler(make_request("GET"))
        body = json.loads(response.get_data())
        assert response.status_code == 503 and body["error_type"] == error_type, body
        assert int(response.headers["Retry-After"]) > 0
        assert "10.0.0.1" not in response.get_data(as_text=True)


ADMIN_ORIGINS = ("http://127.0.0.1:8888",)


@endpoint(["POST"], admin_origins=lambda: ADMIN_ORIGINS)
def admin_echo(request):
    return json_response({"ok": True})


def test_admin_cors_answers_only_allowed_origins():
    allowed = admin_echo(make_request("OPTIONS", headers={"Origin": ADMIN_ORIGINS[0]}))
    assert allowed.headers["Access-Control-Allow-Origin"] == ADMIN_ORIGINS[0]
    assert allowed.headers["Vary"] == "Origin"
    other = admin_echo(make_request("OPTIONS", headers={"Origin": "https://evil.example"}))
    assert other.status_code == 204 and "Access-Control-Allow-Origin" not in other.headers
    response = admin_echo(
        make_request("POST", json_body={}, headers={"Origin": "https://evil.example"})
    )
    assert "Access-Control-Allow-Origin" not in response.headers


@pytest.mark.parametrize(
    "content_type",
    [None, "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"],
)
def test_admin_post_must_be_json(content_type):
    """What a plain HTML form on another site can send (no preflight) is refused."""
    status, body = call(admin_echo, data=b"seed=1", content_type=content_type)
    assert status == 415 and body["error_type"] == "unsupported_media_type", body
    assert call(admin_echo, json_body={})[0] == 200


def test_configuration_error_refuses_to_serve_without_details():
    @endpoint(["GET"])
    def misconfigured(request):
        raise ConfigurationError("REQUIRE_AUTH must be 'true' or 'false', got 'yes'")

    status, body = call(misconfigured, "GET")
    assert status == 500 and "REQUIRE_AUTH" not in json.dumps(body)
