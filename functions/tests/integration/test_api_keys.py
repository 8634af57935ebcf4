"""Personal API keys on the emulators (Firestore + Auth), in the open mode and with auth required.

Accounts `arda` and `havanur` exist in the Auth emulator with their Firestore user ids as uids;
keys are created with their ID tokens, like the console does. The functions run in-process on a
container built for each mode, except the last tests, which go through the Functions and Hosting
emulators over HTTP.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from firebase_admin import auth
from flask import Response
from google.api_core import exceptions as gexc
from google.cloud import firestore
from google.cloud.firestore_v1.batch import WriteBatch
from google.cloud.firestore_v1.document import DocumentReference

import main
from container import firebase_app
from core import api_keys
from repositories.api_keys import ApiKeyRepository
from tests.integration.conftest import FUNCTIONS_BASE, balance, request_body
from tests.integration.test_auth_mode import CALLS, call_as
from tests.integration.test_openapi import call as openapi_call
from tests.support.auth_emulator import OTHER, OWNER, bearer, fresh_account
from tests.support.http import _APP, call, make_request

HOSTING_BASE = os.environ.get("HOSTING_BASE_URL", "http://127.0.0.1:8888")
ADMIN_KEY = "k" * 32
MODES = {"open": False, "auth-required": True}
LISTED_FIELDS = {
    "keyId",
    "name",
    "prefix",
    "createdAt",
    "lastUsedAt",
    "revokedAt",
    "scopes",
    "expiresAt",
}
# The functions that manage an account: an ID token only, never an API key.
MANAGEMENT: dict[str, tuple[Callable[..., Response], str, dict[str, Any] | None]] = {
    "createAccount": (main.createAccount, "POST", None),
    "createApiKey": (main.createApiKey, "POST", {"name": "minted"}),
    "listApiKeys": (main.listApiKeys, "GET", None),
    "revokeApiKey": (main.revokeApiKey, "POST", {"keyId": "key_x"}),
    "getWebhookSecret": (main.getWebhookSecret, "GET", None),
    "rotateWebhookSecret": (main.rotateWebhookSecret, "POST", None),
}


@pytest.fixture(scope="module")
def id_tokens() -> dict[str, str]:
    return {uid: fresh_account(uid) for uid in (OWNER, OTHER)}


@pytest.fixture(params=list(MODES))
def mode(request: pytest.FixtureRequest, make_container: Callable[..., Any]) -> str:
    """Every test taking `mode` runs twice: REQUIRE_AUTH unset (open) and REQUIRE_AUTH=true."""
    make_container(require_auth=MODES[request.param])
    return str(request.param)


def respond(handler: Callable[..., Response], method: str = "POST", **kwargs: Any) -> Response:
    with _APP.app_context():
        return handler(make_request(method, **kwargs))


def create_key(token: str, name: str = "ci", **options: Any) -> dict[str, Any]:
    status, body = call(
        main.createApiKey, headers=bearer(token), json_body={"name": name} | options
    )
    assert status == 201, body
    return dict(body)


def list_keys(credential: str) -> list[dict[str, Any]]:
    status, body = call(main.listApiKeys, "GET", headers=bearer(credential))
    assert status == 200, body
    return list(body["apiKeys"])


def revoke(credential: str, key_id: str) -> tuple[int, Any]:
    return call(main.revokeApiKey, headers=bearer(credential), json_body={"keyId": key_id})


def assert_401(status: int, body: Any, error: str) -> None:
    assert (status, body["error_type"], body["error"]) == (401, "unauthenticated", error), body


def assert_403(status: int, body: Any, error: str) -> None:
    assert (status, body["error_type"], body["error"]) == (403, "forbidden", error), body


def stored_texts(db: firestore.Client) -> str:
    """Every document the keys feature stores, as text."""
    docs = [
        *db.collection("api_keys").stream(),
        *db.collection_group("slots").stream(),
        *db.collection_group("creations").stream(),
    ]
    return repr([(d.reference.path, d.to_dict()) for d in docs])


def slots(db: firestore.Client, uid: str) -> dict[str, dict[str, Any]]:
    """The owner's taken slots of active keys: slot number -> its document."""
    ref = db.collection("api_key_owners").document(uid).collection("slots")
    return {d.id: d.to_dict() or {} for d in ref.stream()}


def active_count(db: firestore.Client, uid: str) -> int:
    return len(slots(db, uid))


def creations(db: firestore.Client, uid: str) -> dict[str, dict[str, Any]]:
    """The owner's creation slots: slot number -> its document."""
    ref = db.collection("api_key_owners").document(uid).collection("creations")
    return {d.id: d.to_dict() or {} for d in ref.stream()}


# --- create, list, revoke --------------------------------------------------------------------
def test_the_key_is_answered_once_and_only_its_hash_is_stored(db, mode, id_tokens):
    response = respond(
        main.createApiKey, headers=bearer(id_tokens[OWNER]), json_body={"name": "  laptop  "}
    )
    assert response.status_code == 201
    assert response.headers["Cache-Control"] == "no-store"
    body = json.loads(response.get_data())
    assert set(body) == {
        "success",
        "apiKey",
        "keyId",
        "name",
        "prefix",
        "createdAt",
        "scopes",
        "expiresAt",
    }
    assert (body["scopes"], body["expiresAt"]) == (["generate", "read"], None)
    key = body["apiKey"]
    assert api_keys.checksum_ok(key) and body["name"] == "laptop"
    assert body["prefix"] == key[:10] + "\u2026" and body["keyId"].startswith("key_")
    assert datetime.fromisoformat(body["createdAt"]) > datetime.now(UTC) - timedelta(minutes=1)

    stored = db.collection("api_keys").document(api_keys.key_hash(key)).get().to_dict()
    assert stored is not None
    assert stored == {
        "key_id": body["keyId"],
        "user_id": OWNER,
        "name": "laptop",
        "prefix": body["prefix"],
        "created_at": stored["created_at"],
        "last_used_at": None,
        "revoked_at": None,
        "slot": stored["slot"],
        "scopes": ["generate", "read"],
        "expires_at": None,
        "delete_at": None,
    }
    assert slots(db, OWNER) == {
        str(stored["slot"]): {
            "key_id": body["keyId"],
            "created_at": stored["created_at"],
            "expires_at": None,
        }
    }
    assert list(creations(db, OWNER).values()) == [
        {"key_id": body["keyId"], "created_at": stored["created_at"]}
    ]
    assert key not in stored_texts(db) and key[10:] not in stored_texts(db)
    assert active_count(db, OWNER) == 1


def test_list_shows_metadata_only(db, mode, id_tokens):
    first, second = create_key(id_tokens[OWNER], "one"), create_key(id_tokens[OWNER], "two")
    create_key(id_tokens[OTHER], "someone else's")
    for credential in (id_tokens[OWNER],):
        response = respond(main.listApiKeys, "GET", headers=bearer(credential))
        assert response.status_code == 200
        listed = json.loads(response.get_data())["apiKeys"]
        assert [k["keyId"] for k in listed] == [second["keyId"], first["keyId"]]  # newest first
        assert all(set(k) == LISTED_FIELDS for k in listed)
        text = response.get_data(as_text=True)
        for created in (first, second):
            key = created["apiKey"]
            assert key not in text and key[10:] not in text
            assert api_keys.key_hash(key) not in text


def test_revoke_is_immediate_idempotent_and_frees_a_slot(db, mode, id_tokens):
    token = id_tokens[OWNER]
    doomed, survivor = create_key(token, "doomed"), create_key(token, "survivor")
    assert call_as("validate-get", OWNER, bearer(doomed["apiKey"]))[0] == 200

    assert_403(*revoke(survivor["apiKey"], doomed["keyId"]), "id_token_required")
    status, body = revoke(token, doomed["keyId"])
    assert status == 200 and set(body) == {"success", "keyId", "revokedAt"}, body
    assert body["keyId"] == doomed["keyId"]
    again = revoke(token, doomed["keyId"])
    assert again == (200, body)  # the same answer, nothing written again
    assert active_count(db, OWNER) == 1

    for name in CALLS:  # the very next call with the revoked key is refused, everywhere
        assert_401(*call_as(name, OWNER, bearer(doomed["apiKey"])), "invalid_api_key")
    listed = {k["keyId"]: k for k in list_keys(token)}
    assert listed[doomed["keyId"]]["revokedAt"] == body["revokedAt"]
    assert listed[survivor["keyId"]]["revokedAt"] is None

    status, body = revoke(token, survivor["keyId"])
    assert status == 200, body
    assert_401(*call_as("credits-get", OWNER, bearer(survivor["apiKey"])), "invalid_api_key")
    assert active_count(db, OWNER) == 0


def test_revoking_another_users_or_an_unknown_key_is_404(db, mode, id_tokens):
    mine = create_key(id_tokens[OWNER])
    for credential, key_id in (
        (id_tokens[OTHER], mine["keyId"]),
        (id_tokens[OWNER], "key_doesnotexist"),
    ):
        status, body = revoke(credential, key_id)
        assert (status, body["error_type"], body["error"]) == (
            404,
            "not_found",
            "api_key_not_found",
        )
    status, body = revoke(id_tokens[OWNER], "not-a-key-id")
    assert status == 400 and body["details"][0]["field"] == "keyId", body
    assert call_as("validate-get", OWNER, bearer(mine["apiKey"]))[0] == 200  # untouched


@pytest.mark.parametrize(
    "body", [{}, {"name": ""}, {"name": "   "}, {"name": 5}, {"name": "a\nb"}, {"name": "x" * 101}]
)
def test_create_validates_the_name(db, mode, id_tokens, body):
    status, answer = call(main.createApiKey, headers=bearer(id_tokens[OWNER]), json_body=body)
    assert status == 400 and answer["details"][0]["field"] == "name", answer
    assert not list(db.collection("api_keys").stream())


def test_the_eleventh_active_key_is_a_409(db, mode, id_tokens):
    token = id_tokens[OWNER]
    keys = [create_key(token, f"key {i}") for i in range(10)]
    status, body = call(main.createApiKey, headers=bearer(token), json_body={"name": "one more"})
    assert status == 409, body
    assert (body["error_type"], body["error"], body["maxApiKeys"]) == (
        "too_many_api_keys",
        "too_many_api_keys",
        10,
    )
    assert "At most 10 API keys" in body["message"] and "revoke" in body["message"]
    create_key(id_tokens[OTHER])  # every user has slots of its own
    assert revoke(token, keys[3]["keyId"])[0] == 200
    create_key(token, "in the freed slot")
    assert call(main.createApiKey, headers=bearer(token), json_body={"name": "x"})[0] == 409
    assert active_count(db, OWNER) == 10


def test_twelve_concurrent_creates_make_exactly_ten_keys(db, host_lock, make_container, id_tokens):
    """With the emulator's host lock and without it (as between instances): each key is
    created atomically with one of its owner's 10 slots, so two creates can never both take
    the last one. A 503 `busy` (nothing written) would be retried like a client would."""
    make_container(require_auth=True)
    racers = 12
    barrier = threading.Barrier(racers)

    def attempt(i: int) -> tuple[int, Any]:
        barrier.wait()
        for _ in range(10):
            status, body = call(
                main.createApiKey, headers=bearer(id_tokens[OWNER]), json_body={"name": f"r{i}"}
            )
            if status != 503:
                return status, body
            time.sleep(0.5)
        return status, body

    with ThreadPoolExecutor(racers) as pool:
        results = list(pool.map(attempt, range(racers)))

    statuses = sorted(status for status, _ in results)
    assert statuses == [201] * 10 + [409] * 2, results
    stored = [d.to_dict() or {} for d in db.collection("api_keys").stream()]
    assert len(stored) == 10 and all(d["user_id"] == OWNER for d in stored)
    assert active_count(db, OWNER) == 10
    created = {body["apiKey"] for status, body in results if status == 201}
    assert {api_keys.key_hash(k) for k in created} == {
        d.id for d in db.collection("api_keys").stream()
    }
    assert set(slots(db, OWNER)) == {str(d["slot"]) for d in stored} == {str(n) for n in range(10)}


def test_a_retried_commit_that_went_through_is_no_clash(db, mode, id_tokens, mocker):
    """The client retries a commit whose answer was lost; the retry then finds the slot and
    the key it created itself: that is the key created, not a lost race."""
    original = WriteBatch.commit

    def retried_commit(self: WriteBatch, *args: Any, **kwargs: Any) -> Any:
        original(self, *args, **kwargs)
        raise gexc.AlreadyExists("the retry of a commit that went through")

    mocker.patch.object(WriteBatch, "commit", retried_commit)
    created = create_key(id_tokens[OWNER])
    mocker.stopall()
    assert call_as("validate-get", OWNER, bearer(created["apiKey"]))[0] == 200
    assert active_count(db, OWNER) == 1 and len(list(db.collection("api_keys").stream())) == 1


# --- scopes, expiry, retention ---------------------------------------------------------------
@pytest.mark.parametrize(
    ("scopes", "refused"),
    [(["read"], "generate"), (["generate"], "read")],
    ids=["read", "generate"],
)
def test_a_key_acts_only_within_its_scopes(db, mode, id_tokens, scopes, refused):
    created = create_key(id_tokens[OWNER], scopes=scopes)
    assert created["scopes"] == scopes
    key = created["apiKey"]
    for name in CALLS:
        status, body = call_as(name, OWNER, bearer(key))
        if ("generate" if name == "create" else "read") == refused:
            assert_403(status, body, "insufficient_scope")
            assert f"'{refused}' scope" in body["message"] and body["requiredScope"] == refused
        else:
            assert status in (200, 202), body
    status, made = call(
        main.createGenerationRequest,
        headers=bearer(id_tokens[OWNER]),
        json_body=request_body(OWNER),
    )
    assert status == 202, made
    ids = {"generationRequestId": made["generationRequestId"]}
    status, body = call(main.getGenerationStatus, "GET", headers=bearer(key), query=ids)
    if refused == "read":
        assert_403(status, body, "insufficient_scope")
    else:
        assert status == 200, body
    status, body = call(main.cancelGenerationRequest, headers=bearer(key), json_body=ids)
    if refused == "generate":
        assert_403(status, body, "insufficient_scope")
    else:
        assert (status, body["status"]) == (200, "cancelled"), body
    assert balance(db, OWNER) == 500 - 3  # refusals charge and refund nothing
    assert list_keys(id_tokens[OWNER])[0]["scopes"] == scopes


def test_an_id_token_and_an_old_key_have_every_scope(db, mode, id_tokens):
    for name in CALLS:
        assert call_as(name, OWNER, bearer(id_tokens[OWNER]))[0] in (200, 202)
    key = create_key(id_tokens[OWNER])["apiKey"]
    key_doc(db, key).reference.update({"scopes": firestore.DELETE_FIELD})  # before scopes
    for name in CALLS:
        assert call_as(name, OWNER, bearer(key))[0] in (200, 202)
    assert list_keys(id_tokens[OWNER])[0]["scopes"] == ["generate", "read"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"scopes": []}, "scopes"),
        ({"scopes": ["admin"]}, "scopes.0"),
        ({"scopes": ["read", "read"]}, "scopes"),
        ({"scopes": "read"}, "scopes"),
        ({"expiresInDays": 0}, "expiresInDays"),
        ({"expiresInDays": 366}, "expiresInDays"),
        ({"expiresInDays": "30"}, "expiresInDays"),
    ],
)
def test_create_validates_scopes_and_expiry(db, mode, id_tokens, body, field):
    status, answer = call(
        main.createApiKey, headers=bearer(id_tokens[OWNER]), json_body={"name": "ci"} | body
    )
    assert status == 400 and [d["field"] for d in answer["details"]] == [field], answer
    assert not list(db.collection("api_keys").stream()) and not creations(db, OWNER)


def test_an_expired_key_is_refused_and_stops_holding_a_slot(db, mode, id_tokens):
    token = id_tokens[OWNER]
    expiring = create_key(token, "expiring", expiresInDays=30)
    key = expiring["apiKey"]
    expires = datetime.fromisoformat(expiring["expiresAt"])
    assert timedelta(days=29, hours=23) < expires - datetime.now(UTC) <= timedelta(days=30)
    stored = key_doc(db, key)
    assert stored.get("expires_at") == expires
    assert stored.get("delete_at") == expires + timedelta(days=30)  # the TTL field
    assert slots(db, OWNER)[str(stored.get("slot"))]["expires_at"] == expires
    assert call_as("validate-get", OWNER, bearer(key))[0] == 200

    # its expiry passes (stored in the past, as 30 days later)
    past = datetime.now(UTC) - timedelta(seconds=1)
    stored.reference.update({"expires_at": past})
    db.document(f"api_key_owners/{OWNER}/slots/{stored.get('slot')}").update({"expires_at": past})
    before = key_doc(db, key).update_time
    for name in CALLS:
        status, body = call_as(name, OWNER, bearer(key))
        assert_401(status, body, "api_key_expired")
        assert "expired" in body["message"]
    assert key_doc(db, key).update_time == before  # not even last_used_at was written
    assert datetime.fromisoformat(list_keys(token)[0]["expiresAt"]) == past

    # it no longer counts towards the 10 active keys: its slot is taken over
    fresh = [create_key(token, f"k{i}") for i in range(10)]
    status, body = call(main.createApiKey, headers=bearer(token), json_body={"name": "x"})
    assert (status, body["error"]) == (409, "too_many_api_keys"), body
    assert {s["key_id"] for s in slots(db, OWNER).values()} == {k["keyId"] for k in fresh}
    # revoking the expired key leaves the slot of the key that took it over
    status, revoked = revoke(token, expiring["keyId"])
    assert status == 200, revoked
    assert active_count(db, OWNER) == 10
    assert {s["key_id"] for s in slots(db, OWNER).values()} == {k["keyId"] for k in fresh}


def test_revoked_keys_get_a_deletion_time(db, mode, id_tokens):
    token = id_tokens[OWNER]
    created = create_key(token)
    assert key_doc(db, created["apiKey"]).get("delete_at") is None  # in use: never deleted
    status, body = revoke(token, created["keyId"])
    assert status == 200, body
    stored = key_doc(db, created["apiKey"])
    assert stored.get("delete_at") == stored.get("revoked_at") + timedelta(days=30)
    assert datetime.fromisoformat(body["revokedAt"]) == stored.get("revoked_at")


# --- the bound on keys created -----------------------------------------------------------------
def test_creating_keys_is_bounded_per_30_days(db, make_container, id_tokens):
    """A create/revoke loop stops at the bound (5 here, 100 deployed) with a 429 whose
    Retry-After is when the oldest creation leaves the 30-day window."""
    make_container(require_auth=True).max_api_keys_created = 5
    token = id_tokens[OWNER]
    for i in range(5):
        assert revoke(token, create_key(token, f"loop {i}")["keyId"])[0] == 200
    response = respond(main.createApiKey, headers=bearer(token), json_body={"name": "one more"})
    body = json.loads(response.get_data())
    assert response.status_code == 429, body
    assert (body["error_type"], body["error"], body["maxApiKeysCreated"]) == (
        "too_many_api_keys_created",
        "too_many_api_keys_created",
        5,
    )
    assert "At most 5 API keys may be created in 30 days" in body["message"]
    month = int(timedelta(days=30).total_seconds())
    assert month - 120 < int(response.headers["Retry-After"]) <= month
    assert len(creations(db, OWNER)) == 5 and len(list(db.collection("api_keys").stream())) == 5
    create_key(id_tokens[OTHER])  # every user has a bound of its own

    # the oldest creation leaves the window: one more fits, in its slot
    oldest = min(creations(db, OWNER).items(), key=lambda item: item[1]["created_at"])[0]
    lapsed = datetime.now(UTC) - timedelta(days=30, seconds=1)
    db.document(f"api_key_owners/{OWNER}/creations/{oldest}").update({"created_at": lapsed})
    again = create_key(token, "in the window again")
    assert creations(db, OWNER)[oldest]["key_id"] == again["keyId"]
    assert len(creations(db, OWNER)) == 5
    status, body = call(main.createApiKey, headers=bearer(token), json_body={"name": "x"})
    assert (status, body["error"]) == (429, "too_many_api_keys_created"), body


def test_concurrent_creates_never_pass_the_creation_bound(db, host_lock, make_container, id_tokens):
    """With the emulator's host lock and without it: 10 concurrent creates at a bound of 6
    make exactly 6 keys, into free creation slots and then, once those lapsed, into the lapsed
    ones (overwritten only as they were read)."""
    make_container(require_auth=True).max_api_keys_created = 6
    token = id_tokens[OWNER]
    racers = 10

    def race() -> list[tuple[int, Any]]:
        barrier = threading.Barrier(racers)

        def attempt(i: int) -> tuple[int, Any]:
            barrier.wait()
            for _ in range(10):
                status, body = call(
                    main.createApiKey, headers=bearer(token), json_body={"name": f"r{i}"}
                )
                if status != 503:
                    return status, body
                time.sleep(0.5)
            return status, body

        with ThreadPoolExecutor(racers) as pool:
            return list(pool.map(attempt, range(racers)))

    for round_ in range(2):
        results = race()
        statuses = sorted(status for status, _ in results)
        assert statuses == [201] * 6 + [429] * 4, results
        made = {body["keyId"] for status, body in results if status == 201}
        taken = creations(db, OWNER)
        assert len(taken) == 6 and {c["key_id"] for c in taken.values()} == made, round_
        assert active_count(db, OWNER) == 6
        # every key revoked and every creation 30 days old: the next round starts from lapsed slots
        for key_id in made:
            assert revoke(token, key_id)[0] == 200
        lapsed = datetime.now(UTC) - timedelta(days=30, seconds=1)
        for n in taken:
            db.document(f"api_key_owners/{OWNER}/creations/{n}").update({"created_at": lapsed})
    assert len(list(db.collection("api_keys").stream())) == 12


# --- an account is needed ----------------------------------------------------------------------
def test_keys_and_the_webhook_secret_need_an_account(db, mode):
    """An Auth account without `users/{uid}` can neither create a key nor get a secret."""
    uid = "no_account_yet"
    token = fresh_account(uid)
    for handler, method, body in (
        (main.createApiKey, "POST", {"name": "x"}),
        (main.getWebhookSecret, "GET", None),
        (main.rotateWebhookSecret, "POST", None),
    ):
        status, answer = call(handler, method, headers=bearer(token), json_body=body)
        assert (status, answer["error_type"], answer["error"]) == (
            404,
            "not_found",
            "account_not_found",
        ), answer
        assert f"users/{uid}" in answer["message"]
    assert not list(db.collection("api_keys").stream()) and not creations(db, uid)
    assert not db.collection("webhook_secrets").document(uid).get().exists
    assert list_keys(token) == []


# --- a key in place of an ID token -----------------------------------------------------------
@pytest.mark.parametrize("name", CALLS)
def test_a_key_acts_as_its_owner(db, mode, id_tokens, name):
    key = create_key(id_tokens[OWNER])["apiKey"]
    status, body = call_as(name, OWNER, bearer(key))
    assert status in (200, 202), body
    status, body = call_as(name, OTHER, bearer(key))
    assert (status, body["error_type"], body["error"]) == (403, "forbidden", "wrong_user"), body
    assert balance(db, OTHER) == 5  # nothing charged to the other user


def test_status_and_cancel_with_a_key(db, mode, id_tokens):
    mine = create_key(id_tokens[OWNER])["apiKey"]
    theirs = create_key(id_tokens[OTHER])["apiKey"]
    status, created = call(
        main.createGenerationRequest, headers=bearer(mine), json_body=request_body(OWNER)
    )
    assert status == 202, created
    ids = {"generationRequestId": created["generationRequestId"]}

    status, body = call(main.getGenerationStatus, "GET", headers=bearer(mine), query=ids)
    assert (status, body["status"]) == (200, "queued"), body
    status, body = call(main.getGenerationStatus, "POST", headers=bearer(mine), json_body=ids)
    assert status == 200, body
    # another user's key sees another user's request as unknown, and cannot cancel it
    status, body = call(main.getGenerationStatus, "GET", headers=bearer(theirs), query=ids)
    assert (status, body["error_type"]) == (404, "not_found"), body
    status, body = call(main.cancelGenerationRequest, headers=bearer(theirs), json_body=ids)
    assert (status, body["error_type"]) == (404, "not_found"), body
    assert balance(db, OWNER) == 500 - 3

    status, body = call(main.cancelGenerationRequest, headers=bearer(mine), json_body=ids)
    assert (status, body["status"]) == (200, "cancelled"), body
    assert balance(db, OWNER) == 500


def test_the_catalog_is_public_and_ignores_credentials(mode, id_tokens):
    key = create_key(id_tokens[OWNER])["apiKey"]
    for headers in (bearer(key), bearer(key[:-1]), None):
        assert call(main.getCatalog, "GET", headers=headers)[0] == 200


def test_key_functions_need_a_credential_in_every_mode(mode, id_tokens):
    """Even where auth is not required: they act on the caller's own account."""
    for handler, method, body in (
        (main.createApiKey, "POST", {"name": "x"}),
        (main.listApiKeys, "GET", None),
        (main.revokeApiKey, "POST", {"keyId": "key_x"}),
    ):
        assert_401(*call(handler, method, json_body=body), "missing_token")
        assert_401(
            *call(handler, method, headers=bearer("garbage"), json_body=body), "invalid_token"
        )


def test_a_key_cannot_manage_the_account(db, mode, id_tokens):
    """Neither mint, list nor revoke keys, nor read or rotate the webhook signing secret: a
    leaked key never yields the `whsec_` secret nor outlives its revocation."""
    mine = create_key(id_tokens[OWNER])
    for credential in (mine["apiKey"], mine["apiKey"][:-1], api_keys.generate()):
        for name, (handler, method, body) in MANAGEMENT.items():
            if name == "revokeApiKey":
                body = {"keyId": mine["keyId"]}
            status, answer = call(handler, method, headers=bearer(credential), json_body=body)
            assert_403(status, answer, "id_token_required")
            assert "ID token" in answer["message"], answer
    assert active_count(db, OWNER) == 1
    assert len(list(db.collection("api_keys").stream())) == 1
    assert not db.collection("webhook_secrets").document(OWNER).get().exists
    assert call_as("validate-get", OWNER, bearer(mine["apiKey"]))[0] == 200  # not revoked


def test_a_broken_checksum_is_refused_before_any_lookup(db, mode, id_tokens, mocker):
    key = create_key(id_tokens[OWNER])["apiKey"]
    resolve = mocker.spy(ApiKeyRepository, "resolve")
    reads = mocker.spy(DocumentReference, "get")
    typo = key[:12] + ("A" if key[12] != "A" else "B") + key[13:]
    for broken in (key[:-1], key + "x", typo, key[:-6] + "000000"):
        for name in CALLS:
            assert_401(*call_as(name, OWNER, bearer(broken)), "invalid_api_key")
    assert resolve.call_count == 0 and reads.call_count == 0
    # the control: a well-formed key that was never issued is looked up (and refused)
    assert_401(*call_as("validate-get", OWNER, bearer(api_keys.generate())), "invalid_api_key")
    assert resolve.call_count == 1


def test_a_key_of_a_disabled_or_deleted_account_is_refused(db, mode, id_tokens):
    uid = "sarah_artist"  # a seeded user
    key = create_key(fresh_account(uid))["apiKey"]
    assert call_as("credits-get", uid, bearer(key))[0] == 200
    auth.update_user(uid, disabled=True, app=firebase_app())
    assert_401(*call_as("credits-get", uid, bearer(key)), "invalid_api_key")
    auth.update_user(uid, disabled=False, app=firebase_app())
    assert call_as("credits-get", uid, bearer(key))[0] == 200
    auth.delete_user(uid, app=firebase_app())
    assert_401(*call_as("credits-get", uid, bearer(key)), "invalid_api_key")


# --- last_used_at -----------------------------------------------------------------------------
def key_doc(db: firestore.Client, key: str) -> firestore.DocumentSnapshot:
    return db.collection("api_keys").document(api_keys.key_hash(key)).get()


def test_last_used_at_is_written_at_most_once_a_minute(db, mode, id_tokens):
    key = create_key(id_tokens[OWNER])["apiKey"]
    assert key_doc(db, key).get("last_used_at") is None
    before = datetime.now(UTC)
    assert call_as("validate-get", OWNER, bearer(key))[0] == 200
    first = key_doc(db, key)
    assert first.get("last_used_at") >= before - timedelta(seconds=1)

    for name in CALLS:  # within the minute: read, never written
        assert call_as(name, OWNER, bearer(key))[0] in (200, 202)
    assert key_doc(db, key).update_time == first.update_time

    stale = datetime.now(UTC) - timedelta(seconds=61)
    key_doc(db, key).reference.update({"last_used_at": stale})
    assert call_as("validate-get", OWNER, bearer(key))[0] == 200
    touched = key_doc(db, key).get("last_used_at")
    assert touched > stale + timedelta(seconds=60)
    listed = list_keys(id_tokens[OWNER])
    assert datetime.fromisoformat(listed[0]["lastUsedAt"]) == touched


def test_concurrent_uses_of_a_stale_key_write_once(db, mode, id_tokens, mocker):
    key = create_key(id_tokens[OWNER])["apiKey"]
    key_doc(db, key).reference.update({"last_used_at": datetime.now(UTC) - timedelta(hours=1)})
    original = DocumentReference.update
    written: list[int] = []
    lock = threading.Lock()

    def counting(self: DocumentReference, *args: Any, **kwargs: Any) -> Any:
        result = original(self, *args, **kwargs)
        with lock:
            written.append(1)
        return result

    mocker.patch.object(DocumentReference, "update", counting)
    racers = 8
    barrier = threading.Barrier(racers)

    def use(_: int) -> int:
        barrier.wait()
        return call_as("validate-get", OWNER, bearer(key))[0]

    with ThreadPoolExecutor(racers) as pool:
        assert list(pool.map(use, range(racers))) == [200] * racers
    assert len(written) == 1


def test_a_failing_touch_does_not_fail_the_call(db, mode, id_tokens, mocker):
    key = create_key(id_tokens[OWNER])["apiKey"]
    mocker.patch.object(
        DocumentReference, "update", side_effect=gexc.ServiceUnavailable("firestore down")
    )
    status, body = call_as("validate-get", OWNER, bearer(key))
    assert status == 200, body
    assert key_doc(db, key).get("last_used_at") is None


# --- admin functions --------------------------------------------------------------------------
ADMIN_CALLS = {
    "seed_database": (main.seed_database, "POST"),
    "listUsers": (main.listUsers, "GET"),
    "scheduleWeeklyReport": (main.scheduleWeeklyReport, "POST"),
    "listReports": (main.listReports, "GET"),
    "getReport": (main.getReport, "GET"),
    "sweepStuckGenerations": (main.sweepStuckGenerations, "POST"),
}


@pytest.mark.parametrize("required", [False, True], ids=["open", "auth-required"])
def test_admin_functions_refuse_a_user_key(db, make_container, id_tokens, required):
    """With the production guard: a valid key is no admin key, whoever owns it."""
    make_container(on_emulator=False, admin_api_key=ADMIN_KEY, require_auth=required)
    key = create_key(id_tokens[OWNER])["apiKey"]
    assert call_as("validate-get", OWNER, bearer(key))[0] == 200  # the key itself is valid
    for handler, method in ADMIN_CALLS.values():
        status, body = call(handler, method, headers=bearer(key), json_body={})
        assert (status, body["error_type"], body["error"]) == (403, "forbidden", "admin_only")
    # cancel takes a key as its owner's credential, never as the admin key
    status, created = call(
        main.createGenerationRequest,
        headers=bearer(id_tokens[OTHER]),
        json_body=request_body(OTHER),
    )
    assert status == 202, created
    ids = {"generationRequestId": created["generationRequestId"]}
    status, body = call(main.cancelGenerationRequest, headers=bearer(key), json_body=ids)
    assert (status, body["error_type"]) == (404, "not_found"), body
    status, body = call(main.cancelGenerationRequest, headers=bearer(ADMIN_KEY), json_body=ids)
    assert (status, body["status"]) == (200, "cancelled"), body


# --- secrecy ---------------------------------------------------------------------------------
def test_a_key_never_appears_in_logs_or_error_bodies(db, mode, id_tokens, capsys, caplog):
    created = create_key(id_tokens[OWNER])
    key = created["apiKey"]
    capsys.readouterr()  # from here on, everything printed is checked
    bodies: list[Any] = []
    headers = bearer(key)
    for name in CALLS:
        bodies.append(call_as(name, OWNER, headers)[1])
        bodies.append(call_as(name, OTHER, headers)[1])  # 403
    bodies.append(call(main.listApiKeys, "GET", headers=headers)[1])
    bodies.append(call(main.createApiKey, headers=headers, json_body={"name": "x"})[1])
    bodies.append(call_as("validate-get", OWNER, bearer(key[:-1]))[1])  # malformed
    bodies.append(call(main.revokeApiKey, headers=headers, json_body={"keyId": "key_x"})[1])
    bodies.append(
        call(
            main.revokeApiKey,
            headers=bearer(id_tokens[OWNER]),
            json_body={"keyId": created["keyId"]},
        )[1]
    )
    bodies.append(call_as("validate-get", OWNER, headers)[1])  # revoked
    bodies.append(call(main.getUserCredits, "GET", headers=headers, query={"userId": key})[1])
    printed = capsys.readouterr()
    seen = printed.out + printed.err + caplog.text + json.dumps(bodies)
    assert "authentication failed" in seen  # the refusals were logged ...
    assert key not in seen and key[4:-1] not in seen and key[:-1] not in seen  # ... not the key


# --- over HTTP, through the Functions and Hosting emulators --------------------------------------
def test_keys_over_http(db, id_tokens):
    """The deployed wiring (container.wire, main.py, the Hosting rewrites), in whichever mode
    the emulator runs; every answer of the Functions emulator is checked against the OpenAPI
    document."""
    created = openapi_call(
        "/createApiKey", "POST", body={"name": "curl"}, headers=bearer(id_tokens[OWNER])
    )
    assert created.status_code == 201, created.text
    assert created.headers["cache-control"] == ["no-store"]
    key, key_id = created.json()["apiKey"], created.json()["keyId"]
    headers = bearer(key)
    listed = openapi_call("/listApiKeys", "GET", headers=bearer(id_tokens[OWNER]))
    assert [k["keyId"] for k in listed.json()["apiKeys"]] == [key_id]
    refused = openapi_call("/listApiKeys", "GET", headers=headers)
    assert (refused.status_code, refused.json()["error"]) == (403, "id_token_required")
    for path in ("/validate_user", "/getUserCredits", "/listGenerationRequests"):
        assert (
            openapi_call(path, "GET", query={"userId": OWNER}, headers=headers).status_code == 200
        )
        refused = openapi_call(path, "GET", query={"userId": OTHER}, headers=headers)
        assert refused.json()["error"] == "wrong_user"
    too_many = [
        openapi_call("/createApiKey", "POST", body={"name": "n"}, headers=bearer(id_tokens[OWNER]))
        for _ in range(10)
    ]
    assert [r.status_code for r in too_many] == [201] * 9 + [409]

    def validate(user_id: str, key_headers: dict[str, str]) -> requests.Response:
        return requests.get(
            f"{FUNCTIONS_BASE}/validate_user",
            params={"userId": user_id},
            headers=key_headers,
            timeout=30,
        )

    assert validate(OWNER, headers).status_code == 200
    owner = bearer(id_tokens[OWNER])
    listed = requests.get(f"{HOSTING_BASE}/api/listApiKeys", headers=owner, timeout=30)
    assert listed.status_code == 200, listed.text
    assert key_id in [k["keyId"] for k in listed.json()["apiKeys"]]
    for path, method, body in (
        ("/createAccount", "POST", None),
        ("/createApiKey", "POST", {"name": "x"}),
        ("/listApiKeys", "GET", None),
        ("/revokeApiKey", "POST", {"keyId": key_id}),
        ("/getWebhookSecret", "GET", None),
        ("/rotateWebhookSecret", "POST", None),
    ):
        with_key = requests.request(
            method, f"{HOSTING_BASE}/api{path}", json=body, headers=headers, timeout=30
        )
        assert (with_key.status_code, with_key.json()["error"]) == (403, "id_token_required")
        assert "whsec_" not in with_key.text
    revoked = requests.post(
        f"{HOSTING_BASE}/api/revokeApiKey", json={"keyId": key_id}, headers=owner, timeout=30
    )
    assert revoked.status_code == 200, revoked.text
    again = openapi_call(
        "/revokeApiKey", "POST", body={"keyId": key_id}, headers=bearer(id_tokens[OWNER])
    )
    assert again.json()["revokedAt"] == revoked.json()["revokedAt"]
    unknown = openapi_call(
        "/revokeApiKey", "POST", body={"keyId": "key_x"}, headers=bearer(id_tokens[OWNER])
    )
    assert unknown.status_code == 404
    refused = validate(OWNER, headers)
    assert (refused.status_code, refused.json()["error"]) == (401, "invalid_api_key")
    assert key not in refused.text
