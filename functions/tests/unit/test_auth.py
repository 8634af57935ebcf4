from __future__ import annotations

from typing import Any

import pytest

from controllers import auth
from controllers.auth import AdminGuard, TokenRejected, UserAuthorizer
from core.errors import (
    AdminKeyTooShortError,
    BackendUnavailableError,
    ForbiddenError,
    UnauthenticatedError,
)
from emulator.admin import OpenAdminGuard
from tests.support.fakes import record_logs
from tests.support.http import make_request


def verifier(token: str) -> dict:
    if token == "good-arda":
        return {"uid": "arda"}
    if token == "backend-down":
        raise ConnectionError("auth backend unreachable")
    raise TokenRejected("InvalidIdTokenError")


def request_with(header: str | None):
    return make_request("GET", headers={"Authorization": header} if header else None)


def authorize(required: bool, header: str | None, user_id: str) -> None:
    authorizer = UserAuthorizer(required, verifier)
    authorizer.require_owner(authorizer.authenticate(request_with(header), scope="read"), user_id)


def test_auth_not_required_lets_anyone_act():
    authorize(False, None, "arda")
    assert UserAuthorizer(False, verifier).owns(None, "havanur")


@pytest.mark.parametrize(
    ("header", "user_id", "error"),
    [
        (None, "arda", UnauthenticatedError),
        ("Basic abc", "arda", UnauthenticatedError),
        ("Bearer ", "arda", UnauthenticatedError),
        ("Bearer expired", "arda", UnauthenticatedError),
        ("Bearer good-arda", "havanur", ForbiddenError),
        ("Bearer backend-down", "arda", BackendUnavailableError),
    ],
)
def test_auth_required_rejects(header, user_id, error):
    with pytest.raises(error):
        authorize(True, header, user_id)


def test_auth_required_accepts_own_token():
    authorize(True, "Bearer good-arda", "arda")
    authorizer = UserAuthorizer(True, verifier)
    assert authorizer.owns("arda", "arda") and not authorizer.owns("arda", "havanur")


def test_failed_authentication_is_logged_without_the_token(monkeypatch):
    logs = record_logs(monkeypatch, auth)
    with pytest.raises(UnauthenticatedError):
        authorize(True, "Bearer secret-token-value", "arda")
    _, message, fields = [entry for entry in logs if entry[0] == "warn"][-1]
    assert message == "authentication failed" and fields["reason"] == "InvalidIdTokenError"
    assert "secret-token-value" not in repr(logs)


def test_admin_open_on_emulator():
    assert OpenAdminGuard().authorize(request_with(None)) == "emulator"


ADMIN_KEY = "k" * 31 + "!"  # 32 characters: the shortest key the guard accepts


@pytest.mark.parametrize(
    "header", [None, "Bearer wrong", "Bearer", ADMIN_KEY, f"Bearer {ADMIN_KEY}x", "Basic x"]
)
def test_admin_in_production_needs_the_key(header):
    with pytest.raises(ForbiddenError):
        AdminGuard(ADMIN_KEY).authorize(request_with(header))


@pytest.mark.parametrize("key", ["", "secret-key", "k" * 31])
def test_admin_key_shorter_than_32_characters_disables_admin_functions(key):
    """Even the right (short) key is refused, with a clear 503 instead of a 403."""
    with pytest.raises(AdminKeyTooShortError) as raised:
        AdminGuard(key).authorize(request_with(f"Bearer {key}"))
    assert raised.value.status == 503
    assert "at least 32 characters" in raised.value.message
    assert key not in raised.value.message or key == ""


def test_admin_key_accepted():
    assert AdminGuard(ADMIN_KEY).authorize(request_with(f"Bearer {ADMIN_KEY}")) == "admin_key"


def claims_verifier(claims_by_token: dict[str, dict[str, Any]]):
    def verify(token: str) -> dict[str, Any]:
        if token not in claims_by_token:
            raise TokenRejected("InvalidIdTokenError")
        return claims_by_token[token]

    return verify


ADMIN_TOKEN, USER_TOKEN, TRUTHY_TOKEN = "a.admin.jwt", "u.user.jwt", "t.truthy.jwt"
VERIFY = claims_verifier(
    {
        ADMIN_TOKEN: {"uid": "ops", "admin": True},
        USER_TOKEN: {"uid": "arda"},
        TRUTHY_TOKEN: {"uid": "eve", "admin": "yes"},  # only the boolean true counts
    }
)


@pytest.mark.parametrize("key", [ADMIN_KEY, ""])
def test_an_id_token_with_the_admin_claim_is_an_admin(key):
    """Also where no usable key is configured: the claim stands on its own."""
    assert AdminGuard(key, VERIFY).authorize(request_with(f"Bearer {ADMIN_TOKEN}")) == "ops"


@pytest.mark.parametrize("token", [USER_TOKEN, TRUTHY_TOKEN, "x.unknown.jwt", "not-a-jwt"])
def test_other_tokens_are_not_admins(token):
    with pytest.raises(ForbiddenError):
        AdminGuard(ADMIN_KEY, VERIFY).authorize(request_with(f"Bearer {token}"))


def test_the_key_is_never_sent_to_the_token_verifier():
    seen: list[str] = []

    def verify(token: str) -> dict[str, Any]:
        seen.append(token)
        raise TokenRejected("InvalidIdTokenError")

    AdminGuard(ADMIN_KEY, verify).authorize(request_with(f"Bearer {ADMIN_KEY}"))
    with pytest.raises(ForbiddenError):
        AdminGuard(ADMIN_KEY, verify).authorize(request_with("Bearer wrong-key"))
    assert seen == []  # neither is shaped like a token


def test_an_unreachable_auth_backend_is_a_503_not_a_403():
    def verify(token: str) -> dict[str, Any]:
        raise ConnectionError("certificates unreachable")

    with pytest.raises(BackendUnavailableError):
        AdminGuard(ADMIN_KEY, verify).authorize(request_with(f"Bearer {ADMIN_TOKEN}"))
