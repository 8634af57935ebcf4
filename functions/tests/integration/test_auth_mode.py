"""REQUIRE_AUTH with real Firebase Auth ID tokens (Auth emulator), and the admin key.

Users are created in the Auth emulator with the Firestore user id as their uid, so a token
signed in as `arda` may act for `arda` only. The functions run in-process on a container whose
token verifier is the real `firebase_admin.auth.verify_id_token`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
import requests
from firebase_admin import auth

import main
from container import firebase_app
from tests.integration.conftest import FUNCTIONS_BASE, balance, request_body
from tests.support.auth_emulator import (
    OTHER,
    OWNER,
    bearer,
    fresh_account,
    sign_in,
    unsigned_token,
)
from tests.support.http import call

Handler = Callable[..., Any]


# Each user-facing function, called on behalf of a user: (handler, method, kwargs for call()).
def user_calls(user_id: str) -> dict[str, tuple[Handler, str, dict[str, Any]]]:
    return {
        "create": (main.createGenerationRequest, "POST", {"json_body": request_body(user_id)}),
        "credits-get": (main.getUserCredits, "GET", {"query": {"userId": user_id}}),
        "credits-post": (main.getUserCredits, "POST", {"json_body": {"userId": user_id}}),
        "validate-get": (main.validate_user, "GET", {"query": {"userId": user_id}}),
        "validate-post": (main.validate_user, "POST", {"json_body": {"userId": user_id}}),
        "list-requests": (main.listGenerationRequests, "GET", {"query": {"userId": user_id}}),
    }


CALLS = list(user_calls(OWNER))


def call_as(name: str, user_id: str, headers: dict[str, str] | None) -> tuple[int, Any]:
    handler, method, kwargs = user_calls(user_id)[name]
    return call(handler, method, headers=headers, **kwargs)


def assert_error(status: int, body: Any, expected: int, error_type: str) -> None:
    assert status == expected, body
    assert body["success"] is False and body["error_type"] == error_type, body


@pytest.mark.parametrize("name", CALLS)
def test_own_user_with_valid_token_is_served(make_container, tokens, name):
    make_container(require_auth=True)
    status, body = call_as(name, OWNER, bearer(tokens[OWNER]))
    assert status in (200, 202), body


@pytest.mark.parametrize("name", CALLS)
def test_acting_for_another_user_is_forbidden(db, make_container, tokens, name):
    make_container(require_auth=True)
    status, body = call_as(name, OTHER, bearer(tokens[OWNER]))
    assert_error(status, body, 403, "forbidden")
    assert balance(db, OTHER) == 5  # nothing charged


def bad_credentials() -> dict[str, dict[str, str] | None]:
    return {
        "missing": None,
        "empty-bearer": {"Authorization": "Bearer "},
        "basic-scheme": {"Authorization": "Basic YXJkYTpwdw=="},
        "garbage": bearer("not-a-jwt"),
        "garbage-jwt": bearer("eyJhbGciOiJub25lIn0.e30."),
        "expired": bearer(unsigned_token(OWNER, expires_in=-60)),
        "other-project": bearer(unsigned_token(OWNER, expires_in=3600, audience="other")),
    }


@pytest.mark.parametrize("credentials", list(bad_credentials()))
@pytest.mark.parametrize("name", CALLS)
def test_missing_or_invalid_token_is_unauthenticated(db, make_container, name, credentials):
    make_container(require_auth=True)
    status, body = call_as(name, OWNER, bad_credentials()[credentials])
    assert_error(status, body, 401, "unauthenticated")
    assert balance(db, OWNER) == 500


def test_unexpired_unsigned_token_is_accepted_on_the_emulator(make_container, tokens):
    """The control for the `expired` case: the same token, but current, passes."""
    make_container(require_auth=True)
    status, body = call_as("validate-get", OWNER, bearer(unsigned_token(OWNER, expires_in=600)))
    assert status == 200, body


def test_generation_status_only_for_the_owner(make_container, tokens):
    make_container(require_auth=True)
    status, created = call_as("create", OWNER, bearer(tokens[OWNER]))
    assert status == 202, created
    query = {"query": {"generationRequestId": created["generationRequestId"]}}

    status, body = call(main.getGenerationStatus, "GET", headers=bearer(tokens[OWNER]), **query)
    assert status == 200 and body["status"] == "queued", body
    # another user's request answers exactly like an unknown id: its existence stays hidden
    status, body = call(main.getGenerationStatus, "GET", headers=bearer(tokens[OTHER]), **query)
    assert_error(status, body, 404, "not_found")
    unknown = {"query": {"generationRequestId": "00000000-0000-4000-8000-000000000000"}}
    status, missing = call(
        main.getGenerationStatus, "GET", headers=bearer(tokens[OTHER]), **unknown
    )
    assert body["message"].replace(created["generationRequestId"], "ID") == missing[
        "message"
    ].replace("00000000-0000-4000-8000-000000000000", "ID")
    for headers in (None, bearer("garbage"), bearer(unsigned_token(OWNER, expires_in=-1))):
        status, body = call(main.getGenerationStatus, "GET", headers=headers, **query)
        assert_error(status, body, 401, "unauthenticated")


@pytest.mark.parametrize(
    "body", [b"{not json", b"[" * 60_000, b"\xef\xbb\xbf{}", b'{"userId": NaN}']
)
@pytest.mark.parametrize(
    "handler", [main.createGenerationRequest, main.getUserCredits, main.getGenerationStatus]
)
def test_credentials_are_checked_before_the_body_is_parsed(make_container, handler, body, mocker):
    make_container(require_auth=True)
    parse = mocker.patch("controllers.http.parse_json", side_effect=AssertionError("parsed"))
    status, answer = call(handler, "POST", data=body, content_type="application/json")
    assert_error(status, answer, 401, "unauthenticated")
    parse.assert_not_called()


def test_revoked_tokens_are_refused_at_once(make_container, tokens):
    make_container(require_auth=True)
    token = fresh_account("mike_creative")
    assert call_as("validate-get", "mike_creative", bearer(token))[0] == 200
    time.sleep(1.1)  # revocation works at one-second granularity (tokensValidAfterTime)
    auth.revoke_refresh_tokens("mike_creative", app=firebase_app())
    status, body = call_as("validate-get", "mike_creative", bearer(token))
    assert_error(status, body, 401, "unauthenticated")


def test_a_disabled_account_is_refused_at_once(make_container, tokens):
    make_container(require_auth=True)
    token = fresh_account("sarah_artist")
    assert call_as("credits-get", "sarah_artist", bearer(token))[0] == 200
    auth.update_user("sarah_artist", disabled=True, app=firebase_app())
    status, body = call_as("credits-get", "sarah_artist", bearer(token))
    assert_error(status, body, 401, "unauthenticated")


@pytest.mark.parametrize("name", CALLS)
def test_auth_not_required_keeps_the_curl_flows_open(make_container, name):
    make_container(require_auth=False)
    status, body = call_as(name, OWNER, None)  # no credential: the caller is anonymous
    assert status in (200, 202), body


@pytest.mark.parametrize("name", CALLS)
def test_a_presented_credential_is_verified_without_required_auth(db, make_container, tokens, name):
    """Open mode still binds a caller who presents a credential: own uid served, another
    user's 403, a bad token 401, and nothing is charged for the refused calls."""
    make_container(require_auth=False)
    status, body = call_as(name, OWNER, bearer(tokens[OWNER]))
    assert status in (200, 202), body
    status, body = call_as(name, OTHER, bearer(tokens[OWNER]))
    assert_error(status, body, 403, "forbidden")
    status, body = call_as(name, OTHER, bearer("garbage"))
    assert_error(status, body, 401, "unauthenticated")
    assert balance(db, OTHER) == 5


def test_functions_emulator_defaults_to_open():
    """On the Functions emulator REQUIRE_AUTH defaults to false: the documented curl works."""
    response = requests.get(f"{FUNCTIONS_BASE}/validate_user", params={"userId": OWNER}, timeout=30)
    assert response.status_code == 200, response.text
    assert response.json()["exists"] is True


# --- admin functions in production mode ------------------------------------------------------
ADMIN_KEY = "k" * 32  # the shortest key the guard accepts
ADMIN_CALLS: dict[str, tuple[Handler, str]] = {
    "seed_database": (main.seed_database, "POST"),
    "listUsers": (main.listUsers, "GET"),
    "scheduleWeeklyReport": (main.scheduleWeeklyReport, "POST"),
    "listReports": (main.listReports, "GET"),
    "getReport": (main.getReport, "GET"),
}


@pytest.mark.parametrize(
    "headers",
    [None, bearer("wrong"), bearer(""), {"Authorization": ADMIN_KEY}, bearer(ADMIN_KEY * 2)],
    ids=["missing", "wrong-key", "empty", "no-scheme", "key-prefix"],
)
@pytest.mark.parametrize("name", list(ADMIN_CALLS))
def test_admin_functions_reject_without_the_key(make_container, name, headers):
    make_container(on_emulator=False, admin_api_key=ADMIN_KEY)
    handler, method = ADMIN_CALLS[name]
    body_kwargs: dict[str, Any] = {"json_body": {}} if method == "POST" else {}
    status, body = call(handler, method, headers=headers, **body_kwargs)
    assert_error(status, body, 403, "forbidden")


def test_user_token_is_not_an_admin_key(make_container, tokens):
    make_container(on_emulator=False, admin_api_key=ADMIN_KEY, require_auth=True)
    status, body = call(main.listUsers, "GET", headers=bearer(tokens[OWNER]))
    assert_error(status, body, 403, "forbidden")


@pytest.mark.parametrize("key", ["", "k" * 31])
@pytest.mark.parametrize("name", list(ADMIN_CALLS))
def test_without_a_long_enough_key_admin_is_closed(make_container, name, key):
    """No key, or one shorter than 32 characters: every admin function refuses to serve,
    even to a caller presenting that very key."""
    make_container(on_emulator=False, admin_api_key=key)
    handler, method = ADMIN_CALLS[name]
    status, body = call(handler, method, headers=bearer(key), json_body={})
    assert_error(status, body, 503, "system")
    assert body["error"] == "admin_key_too_short"


def test_admin_functions_accept_the_key(make_container):
    make_container(on_emulator=False, admin_api_key=ADMIN_KEY)
    status, body = call(main.listUsers, "GET", headers=bearer(ADMIN_KEY))
    assert status == 200 and len(body["users"]) == 13, body
    status, body = call(main.seed_database, "POST", headers=bearer(ADMIN_KEY), json_body={})
    assert status == 200 and body["counts"]["users"] == 13, body


def test_cancel_only_by_the_owner_or_with_the_admin_key(db, make_container, tokens):
    """Another user's request answers like an unknown one; the admin key cancels any request;
    neither a token nor the key is a 401."""
    make_container(on_emulator=False, admin_api_key=ADMIN_KEY, require_auth=True)
    ids = []
    for _ in range(2):
        status, created = call_as("create", OWNER, bearer(tokens[OWNER]))
        assert status == 202, created
        ids.append({"json_body": {"generationRequestId": created["generationRequestId"]}})
    mine, other = ids

    status, body = call(main.cancelGenerationRequest, "POST", headers=bearer(tokens[OTHER]), **mine)
    assert_error(status, body, 404, "not_found")
    for headers in (None, bearer("garbage"), bearer("k" * 31)):
        status, body = call(main.cancelGenerationRequest, "POST", headers=headers, **mine)
        assert_error(status, body, 401, "unauthenticated")
    assert balance(db, OWNER) == 500 - 2 * 3  # nothing refunded yet

    status, body = call(main.cancelGenerationRequest, "POST", headers=bearer(tokens[OWNER]), **mine)
    assert (status, body["status"]) == (200, "cancelled"), body
    status, body = call(main.cancelGenerationRequest, "POST", headers=bearer(ADMIN_KEY), **other)
    assert (status, body["status"]) == (200, "cancelled"), body
    assert balance(db, OWNER) == 500


def test_an_account_with_the_admin_claim_may_call_admin_functions(make_container, tokens):
    """A signed-in operator (the console's admin tools) instead of the key: the `admin` custom
    claim, set with the Admin SDK, rides in the ID token the Auth emulator issues."""
    make_container(on_emulator=False, admin_api_key=ADMIN_KEY, require_auth=True)
    fresh_account("ops")
    auth.set_custom_user_claims("ops", {"admin": True}, app=firebase_app())
    operator = sign_in("ops")

    status, body = call(main.listUsers, "GET", headers=bearer(operator))
    assert status == 200 and len(body["users"]) == 13, body
    status, body = call(main.listUsers, "GET", headers=bearer(tokens[OWNER]))
    assert_error(status, body, 403, "forbidden")
