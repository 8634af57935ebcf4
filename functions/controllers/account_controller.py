"""createAccount, getUserCredits, validate_user, listUsers."""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import Request, Response

from controllers.http import json_response, optional_json_body, params, validate
from core.errors import NotFoundError
from schemas.requests import CreditsQuery, NoOptions, UserIdQuery
from schemas.responses import transaction_body, user_data_body
from services.accounts import AccountService, SignedInUser, account_missing

if TYPE_CHECKING:
    from controllers.auth import AdminGuard, UserAuthorizer
    from schemas.documents import UserRecord
    from services.ports import UserStore


class AccountController:
    """Reads users and their ledger straight from the store: no rule sits in between."""

    def __init__(
        self,
        users: UserStore,
        auth: UserAuthorizer,
        admin: AdminGuard,
        accounts: AccountService,
    ) -> None:
        self._users = users
        self._auth = auth
        self._admin = admin
        self._accounts = accounts

    def create_account(self, request: Request) -> Response:
        """The signed-in user's account, made on the first call (201), answered as it is on
        every later one (200); its welcome credits once the token says the e-mail is verified.
        An ID token in every mode: an API key cannot make accounts."""
        claims = self._auth.identify_claims(request)
        validate(NoOptions, optional_json_body(request))  # no options
        result = self._accounts.open(
            SignedInUser(
                uid=str(claims.get("uid", "")),
                email=_text(claims.get("email")),
                name=_text(claims.get("name")),
                email_verified=claims.get("email_verified") is True,
            )
        )
        body = {
            "success": True,
            "userId": result.user.id,
            "currentCredits": result.user.current_credits,
            "welcomeGranted": result.welcome_granted,
            "welcomePending": result.welcome_pending,
        }
        return json_response(body, 201 if result.created else 200)

    def credits(self, request: Request) -> Response:
        uid = self._auth.authenticate(request, scope="read")
        query = validate(CreditsQuery, params(request))
        self._auth.require_owner(uid, query.userId)
        user = self._user(query.userId, uid)
        page, next_cursor = self._users.transactions_page(query.userId, query.limit, query.cursor)
        return json_response(
            {
                "success": True,
                "currentCredits": user.current_credits,
                "transactions": [transaction_body(t) for t in page],
                "nextCursor": next_cursor,
            }
        )

    def validate_user(self, request: Request) -> Response:
        uid = self._auth.authenticate(request, scope="read")
        query = validate(UserIdQuery, params(request))
        self._auth.require_owner(uid, query.userId)
        try:
            user = self._user(query.userId, uid)
        except NotFoundError as missing:
            missing.extra["exists"] = False
            raise
        return json_response(
            {
                "success": True,
                "message": "User exists",
                "exists": True,
                "user_data": user_data_body(user),
            }
        )

    def list_users(self, request: Request) -> Response:
        """Every user with name and email: an admin view (open on the emulator, for the UI)."""
        with self._admin.call(request, "listUsers") as call:
            users = self._users.list_all()
            call.counts = {"users": len(users)}
        return json_response(
            {
                "success": True,
                "users": [{"userId": u.id, **user_data_body(u)} for u in users],
            }
        )

    def _user(self, user_id: str, caller: str | None) -> UserRecord:
        """404: `account_not_found` for a signed-in caller (their own account: they may act
        for no other), the original `user_not_found` for an anonymous one (open mode)."""
        user = self._users.get(user_id)
        if user is None:
            if caller is not None:
                raise account_missing(user_id)
            raise NotFoundError(f"User not found: {user_id}", error="user_not_found")
        return user


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""
