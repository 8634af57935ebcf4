"""scripts/data/seed_auth.py against the Auth emulator: every seed user can sign in with the demo
password and acts as exactly itself; the operator account's token opens the admin functions."""

from __future__ import annotations

import os
from types import ModuleType

import pytest
import requests

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
    assert seed_auth.seed_accounts(firebase_app()) == uids  # a second run resets, no error

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


def test_it_refuses_to_run_outside_the_emulator(seed_auth, monkeypatch):
    monkeypatch.delenv("FIREBASE_AUTH_EMULATOR_HOST")
    with pytest.raises(SystemExit, match="only seeds the emulator"):
        seed_auth.main()
