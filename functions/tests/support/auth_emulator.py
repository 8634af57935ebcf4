"""Accounts and ID tokens from the Auth emulator, as a client gets them.

Users are created with the Firestore user id as their uid, so a token signed in as `arda` may
act for `arda` only.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import time
from typing import Any

import pytest
import requests
from firebase_admin import auth

from container import firebase_app

PROJECT = "feraset-imagen"
PASSWORD = "correct-horse-battery"
OWNER, OTHER = "arda", "havanur"


def auth_host() -> str:
    host = os.environ.get("FIREBASE_AUTH_EMULATOR_HOST")
    if not host:
        pytest.fail("these tests need the Auth emulator: add `auth` to `emulators:exec --only`")
    return host


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def sign_in(uid: str) -> str:
    """An ID token for `uid`, obtained from the Auth emulator like a client would."""
    url = (
        f"http://{auth_host()}/identitytoolkit.googleapis.com/v1/"
        "accounts:signInWithPassword?key=any"
    )
    body: dict[str, Any] = {
        "email": f"{uid}@example.com",
        "password": PASSWORD,
        "returnSecureToken": True,
    }
    response = requests.post(url, json=body, timeout=10)
    response.raise_for_status()
    return str(response.json()["idToken"])


def fresh_account(uid: str) -> str:
    """A token for a newly made account `uid` (replacing one of that uid, e.g. for tests that
    revoke or disable it)."""
    auth_host()
    with contextlib.suppress(auth.UserNotFoundError):
        auth.delete_user(uid, app=firebase_app())
    auth.create_user(uid=uid, email=f"{uid}@example.com", password=PASSWORD, app=firebase_app())
    return sign_in(uid)


def owner_and_other_tokens() -> dict[str, str]:
    """Every account of the Auth emulator removed, then OWNER and OTHER signed in."""
    wipe = f"http://{auth_host()}/emulator/v1/projects/{PROJECT}/accounts"
    requests.delete(wipe, timeout=10).raise_for_status()
    return {uid: fresh_account(uid) for uid in (OWNER, OTHER)}


def unsigned_token(uid: str, *, expires_in: int, audience: str = PROJECT) -> str:
    """An `alg: none` token, as the Auth emulator issues them (it accepts unsigned tokens)."""
    now = int(time.time())
    claims = {
        "iss": f"https://securetoken.google.com/{audience}",
        "aud": audience,
        "sub": uid,
        "user_id": uid,
        # issued now: revocation checks refuse tokens older than the account's valid-since time
        "auth_time": now,
        "iat": now,
        "exp": now + expires_in,
    }

    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


# --- sign-up and e-mail verification, as the console's SDK does them --------------------------
def _identity_toolkit(method: str, body: dict[str, Any]) -> dict[str, Any]:
    url = f"http://{auth_host()}/identitytoolkit.googleapis.com/v1/accounts:{method}?key=any"
    response = requests.post(url, json=body, timeout=10)
    assert response.status_code == 200, f"accounts:{method}: {response.text}"
    return dict(response.json())


def sign_up(email: str, password: str = PASSWORD) -> tuple[str, str]:
    """A new e-mail/password account (unverified): its uid and ID token (accounts:signUp)."""
    answer = _identity_toolkit(
        "signUp", {"email": email, "password": password, "returnSecureToken": True}
    )
    return str(answer["localId"]), str(answer["idToken"])


def sign_in_email(email: str, password: str = PASSWORD) -> str:
    """A fresh ID token for `email`: carries its current `email_verified`."""
    answer = _identity_toolkit(
        "signInWithPassword", {"email": email, "password": password, "returnSecureToken": True}
    )
    return str(answer["idToken"])


def verify_email(id_token: str, email: str) -> None:
    """Follow the verification e-mail: request it (accounts:sendOobCode VERIFY_EMAIL), read its
    code from the emulator's outbox and apply it (accounts:update with the oobCode)."""
    _identity_toolkit("sendOobCode", {"requestType": "VERIFY_EMAIL", "idToken": id_token})
    outbox = requests.get(
        f"http://{auth_host()}/emulator/v1/projects/{PROJECT}/oobCodes", timeout=10
    )
    outbox.raise_for_status()
    codes = [
        c["oobCode"]
        for c in outbox.json()["oobCodes"]
        if c["email"] == email and c["requestType"] == "VERIFY_EMAIL"
    ]
    assert codes, f"no verification e-mail for {email}"
    applied = _identity_toolkit("update", {"oobCode": codes[-1]})
    assert applied.get("emailVerified") is True, applied
