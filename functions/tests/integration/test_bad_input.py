"""Guarantee 7: bad input gets the documented 4xx envelope and writes nothing."""

from __future__ import annotations

import json

import pytest

import main
from tests.integration.conftest import request_body
from tests.support.http import call


def snapshot(db) -> tuple:
    requests = len(list(db.collection("generation_requests").select([]).stream()))
    txs = len(list(db.collection_group("transactions").select([]).stream()))
    keys = len(list(db.collection("idempotency_keys").select([]).stream()))
    balances = sorted((u.id, u.get("current_credits")) for u in db.collection("users").stream())
    return requests, txs, keys, balances


def without(field: str) -> dict:
    body = request_body()
    del body[field]
    return body


CREATE_CASES = [
    # id, kwargs for call(), expected status, expected error_type, fields named in details
    ("wrong-method", {"method": "GET"}, 405, "method_not_allowed", None),
    ("put", {"method": "PUT", "json_body": request_body()}, 405, "method_not_allowed", None),
    ("no-content-type", {"data": json.dumps(request_body())}, 400, "validation", None),
    (
        "text-plain",
        {"data": json.dumps(request_body()), "content_type": "text/plain"},
        400,
        "validation",
        None,
    ),
    (
        "not-json",
        {"data": "{not json", "content_type": "application/json"},
        400,
        "validation",
        None,
    ),
    ("empty-body", {"data": "", "content_type": "application/json"}, 400, "validation", None),
    ("json-array", {"json_body": [request_body()]}, 400, "validation", None),
    ("json-string", {"json_body": "hello"}, 400, "validation", None),
    ("json-null", {"data": "null", "content_type": "application/json"}, 400, "validation", None),
    ("missing-userId", {"json_body": without("userId")}, 400, "validation", {"userId"}),
    ("missing-prompt", {"json_body": without("prompt")}, 400, "validation", {"prompt"}),
    (
        "missing-all",
        {"json_body": {}},
        400,
        "validation",
        {"userId", "model", "style", "color", "size", "prompt"},
    ),
    ("userId-number", {"json_body": request_body(userId=123)}, 400, "validation", {"userId"}),
    ("prompt-list", {"json_body": request_body(prompt=["a"])}, 400, "validation", {"prompt"}),
    ("size-number", {"json_body": request_body(size=512)}, 400, "validation", {"size"}),
    ("blank-prompt", {"json_body": request_body(prompt="   ")}, 400, "validation", {"prompt"}),
    ("long-prompt", {"json_body": request_body(prompt="p" * 1001)}, 400, "validation", {"prompt"}),
    ("long-userId", {"json_body": request_body(userId="u" * 101)}, 400, "validation", {"userId"}),
    (
        "slash-userId",
        {"json_body": request_body(userId="arda/transactions")},
        400,
        "validation",
        {"userId"},
    ),
    ("dotdot-userId", {"json_body": request_body(userId="..")}, 400, "validation", {"userId"}),
    ("unknown-model", {"json_body": request_body(model="Model C")}, 400, "validation", {"model"}),
    ("slash-style", {"json_body": request_body(style="a/b")}, 400, "validation", {"style"}),
    ("unknown-style", {"json_body": request_body(style="pixel_art")}, 400, "validation", {"style"}),
    ("unknown-color", {"json_body": request_body(color="sepia")}, 400, "validation", {"color"}),
    ("unknown-size", {"json_body": request_body(size="2048x2048")}, 400, "validation", {"size"}),
    (
        "all-catalog-bad",
        {"json_body": request_body(style="x", color="y", size="z")},
        400,
        "validation",
        {"style", "color", "size"},
    ),
    ("unknown-user", {"json_body": request_body(userId="nobody")}, 404, "not_found", None),
    (
        "poor-user",
        {"json_body": request_body(userId="mike_creative", size="1024x1792")},
        402,
        "insufficient_credits",
        None,
    ),
]


@pytest.mark.parametrize(
    ("kwargs", "status", "error_type", "fields"),
    [case[1:] for case in CREATE_CASES],
    ids=[case[0] for case in CREATE_CASES],
)
def test_create_rejects_bad_input_without_writing(
    db, make_container, kwargs, status, error_type, fields
):
    make_container()
    before = snapshot(db)
    got_status, body = call(main.createGenerationRequest, **kwargs)
    assert got_status == status, body
    assert body["success"] is False
    assert body["error_type"] == error_type
    assert isinstance(body["message"], str) and body["message"]
    assert isinstance(body["error"], str) and body["error"]
    if fields is not None:
        assert {d["field"] for d in body["details"]} == fields
    assert "Traceback" not in json.dumps(body)
    assert snapshot(db) == before


def test_insufficient_credits_message(db, make_container):
    make_container()
    status, body = call(
        main.createGenerationRequest,
        json_body=request_body(userId="mike_creative", size="1024x1792"),
    )
    assert status == 402
    assert body["message"] == "Insufficient credits. Required: 4, Available: 3"


@pytest.mark.parametrize(
    ("handler", "method", "kwargs", "status"),
    [
        ("getGenerationStatus", "GET", {}, 400),
        ("getGenerationStatus", "GET", {"query": {"generationRequestId": "  "}}, 400),
        ("getGenerationStatus", "GET", {"query": {"generationRequestId": "missing"}}, 404),
        ("getGenerationStatus", "POST", {"json_body": {"generationRequestId": 5}}, 400),
        ("getGenerationStatus", "DELETE", {}, 405),
        ("getUserCredits", "GET", {}, 400),
        ("getUserCredits", "GET", {"query": {"userId": "   "}}, 400),
        ("getUserCredits", "GET", {"query": {"userId": "nobody"}}, 404),
        ("getUserCredits", "GET", {"query": {"userId": "arda", "limit": "0"}}, 400),
        ("getUserCredits", "GET", {"query": {"userId": "arda", "limit": "201"}}, 400),
        ("getUserCredits", "GET", {"query": {"userId": "arda", "limit": "ten"}}, 400),
        ("getUserCredits", "GET", {"query": {"userId": "arda", "cursor": "nope"}}, 400),
        ("getUserCredits", "POST", {"data": "[]", "content_type": "application/json"}, 400),
        ("validate_user", "GET", {}, 400),
        ("validate_user", "GET", {"query": {"userId": "a/b"}}, 400),
        ("validate_user", "GET", {"query": {"userId": "nobody"}}, 404),
        ("getCatalog", "POST", {"json_body": {}}, 405),
        ("seed_database", "GET", {}, 405),
    ],
)
def test_read_functions_reject_bad_input(db, make_container, handler, method, kwargs, status):
    make_container()
    before = snapshot(db)
    got_status, body = call(getattr(main, handler), method, **kwargs)
    assert got_status == status, body
    assert body["success"] is False and body["error_type"]
    assert snapshot(db) == before


def test_validate_user_404_says_it_does_not_exist(db, make_container):
    make_container()
    status, body = call(main.validate_user, "GET", query={"userId": "nobody"})
    assert status == 404 and body["exists"] is False and body["error_type"] == "not_found"
