"""scripts/data/seed_auth.py against the Auth emulator: every seed user can sign in with the demo
password and acts as exactly itself; the operator account's token opens the admin functions."""

from __future__ import annotations

import os
import time
from types import ModuleType

import pytest
import requests
from firebase_admin import auth

import main
from container import firebase_app
from services.seeding import reference_data
from tests.support.http import call
from tests.support.scripts import load_script

ADMIN_KEY = "k" * 32


@pytest.fixture(scope="module")
def seed_auth() -> ModuleType:
    if not os.environ.get("FIREBASE_AUTH_EMULATOR_HOST"):
        pytest.fail("these tests need the Auth emulator: add `auth` to `emulators:exec --only`")
    return load_script("data/seed_auth")


def sign_in(email: str, password: str) -> requests.Response:
    host = os.environ["FIREBASE_AUTH_EMULATOR_HOST"]
    url = f"http://{host}/identitytoolkit.googleapis.com/v1/accounts:signInWithPassword?key=any"
    body = {"email": email, "password": password, "returnSecureToken": True}
    return requests.post(url, json=body, timeout=10)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_seed_users_sign_in_with_the_demo_password_as_themselves(seed_auth, make_container):
    uids = seed_auth.seed_accounts(firebase_app())
    assert uids == [*reference_data.USERS, reference_data.ADMIN_ACCOUNT]
    assert seed_auth.seed_accounts(firebase_app()) == uids  # a second run: no error

    make_container(on_emulator=False, admin_api_key=ADMIN_KEY, require_auth=True)
    signed_in = sign_in("arda@example.com", reference_data.DEMO_PASSWORD)
    assert signed_in.status_code == 200, signed_in.text
    token = signed_in.json()["idToken"]
    status, body = call(main.getUserCredits, "GET", headers=bearer(token), query={"userId": "arda"})
    assert (status, body["currentCredits"]) == (200, 500)
    status, _ = call(main.getUserCredits, "GET", headers=bearer(token), query={"userId": "havanur"})
    assert status == 403
    status, _ = call(main.listUsers, "GET", headers=bearer(token))
    assert status == 403  # a seed user is no admin

    assert sign_in("arda@example.com", "wrong-password").status_code == 400

    operator = sign_in("admin@example.com", reference_data.DEMO_PASSWORD).json()["idToken"]
    status, body = call(main.listUsers, "GET", headers=bearer(operator))
    assert status == 200 and len(body["users"]) == len(reference_data.USERS), body


def test_running_it_again_revokes_no_token(seed_auth, make_container):
    """`make dev` may run the account step while someone already signed in (or a test suite
    runs it twice): the tokens issued before stay valid, checked for revocation."""
    seed_auth.seed_accounts(firebase_app())
    tokens = {
        email: sign_in(email, reference_data.DEMO_PASSWORD).json()["idToken"]
        for email in ("arda@example.com", "admin@example.com")
    }
    time.sleep(1.1)  # revocation has one-second granularity (tokensValidAfterTime)
    seed_auth.seed_accounts(firebase_app())

    for token in tokens.values():
        auth.verify_id_token(token, app=firebase_app(), check_revoked=True)
    make_container(on_emulator=True, admin_api_key=ADMIN_KEY, require_auth=True)
    status, _ = call(
        main.getUserCredits,
        "GET",
        headers=bearer(tokens["arda@example.com"]),
        query={"userId": "arda"},
    )
    assert status == 200
    status, _ = call(main.listUsers, "GET", headers=bearer(tokens["admin@example.com"]))
    assert status == 200


def test_it_repairs_a_changed_account_and_only_then_revokes(seed_auth):
    """A password, name or claim changed since (as tests do) is set back; the old password no
    longer signs in."""
    seed_auth.seed_accounts(firebase_app())
    auth.update_user("arda", password="another-password", display_name="x", app=firebase_app())
    auth.set_custom_user_claims("arda", {"admin": True}, app=firebase_app())
    auth.set_custom_user_claims("admin", None, app=firebase_app())
    seed_auth.seed_accounts(firebase_app())
    arda = auth.get_user("arda", app=firebase_app())
    assert (arda.display_name, arda.custom_claims) == ("Arda", None)
    assert auth.get_user("admin", app=firebase_app()).custom_claims == {"admin": True}
    assert sign_in("arda@example.com", reference_data.DEMO_PASSWORD).status_code == 200
    assert sign_in("arda@example.com", "another-password").status_code == 400


def test_it_refuses_to_run_outside_the_emulator(seed_auth, monkeypatch):
    monkeypatch.delenv("FIREBASE_AUTH_EMULATOR_HOST")
    with pytest.raises(SystemExit, match="only seeds the emulator"):
        seed_auth.main()
