"""deleteAccount and exportAccountData: the signed-in user's own data (an ID token in every
mode, never an API key)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from flask import Request, Response

from controllers.http import json_response, optional_json_body, validate
from core.clock import to_rfc3339
from schemas.requests import NoOptions
from schemas.responses import account_profile_body, exported_request_body, transaction_body

if TYPE_CHECKING:
    from controllers.auth import UserAuthorizer
    from services.account_data import AccountDataService

# Neither answer is ever kept by a cache on the way.
NO_STORE = {"Cache-Control": "no-store"}


class AccountDataController:
    def __init__(self, service: AccountDataService, auth: UserAuthorizer) -> None:
        self._service = service
        self._auth = auth

    def delete_account(self, request: Request) -> Response:
        """Delete the caller's account; the token must come from a sign-in within 5 minutes."""
        claims = self._auth.identify_claims(request)
        validate(NoOptions, optional_json_body(request))  # no options
        result = self._service.delete(str(claims.get("uid", "")), claims.get("auth_time"))
        body = {
            "success": True,
            "userId": result.user_id,
            "deleted": True,
            "cancelledRequests": result.cancelled_requests,
            "revokedKeys": result.revoked_keys,
            "deletedPictures": result.deleted_pictures,
        }
        return json_response(body, headers=NO_STORE)

    def export_account_data(self, request: Request) -> Response:
        """One JSON document: the profile, every request, the whole ledger (a download)."""
        uid = self._auth.identify(request)
        if request.method == "POST":
            validate(NoOptions, optional_json_body(request))
        export = self._service.export(uid)
        body = {
            "success": True,
            "userId": uid,
            "exportedAt": to_rfc3339(export.exported_at),
            "profile": account_profile_body(export.user),
            "generationRequests": [
                exported_request_body(s.record)
                if s.record is not None
                else {"generationRequestId": s.id, "malformed": True}
                for s in export.requests
            ],
            "transactions": [transaction_body(t) for t in export.ledger],
        }
        filename = f"feraset-account-{_safe(uid)}.json"
        headers = NO_STORE | {"Content-Disposition": f'attachment; filename="{filename}"'}
        return json_response(body, headers=headers)


def _safe(uid: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "_", uid)[:128] or "user"
