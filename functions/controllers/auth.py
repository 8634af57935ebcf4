"""Who may call: Firebase Auth ID tokens for user functions, the admin key for admin ones."""

from __future__ import annotations

import hmac
from collections.abc import Callable
from typing import Any

from flask import Request

from core.errors import ForbiddenError, UnauthenticatedError

TokenVerifier = Callable[[str], dict[str, Any]]


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


class UserAuthorizer:
    """With `required`, the caller must present an ID token whose uid is the `userId` acted for."""

    def __init__(self, required: bool, verify: TokenVerifier) -> None:
        self._required = required
        self._verify = verify

    def authorize(self, request: Request, user_id: str) -> None:
        self.require_owner(self.authenticate(request), user_id)

    def authenticate(self, request: Request) -> str | None:
        """The caller's uid (None when auth is not required); 401 without a valid token."""
        if not self._required:
            return None
        token = bearer_token(request)
        if token is None:
            raise UnauthenticatedError(
                "A Firebase ID token is required (Authorization: Bearer <token>)",
                error="missing_token",
            )
        try:
            claims = self._verify(token)
        except Exception:
            raise UnauthenticatedError(
                "The ID token is invalid or expired", error="invalid_token"
            ) from None
        return str(claims.get("uid", ""))

    def require_owner(self, uid: str | None, user_id: str) -> None:
        if self._required and uid != user_id:
            raise ForbiddenError("You may only act for your own user", error="wrong_user")


class AdminGuard:
    """Admin functions: open on the emulator; in production they need the ADMIN_API_KEY secret."""

    def __init__(self, on_emulator: bool, admin_api_key: str) -> None:
        self._on_emulator = on_emulator
        self._admin_api_key = admin_api_key

    def authorize(self, request: Request) -> None:
        if self._on_emulator:
            return
        token = bearer_token(request)
        if (
            not self._admin_api_key
            or token is None
            or not hmac.compare_digest(token.encode(), self._admin_api_key.encode())
        ):
            raise ForbiddenError("Admin access required", error="admin_only")
