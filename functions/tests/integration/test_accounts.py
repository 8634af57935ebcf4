"""Sign-up and createAccount on the emulators (Auth + Firestore, and the Functions emulator over
HTTP for the main flow): the account once, its welcome credits once its e-mail is verified, and
404 `account_not_found` from the user functions until it exists."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests
from firebase_admin import auth
from google.cloud import firestore

import main
from container import firebase_app
from core import api_keys
from schemas.ledger import welcome_id
from tests.integration.conftest import FUNCTIONS_BASE, balance, request_body, transactions
from tests.support.auth_emulator import (
    OWNER,
    bearer,
    fresh_account,
    sign_in,
    sign_in_email,
    sign_up,
    verify_email,
)
from tests.support.http import call

Handler = Callable[..., Any]


def new_email() -> str:
    return f"new-{uuid.uuid4().hex[:12]}@example.com"


def create_account(token: str) -> tuple[int, Any]:
    return call(main.createAccount, headers=bearer(token))


def create_account_as_a_client(token: str) -> tuple[int, Any]:
    """A racing call, retried on 503 `busy` (nothing written) as a client would: without the
    host lock the emulator can give a call up to contention."""
    for _ in range(10):
        status, body = create_account(token)
        if status != 503:
            return status, body
        time.sleep(0.5)
    return status, body


def users_named(db: firestore.Client, uid: str) -> int:
    return sum(1 for snap in db.collection("users").stream() if snap.id == uid)


def post_http(name: str, token: str | None = None) -> requests.Response:
    headers = bearer(token) if token else {}
    return requests.post(f"{FUNCTIONS_BASE}/{name}", headers=headers, timeout=60)


def test_sign_up_verify_and_create_account_over_http(db):
    """The flow of the console, through the Functions emulator: the account at once, the
    welcome credits after the e-mail is verified, once."""
    email = new_email()
    uid, token = sign_up(email)
    first = post_http("createAccount", token)
    assert first.status_code == 201, first.text
    assert first.json() == {
        "success": True,
        "userId": uid,
        "currentCredits": 0,
        "welcomeGranted": False,
        "welcomePending": True,
    }
    user = db.collection("users").document(uid).get().to_dict() or {}
    assert user["email"] == email and user["name"] == email.partition("@")[0]
    assert (user["current_credits"], user["initial_credits"], user["welcome_due"]) == (0, 0, True)
    assert user["created_at"] is not None
    assert transactions(db, uid) == []

    again = post_http("createAccount", token)  # still unverified: still nothing
    assert (again.status_code, again.json()["currentCredits"]) == (200, 0)

    verify_email(token, email)
    assert post_http("createAccount", token).json()["currentCredits"] == 0  # the old token says no
    fresh = sign_in_email(email)
    granted = post_http("createAccount", fresh)
    assert granted.status_code == 200, granted.text
    assert granted.json() == {
        "success": True,
        "userId": uid,
        "currentCredits": 10,
        "welcomeGranted": True,
        "welcomePending": False,
    }
    repeat = post_http("createAccount", fresh)
    assert (repeat.status_code, repeat.json()) == (200, granted.json())
    [entry] = transactions(db, uid)
    assert (entry["type"], entry["credits"], entry["description"]) == (
        "welcome",
        10,
        "Welcome credits",
    )
    assert (
        db.collection("users")
        .document(uid)
        .collection("transactions")
        .document(welcome_id(uid))
        .get()
        .exists
    )
    assert (db.collection("users").document(uid).get().to_dict() or {})["welcome_due"] is False

    credits = requests.get(
        f"{FUNCTIONS_BASE}/getUserCredits",
        params={"userId": uid},
        headers=bearer(fresh),
        timeout=60,
    )
    assert credits.status_code == 200, credits.text
    assert credits.json()["currentCredits"] == 10
    assert [t["type"] for t in credits.json()["transactions"]] == ["welcome"]


def test_create_account_without_a_token_or_with_a_key_over_http(db):
    before = [snap.id for snap in db.collection("users").stream()]
    missing = post_http("createAccount")
    assert (missing.status_code, missing.json()["error"]) == (401, "missing_token")
    key = post_http("createAccount", api_keys.generate())
    assert (key.status_code, key.json()["error"]) == (403, "id_token_required")
    assert [snap.id for snap in db.collection("users").stream()] == before


@pytest.mark.parametrize("verified", [True, False])
def test_ten_concurrent_calls_make_one_account_and_at_most_one_grant(
    db, make_container, host_lock, verified
):
    make_container()
    email = new_email()
    uid, token = sign_up(email)
    if verified:
        verify_email(token, email)
        token = sign_in_email(email)
    with ThreadPoolExecutor(10) as pool:
        answers = list(pool.map(lambda _: create_account_as_a_client(token), range(10)))
    statuses = sorted(status for status, _ in answers)
    assert statuses == [200] * 9 + [201], answers
    expected = 10 if verified else 0
    assert {body["currentCredits"] for _, body in answers} == {expected}, answers
    assert users_named(db, uid) == 1
    assert balance(db, uid) == expected
    welcome = [t for t in transactions(db, uid) if t["type"] == "welcome"]
    assert len(welcome) == (1 if verified else 0)


def test_concurrent_calls_after_verification_grant_once(db, make_container, host_lock):
    """The account exists unverified; ten verified calls at once book one welcome entry."""
    make_container()
    email = new_email()
    uid, token = sign_up(email)
    assert create_account(token)[0] == 201
    verify_email(token, email)
    token = sign_in_email(email)
    with ThreadPoolExecutor(10) as pool:
        answers = list(pool.map(lambda _: create_account_as_a_client(token), range(10)))
    assert [status for status, _ in answers] == [200] * 10, answers
    assert all(body["currentCredits"] == 10 and body["welcomeGranted"] for _, body in answers), (
        answers
    )
    assert balance(db, uid) == 10
    assert len(transactions(db, uid)) == 1


@pytest.mark.parametrize("required", [False, True])
def test_a_seeded_user_keeps_its_balance_and_is_never_welcomed(db, make_container, required):
    make_container(require_auth=required)
    token = fresh_account(OWNER)
    auth.update_user(OWNER, email_verified=True, app=firebase_app())
    token = sign_in(OWNER)
    before = balance(db, OWNER)
    history = transactions(db, OWNER)
    status, body = create_account(token)
    assert (status, body["currentCredits"], body["welcomeGranted"]) == (200, before, False), body
    assert body["welcomePending"] is False
    assert balance(db, OWNER) == before and transactions(db, OWNER) == history


def test_welcome_credits_zero_makes_the_account_without_a_grant(db, make_container):
    make_container(welcome_credits=0)
    email = new_email()
    uid, token = sign_up(email)
    verify_email(token, email)
    status, body = create_account(sign_in_email(email))
    assert (status, body["currentCredits"], body["welcomeGranted"]) == (201, 0, False), body
    assert transactions(db, uid) == []
    make_container(welcome_credits=10)  # raised later: accounts made meanwhile stay without
    assert create_account(sign_in_email(email))[1]["currentCredits"] == 0


# --- a signed-in user without an account ---------------------------------------------------------
def user_calls(uid: str) -> dict[str, tuple[Handler, str, dict[str, Any]]]:
    unknown = "00000000-0000-4000-8000-000000000000"
    return {
        "createGenerationRequest": (
            main.createGenerationRequest,
            "POST",
            {"json_body": request_body(uid)},
        ),
        "createGenerationRequest-bad-catalog": (
            main.createGenerationRequest,
            "POST",
            {"json_body": request_body(uid, style="nope")},
        ),
        "getGenerationStatus": (
            main.getGenerationStatus,
            "GET",
            {"query": {"generationRequestId": unknown}},
        ),
        "cancelGenerationRequest": (
            main.cancelGenerationRequest,
            "POST",
            {"json_body": {"generationRequestId": unknown}},
        ),
        "listGenerationRequests": (main.listGenerationRequests, "GET", {"query": {"userId": uid}}),
        "getUserCredits": (main.getUserCredits, "GET", {"query": {"userId": uid}}),
        "validate_user": (main.validate_user, "GET", {"query": {"userId": uid}}),
        "createApiKey": (main.createApiKey, "POST", {"json_body": {"name": "ci"}}),
        "getWebhookSecret": (main.getWebhookSecret, "GET", {}),
        "rotateWebhookSecret": (main.rotateWebhookSecret, "POST", {}),
    }


@pytest.fixture(scope="module")
def stranger() -> tuple[str, str]:
    """A signed-up user who never called createAccount."""
    return sign_up(new_email())


@pytest.mark.parametrize("required", [False, True])
@pytest.mark.parametrize("name", list(user_calls("x")))
def test_user_functions_tell_a_user_without_an_account_to_create_it(
    db, make_container, stranger, required, name
):
    make_container(require_auth=required)
    uid, token = stranger
    handler, method, kwargs = user_calls(uid)[name]
    status, body = call(handler, method, headers=bearer(token), **kwargs)
    assert (status, body["error_type"], body["error"]) == (404, "not_found", "account_not_found")
    assert "createAccount" in body["message"], body
    assert not db.collection("users").document(uid).get().exists
    requests_of = db.collection("generation_requests").where(
        filter=firestore.FieldFilter("user_id", "==", uid)
    )
    assert list(requests_of.stream()) == []


def test_the_open_mode_keeps_user_not_found_for_anonymous_callers(make_container):
    """Original clients and the Postman collection call without credentials."""
    make_container(require_auth=False)
    for handler, method, kwargs in (
        (main.validate_user, "GET", {"query": {"userId": "nobody"}}),
        (main.getUserCredits, "GET", {"query": {"userId": "nobody"}}),
        (main.createGenerationRequest, "POST", {"json_body": request_body("nobody")}),
    ):
        status, body = call(handler, method, **kwargs)
        assert (status, body["error"]) == (404, "user_not_found"), body


def test_after_create_account_the_user_functions_serve(db, make_container):
    make_container(require_auth=True)
    email = new_email()
    uid, token = sign_up(email)
    assert create_account(token)[0] == 201
    status, body = call(main.getUserCredits, "GET", headers=bearer(token), query={"userId": uid})
    assert (status, body["currentCredits"]) == (200, 0), body
    status, body = call(
        main.createGenerationRequest, headers=bearer(token), json_body=request_body(uid)
    )
    assert (status, body["error"]) == (402, "insufficient_credits"), body
    status, body = call(main.createApiKey, headers=bearer(token), json_body={"name": "ci"})
    assert status == 201, body
