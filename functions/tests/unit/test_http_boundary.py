"""The shared HTTP boundary: CORS, methods, JSON parsing, the envelope, no leaked internals."""

from __future__ import annotations

import json

import pytest

from controllers.http import CORS_HEADERS, endpoint, json_body, json_response, validate
from core.errors import InsufficientCreditsError, NotFoundError, ValidationError
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
