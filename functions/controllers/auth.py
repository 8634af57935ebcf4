"""Who may call: Firebase Auth ID tokens and personal API keys (within their scopes) for user
functions, only ID tokens for the functions that manage an account, the admin key (or an ID
token with the `admin` claim) for admin ones; an API key never opens an admin function."""

from __future__ import annotations

import hmac
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from flask import Request

from core.api_keys import EXPIRED, Scope, is_api_key
from core.errors import (
    AdminKeyTooShortError,
    AppError,
    BackendUnavailableError,
    ForbiddenError,
    UnauthenticatedError,
)
from core.logging import info, log_exception, warn

TokenVerifier = Callable[[str], dict[str, Any]]


class KeyGrant(NamedTuple):
    """What a presented API key may do: act for `uid` within `scopes`."""

    uid: str
    scopes: frozenset[str]


# A personal API key -> its grant; raises TokenRejected for an unknown, revoked or expired key.
KeyResolver = Callable[[str], KeyGrant]


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def _missing_token(request: Request, needed: str = "A Firebase ID token or an API key") -> AppError:
    warn("authentication failed", reason="missing_token", path=request.path)
    return UnauthenticatedError(
        f"{needed} is required (Authorization: Bearer <token>)", error="missing_token"
    )


class TokenRejected(Exception):
    """The credential is malformed, expired, revoked, or its account disabled (a 401). Any other
    exception from a verifier means the auth backend could not be asked (a 503)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class UserAuthorizer:
    """Who calls a user function: the uid of a Firebase ID token (which may do everything) or
    of a personal API key (which may do what its scopes allow).

    A presented credential is always verified. Without one the caller is anonymous where auth is
    not required (the open emulator mode), else a 401. Controllers authenticate before parsing
    the body, so a stranger's body is never parsed.
    """

    def __init__(
        self, required: bool, verify: TokenVerifier, resolve_key: KeyResolver | None = None
    ) -> None:
        self._required = required
        self._verify = verify
        self._resolve_key = resolve_key

    def authenticate(self, request: Request, *, scope: Scope) -> str | None:
        """The caller's uid; None for an anonymous caller where auth is not required. An API
        key without `scope` is a 403 `insufficient_scope`."""
        token = bearer_token(request)
        if token is None:
            if not self._required:
                return None
            raise _missing_token(request)
        if not is_api_key(token):
            return self._token_owner(token, request.path)
        grant = self._key_grant(token, request.path)
        if scope not in grant.scopes:
            warn("api key lacks scope", scope=scope, path=request.path)
            raise ForbiddenError(
                f"This API key lacks the '{scope}' scope; create a key with it (createApiKey)",
                error="insufficient_scope",
                extra={"requiredScope": scope},
            )
        return grant.uid

    def identify(self, request: Request) -> str:
        """The uid of the account's signed-in user, for functions that manage the account
        (its keys, its webhook secret): an ID token in every mode (401 without one), never an
        API key (403 `id_token_required`, decided without looking the key up)."""
        return str(self.identify_claims(request).get("uid", ""))

    def identify_claims(self, request: Request) -> dict[str, Any]:
        """The verified claims of the signed-in user's ID token, as `identify` accepts it."""
        token = bearer_token(request)
        if token is None:
            raise _missing_token(request, "A Firebase ID token")
        if is_api_key(token):
            warn("authentication failed", reason="api_key_not_accepted", path=request.path)
            raise ForbiddenError(
                "Managing the account (creating it, API keys, the webhook secret) needs a "
                "Firebase ID token of the signed-in user, not an API key",
                error="id_token_required",
            )
        return self._claims(token, request.path)

    def _token_owner(self, token: str, path: str) -> str:
        return str(self._claims(token, path).get("uid", ""))

    def _claims(self, token: str, path: str) -> dict[str, Any]:
        try:
            claims = self._verify(token)
        except TokenRejected as rejected:
            warn("authentication failed", reason=rejected.reason, path=path)
            raise UnauthenticatedError(
                "The ID token is invalid, expired or revoked", error="invalid_token"
            ) from None
        except Exception as exc:
            log_exception("auth backend unavailable", exc, path=path)
            raise BackendUnavailableError(
                "Could not verify the ID token; please retry", error="auth_unavailable"
            ) from None
        return claims

    def _key_grant(self, key: str, path: str) -> KeyGrant:
        try:
            if self._resolve_key is None:
                raise TokenRejected("api_keys_unavailable")
            return self._resolve_key(key)
        except TokenRejected as rejected:
            warn("authentication failed", reason=rejected.reason, path=path)
            if rejected.reason == EXPIRED:
                raise UnauthenticatedError(
                    "The API key has expired; create a new one (createApiKey)", error=EXPIRED
                ) from None
            raise UnauthenticatedError(
                "The API key is invalid or revoked", error="invalid_api_key"
            ) from None
        except AppError:
            raise
        except Exception as exc:
            log_exception("api key lookup failed", exc, path=path)
            raise BackendUnavailableError(
                "Could not verify the API key; please retry", error="auth_unavailable"
            ) from None

    def require_owner(self, uid: str | None, user_id: str) -> None:
        """403 when an identified caller acts for another `userId`."""
        if uid is not None and uid != user_id:
            raise ForbiddenError("You may only act for your own user", error="wrong_user")

    def owns(self, uid: str | None, owner_id: str) -> bool:
        """Whether the caller may see a record of `owner_id` (an anonymous caller, possible
        only where auth is not required, sees all)."""
        return uid is None or uid == owner_id


MIN_ADMIN_KEY_LENGTH = 32
# Who called an admin function with the admin key (there is no person behind it to name).
ADMIN_KEY_CALLER = "admin_key"


@dataclass
class AdminCall:
    """One admin call being served; the handler records what it did in `counts` (and what it
    acted on in `details`). `by` is who called: `admin_key`, an admin's uid, or `emulator`."""

    function: str
    by: str = ""
    counts: dict[str, int] = field(default_factory=dict)
    details: dict[str, str | int] = field(default_factory=dict)


class AdminGuard:
    """Admin functions need ADMIN_API_KEY, of at least MIN_ADMIN_KEY_LENGTH characters (a
    shorter one disables them). The emulator wires OpenAdminGuard instead."""

    on_emulator = False

    def __init__(self, admin_api_key: str, verify: TokenVerifier | None = None) -> None:
        self._admin_api_key = admin_api_key
        self._verify = verify

    def authorize(self, request: Request) -> str:
        """The admin key (machine callers), or the ID token of a user with the `admin` custom
        claim (an operator in the console). A personal API key is never compared or verified.
        Returns who called: `admin_key` or the admin's uid."""
        token = bearer_token(request)
        if token is not None and is_api_key(token):
            token = None
        key_usable = len(self._admin_api_key) >= MIN_ADMIN_KEY_LENGTH
        if key_usable and token is not None and _same(token, self._admin_api_key):
            return ADMIN_KEY_CALLER
        if token is not None and (uid := self._admin_uid(token)) is not None:
            return uid
        if not key_usable:
            raise AdminKeyTooShortError(error="admin_key_too_short")
        raise ForbiddenError("Admin access required", error="admin_only")

    def _admin_uid(self, token: str) -> str | None:
        """The uid of a valid ID token with the `admin` claim, else None."""
        if self._verify is None or token.count(".") != 2:  # not shaped like a JWT: not a token
            return None
        try:
            claims = self._verify(token)
        except TokenRejected:
            return None
        except Exception as exc:
            log_exception("auth backend unavailable", exc)
            raise BackendUnavailableError(
                "Could not verify the ID token; please retry", error="auth_unavailable"
            ) from None
        if claims.get("admin") is not True:
            return None
        return str(claims.get("uid", "")) or "admin_token"

    @contextmanager
    def call(self, request: Request, function: str) -> Iterator[AdminCall]:
        """Authorize, run the body, and log the call's outcome, status, error reason and the
        counts the body recorded; never a credential."""
        admin_call = AdminCall(function)
        fields: dict[str, Any] = {
            "function": function,
            "on_emulator": self.on_emulator,
            "source_ip": _source_ip(request),
        }
        try:
            admin_call.by = self.authorize(request)
            yield admin_call
        except AppError as error:
            outcome = (
                "denied"
                if error.status in (401, 403)
                else "rejected"
                if error.status < 500
                else "failed"
            )
            fields |= _acted_on(admin_call)
            warn("admin call", outcome=outcome, status=error.status, reason=error.error, **fields)
            raise
        except Exception:
            warn("admin call", outcome="error", status=500, **fields | _acted_on(admin_call))
            raise
        info(
            "admin call",
            outcome="ok",
            status=200,
            counts=admin_call.counts,
            **fields | _acted_on(admin_call),
        )


def _acted_on(admin_call: AdminCall) -> dict[str, Any]:
    """Who called and what on, once known (a refused call logs neither)."""
    acted: dict[str, Any] = {}
    if admin_call.by:
        acted["by"] = admin_call.by
    if admin_call.details:
        acted["details"] = admin_call.details
    return acted


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


def _source_ip(request: Request) -> str:
    """The address Google's front end saw: the last X-Forwarded-For entry, the one it appends
    (a client can only prepend entries of its own)."""
    forwarded = request.headers.get("X-Forwarded-For", "")
    return forwarded.split(",")[-1].strip() or (request.remote_addr or "")
