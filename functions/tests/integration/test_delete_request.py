"""deleteGenerationRequest and the picture's retention on the real emulators (Firestore, Auth,
Storage): the picture is really gone from the Storage emulator, the prompt is removed, the record
and its ledger stay, a repeat is the same 200, and every refusal changes nothing. The last test
goes through the Functions emulator over HTTP."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pytest
import requests

import main
from tests.integration.conftest import FUNCTIONS_BASE, balance, request_body, transactions
from tests.support.auth_emulator import OTHER, OWNER, bearer, fresh_account
from tests.support.fakes import ManualClock
from tests.support.http import call


@pytest.fixture(scope="module")
def id_tokens() -> dict[str, str]:
    return {uid: fresh_account(uid) for uid in (OWNER, OTHER)}


def owner(id_tokens: dict[str, str]) -> dict[str, str]:
    return bearer(id_tokens[OWNER])


def create(headers: dict[str, str]) -> str:
    status, body = call(
        main.createGenerationRequest, headers=headers, json_body=request_body(OWNER)
    )
    assert status == 202, body
    return str(body["generationRequestId"])


def complete(request_id: str) -> None:
    status, body = call(
        main.processImageGeneration, json_body={"data": {"generationRequestId": request_id}}
    )
    assert (status, body["result"]["result"]) == (200, "completed"), body


def delete(request_id: str, headers: dict[str, str] | None) -> tuple[int, dict[str, Any]]:
    return call(
        main.deleteGenerationRequest,
        headers=headers,
        json_body={"generationRequestId": request_id},
    )


def status_of(request_id: str, headers: dict[str, str] | None) -> dict[str, Any]:
    status, body = call(
        main.getGenerationStatus,
        "GET",
        headers=headers,
        query={"generationRequestId": request_id},
    )
    assert status == 200, body
    return dict(body)


def listed(request_id: str, headers: dict[str, str] | None) -> dict[str, Any]:
    status, body = call(
        main.listGenerationRequests, "GET", headers=headers, query={"userId": OWNER}
    )
    assert status == 200, body
    return next(item for item in body["requests"] if item["generationRequestId"] == request_id)


def request_doc(db: Any, request_id: str) -> dict[str, Any]:
    return db.collection("generation_requests").document(request_id).get().to_dict()


def downloads(url: str) -> int:
    return requests.get(url, timeout=30).status_code


@pytest.fixture
def completed(db, make_container, id_tokens) -> tuple[Any, str, dict[str, Any]]:
    """Auth required: a completed request of OWNER, its picture downloadable."""
    container = make_container(require_auth=True)
    request_id = create(owner(id_tokens))
    complete(request_id)
    doc = request_doc(db, request_id)
    assert doc["status"] == "completed" and downloads(doc["image_url"]) == 200
    return container, request_id, doc


def test_the_owner_deletes_the_picture_and_prompt_and_the_record_stays(db, completed, id_tokens):
    _, request_id, before = completed
    headers = owner(id_tokens)
    charged = balance(db, OWNER)

    status, body = delete(request_id, headers)
    assert status == 200, body
    assert body["success"] is True and body["deleted"] is True
    assert (body["generationRequestId"], body["status"]) == (request_id, "completed")
    assert body["imageUrl"] is None and body["imageExpiresAt"] is None
    assert downloads(before["image_url"]) == 404  # gone from the Storage emulator

    doc = request_doc(db, request_id)
    assert doc["deleted"] is True and doc["deleted_at"] is not None
    assert doc["prompt"] == ""
    assert (doc["image_url"], doc["image_path"], doc["image_token"]) == (None, None, None)
    # the record stays for the report and accounting: what, when, what it cost
    for field in ("user_id", "model", "style", "size", "credits_deducted", "completed_at"):
        assert doc[field] == before[field]
    assert [
        t["type"] for t in transactions(db, OWNER) if t.get("generation_request_id") == request_id
    ] == ["deduction"]
    assert balance(db, OWNER) == charged  # no money moves

    assert status_of(request_id, headers) | {"success": True} == body
    item = listed(request_id, headers)
    assert (item["deleted"], item["prompt"], item["imageUrl"]) == (True, "", None)

    again_status, again = delete(request_id, headers)
    assert (again_status, again) == (200, body)  # a repeat: the same 200


def test_a_run_stopped_after_the_mark_is_finished_by_a_repeat(db, completed, id_tokens):
    """The record was marked but the object not removed (a crash between the two steps)."""
    container, request_id, before = completed
    container.generations.mark_deleted(request_id, container.clock.now())
    assert downloads(before["image_url"]) == 200  # still stored
    status, body = delete(request_id, owner(id_tokens))
    assert (status, body["deleted"]) == (200, True), body
    assert downloads(before["image_url"]) == 404


def test_a_request_in_flight_is_409_and_nothing_changes(db, make_container, id_tokens):
    make_container(require_auth=True)
    request_id = create(owner(id_tokens))
    before = request_doc(db, request_id)
    status, body = delete(request_id, owner(id_tokens))
    assert (status, body["error_type"], body["error"]) == (409, "conflict", "delete_in_flight")
    assert "cancel" in body["message"] and body["status"] == "queued"
    assert request_doc(db, request_id) == before


def test_another_users_request_is_404_and_keeps_its_picture(db, completed, id_tokens):
    _, request_id, before = completed
    status, body = delete(request_id, bearer(id_tokens[OTHER]))
    assert (status, body["error"]) == (404, "generation_not_found"), body
    unknown_status, unknown = delete("no-such-request", bearer(id_tokens[OTHER]))
    assert (unknown_status, unknown["error"]) == (404, "generation_not_found")
    assert request_doc(db, request_id) == before
    assert downloads(before["image_url"]) == 200


def test_without_credentials_it_is_401_and_a_read_only_key_is_403(db, completed, id_tokens):
    _, request_id, before = completed
    status, body = delete(request_id, None)
    assert (status, body["error_type"]) == (401, "unauthenticated"), body
    status, made = call(
        main.createApiKey, headers=owner(id_tokens), json_body={"name": "ro", "scopes": ["read"]}
    )
    assert status == 201, made
    status, body = delete(request_id, bearer(made["apiKey"]))
    assert (status, body["error"], body["requiredScope"]) == (403, "insufficient_scope", "generate")
    assert request_doc(db, request_id) == before
    status, made = call(
        main.createApiKey,
        headers=owner(id_tokens),
        json_body={"name": "gen", "scopes": ["generate"]},
    )
    status, body = delete(request_id, bearer(made["apiKey"]))
    assert (status, body["deleted"]) == (200, True), body


@pytest.mark.parametrize(
    "body",
    [{}, {"generationRequestId": ""}, {"generationRequestId": 7}, {"generationRequestId": "a/b"}],
)
def test_bad_bodies_are_400_and_change_nothing(db, completed, id_tokens, body):
    _, request_id, before = completed
    status, answer = call(main.deleteGenerationRequest, headers=owner(id_tokens), json_body=body)
    assert (status, answer["error_type"]) == (400, "validation"), answer
    assert request_doc(db, request_id) == before


def test_after_the_retention_the_status_has_no_url_and_says_expired(db, make_container):
    container = make_container(retention_days=1)
    clock = ManualClock(container.clock.now())
    container.clock = clock
    status, made = call(main.createGenerationRequest, json_body=request_body(OWNER))
    assert status == 202, made
    request_id = made["generationRequestId"]
    complete(request_id)
    fresh = status_of(request_id, None)
    assert fresh["imageUrl"] and fresh["imageExpired"] is False
    assert fresh["imageExpiresAt"] is not None and fresh["deleted"] is False
    clock.advance(timedelta(days=1, seconds=1))
    expired = status_of(request_id, None)
    assert (expired["imageUrl"], expired["imageExpired"]) == (None, True)
    assert expired["imageExpiresAt"] == fresh["imageExpiresAt"]
    item = listed(request_id, None)
    assert (item["imageUrl"], item["imageExpired"]) == (None, True)


# --- over HTTP, through the Functions emulator ----------------------------------------------------
def test_delete_over_http_removes_the_picture(db):
    def url(name: str) -> str:
        return f"{FUNCTIONS_BASE}/{name}"

    created = requests.post(url("createGenerationRequest"), json=request_body(), timeout=30)
    assert created.status_code == 202, created.text
    request_id = created.json()["generationRequestId"]
    ids = {"generationRequestId": request_id}
    deadline = time.monotonic() + 45
    while True:
        final = requests.get(url("getGenerationStatus"), params=ids, timeout=30).json()
        if final["status"] not in ("queued", "processing") or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert final["status"] == "completed", final
    assert final["imageExpiresAt"] and final["imageExpired"] is False
    assert downloads(final["imageUrl"]) == 200

    deleted = requests.post(url("deleteGenerationRequest"), json=ids, timeout=30)
    assert deleted.status_code == 200, deleted.text
    assert deleted.json()["deleted"] is True and deleted.json()["imageUrl"] is None
    assert downloads(final["imageUrl"]) == 404
    assert request_doc(db, request_id)["prompt"] == ""
    again = requests.post(url("deleteGenerationRequest"), json=ids, timeout=30)
    assert (again.status_code, again.json()) == (200, deleted.json())
