"""The admin functions on the emulator: open in the open mode (`make dev`), closed exactly as
deployed when auth is required there (`REQUIRE_AUTH=true make dev`).

The containers are wired as on the Functions emulator (`on_emulator=True`); tokens come from the
Auth emulator, API keys from createApiKey. The last test asks the Functions emulator itself.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from firebase_admin import auth

import main
from container import firebase_app
from tests.integration.conftest import FUNCTIONS_BASE, balance, request_body
from tests.support.auth_emulator import OWNER, bearer, fresh_account, sign_in
from tests.support.http import call
from tests.support.secret_local import local_secret

Handler = Callable[..., Any]
ADMIN_KEY = "emulator-admin-key-" + "x" * 20
OPERATOR = "ops_admin"


def yesterday() -> str:
    return (datetime.now(UTC).date() - timedelta(days=1)).isoformat()


# Every admin function of main.py: (handler, method, body or query that it serves with a 200).
ADMIN_FUNCTIONS: dict[str, tuple[Handler, str, Callable[[], dict[str, Any]]]] = {
    "seed_database": (main.seed_database, "POST", lambda: {"json_body": {}}),
    "listUsers": (main.listUsers, "GET", dict),
    "scheduleWeeklyReport": (main.scheduleWeeklyReport, "POST", lambda: {"json_body": {}}),
    "scheduleDailyRollup": (
        main.scheduleDailyRollup,
        "POST",
        lambda: {"json_body": {"date": yesterday()}},
    ),
    "listReports": (main.listReports, "GET", dict),
    "getReport": (main.getReport, "GET", dict),
    "sweepStuckGenerations": (main.sweepStuckGenerations, "POST", lambda: {"json_body": {}}),
    "grantCredits": (
        main.grantCredits,
        "POST",
        lambda: {
            "json_body": {"userId": "arda", "credits": 5, "reason": "ci", "grantId": "ci-grant-01"}
        },
    ),
}


@pytest.fixture(scope="module")
def operator_token(tokens: dict[str, str]) -> str:
    """An ID token of an account with the `admin` claim (after `tokens` reset the accounts)."""
    fresh_account(OPERATOR)
    auth.set_custom_user_claims(OPERATOR, {"admin": True}, app=firebase_app())
    return sign_in(OPERATOR)


def user_api_key(token: str) -> str:
    status, body = call(main.createApiKey, headers=bearer(token), json_body={"name": "ci"})
    assert status == 201, body
    return str(body["apiKey"])


def call_admin(name: str, headers: dict[str, str] | None) -> tuple[int, Any]:
    handler, method, kwargs = ADMIN_FUNCTIONS[name]
    return call(handler, method, headers=headers, **kwargs())


def store_a_report() -> None:
    """getReport answers 404 until a report is stored."""
    status, body = call_admin("scheduleWeeklyReport", bearer(ADMIN_KEY))
    assert status == 200, body


@pytest.fixture
def auth_required(make_container: Callable[..., Any]) -> None:
    """As `REQUIRE_AUTH=true make dev` wires it: the emulator, auth required, a long key."""
    make_container(on_emulator=True, require_auth=True, admin_api_key=ADMIN_KEY)


REFUSED = ["anonymous", "user-api-key", "user-id-token"]


@pytest.mark.parametrize("credential", REFUSED)
@pytest.mark.parametrize("name", list(ADMIN_FUNCTIONS))
def test_auth_required_on_the_emulator_refuses_non_admins(
    db, auth_required, tokens, name, credential
):
    headers = {
        "anonymous": lambda: None,
        "user-api-key": lambda: bearer(user_api_key(tokens[OWNER])),
        "user-id-token": lambda: bearer(tokens[OWNER]),
    }[credential]()
    before = db.collection("users").document("arda").get().to_dict()
    status, body = call_admin(name, headers)
    assert (status, body["error_type"], body["error"]) == (403, "forbidden", "admin_only"), body
    assert db.collection("users").document("arda").get().to_dict() == before
    assert [snap.id for snap in db.collection("reports").stream()] == []


@pytest.mark.parametrize("credential", ["admin-key", "admin-claim"])
@pytest.mark.parametrize("name", list(ADMIN_FUNCTIONS))
def test_auth_required_on_the_emulator_serves_the_admin_key_and_claim(
    auth_required, operator_token, name, credential
):
    if name == "getReport":
        store_a_report()
    token = ADMIN_KEY if credential == "admin-key" else operator_token
    status, body = call_admin(name, bearer(token))
    assert status == 200, body


@pytest.mark.parametrize("credential", ["admin-key", "admin-claim"])
def test_a_grant_records_who_granted_it(db, auth_required, operator_token, credential):
    """The admin key is `admin_key`; an operator signed in with the claim is its uid."""
    token = ADMIN_KEY if credential == "admin-key" else operator_token
    status, body = call_admin("grantCredits", bearer(token))
    assert (status, body["granted"]) == (200, True), body
    entry = db.document("users/arda/transactions/grant_ci-grant-01").get().to_dict()
    assert entry["granted_by"] == ("admin_key" if credential == "admin-key" else OPERATOR)


@pytest.mark.parametrize("name", list(ADMIN_FUNCTIONS))
def test_the_open_mode_keeps_the_admin_functions_open(make_container, name):
    """Plain `make dev`: anyone may call them (the curl commands, Postman, the console)."""
    make_container(on_emulator=True, require_auth=False, admin_api_key=ADMIN_KEY)
    if name == "getReport":
        store_a_report()
    status, body = call_admin(name, None)
    assert status == 200, body


def test_auth_required_on_the_emulator_cancels_any_request_with_the_admin_key_only(
    db, auth_required, tokens
):
    status, created = call(
        main.createGenerationRequest, headers=bearer(tokens[OWNER]), json_body=request_body()
    )
    assert status == 202, created
    ids = {"json_body": {"generationRequestId": created["generationRequestId"]}}
    status, body = call(main.cancelGenerationRequest, **ids)
    assert (status, body["error_type"]) == (401, "unauthenticated"), body
    assert balance(db, OWNER) == 500 - 3
    status, body = call(main.cancelGenerationRequest, headers=bearer(ADMIN_KEY), **ids)
    assert (status, body["status"]) == (200, "cancelled"), body
    assert balance(db, OWNER) == 500


def emulator_admin_key() -> str:
    """The key scripts/stack/env_local.py wrote for the Functions emulator."""
    return local_secret("ADMIN_API_KEY")


def test_the_functions_emulator_guards_admin_functions_as_its_mode_says():
    """Through the Functions emulator: with REQUIRE_AUTH=true (the Makefile's auth-mode run) an
    anonymous listUsers is refused and the stack's admin key served; open, both are served."""
    url = f"{FUNCTIONS_BASE}/listUsers"
    required = os.environ.get("REQUIRE_AUTH", "").strip().lower() == "true"
    anonymous = requests.get(url, timeout=60)
    assert anonymous.status_code == (403 if required else 200), anonymous.text
    with_key = requests.get(url, headers=bearer(emulator_admin_key()), timeout=60)
    assert with_key.status_code == 200, with_key.text
