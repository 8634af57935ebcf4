"""getUserCredits, validate_user, listUsers."""

from __future__ import annotations

from flask import Request, Response

from controllers.auth import AdminGuard, UserAuthorizer
from controllers.http import json_response, params, validate
from core.errors import NotFoundError
from schemas.documents import UserRecord
from schemas.requests import CreditsQuery, UserIdQuery
from schemas.responses import transaction_body, user_data_body
from services.ports import UserStore


class AccountController:
    """Reads users and their ledger straight from the store: no rule sits in between."""

    def __init__(self, users: UserStore, auth: UserAuthorizer, admin: AdminGuard) -> None:
        self._users = users
        self._auth = auth
        self._admin = admin

    def credits(self, request: Request) -> Response:
        uid = self._auth.authenticate(request, scope="read")
        query = validate(CreditsQuery, params(request))
        self._auth.require_owner(uid, query.userId)
        user = self._user(query.userId)
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
            user = self._user(query.userId)
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

    def _user(self, user_id: str) -> UserRecord:
        user = self._users.get(user_id)
        if user is None:
            raise NotFoundError(f"User not found: {user_id}", error="user_not_found")
        return user
