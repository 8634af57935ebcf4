from __future__ import annotations

import pytest

from controllers.auth import AdminGuard, UserAuthorizer
from core.errors import ForbiddenError, UnauthenticatedError
from tests.support.http import make_request


def verifier(token: str) -> dict:
    if token == "good-arda":
        return {"uid": "arda"}
    raise ValueError("bad token")


def request_with(header: str | None):
    return make_request("GET", headers={"Authorization": header} if header else None)


def test_auth_not_required_lets_anyone_act():
    UserAuthorizer(False, verifier).authorize(request_with(None), "arda")


@pytest.mark.parametrize(
    ("header", "user_id", "error"),
    [
        (None, "arda", UnauthenticatedError),
        ("Basic abc", "arda", UnauthenticatedError),
        ("Bearer ", "arda", UnauthenticatedError),
        ("Bearer expired", "arda", UnauthenticatedError),
        ("Bearer good-arda", "havanur", ForbiddenError),
    ],
)
def test_auth_required_rejects(header, user_id, error):
    with pytest.raises(error):
        UserAuthorizer(True, verifier).authorize(request_with(header), user_id)


def test_auth_required_accepts_own_token():
    UserAuthorizer(True, verifier).authorize(request_with("Bearer good-arda"), "arda")


def test_admin_open_on_emulator():
    AdminGuard(True, "").authorize(request_with(None))


@pytest.mark.parametrize("header", [None, "Bearer wrong", "Bearer", "secret-key"])
def test_admin_in_production_needs_the_key(header):
    with pytest.raises(ForbiddenError):
        AdminGuard(False, "secret-key").authorize(request_with(header))


def test_admin_in_production_without_configured_key_is_closed():
    with pytest.raises(ForbiddenError):
        AdminGuard(False, "").authorize(request_with("Bearer "))


def test_admin_key_accepted():
    AdminGuard(False, "secret-key").authorize(request_with("Bearer secret-key"))
