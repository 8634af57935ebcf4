"""grantCredits (admin): an operator's credits for one user, once per grantId."""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import Request, Response

from controllers.http import json_body, json_response, validate
from schemas.operator_requests import GrantCreditsRequest

if TYPE_CHECKING:
    from controllers.auth import AdminGuard
    from services.grant_service import GrantService


class GrantController:
    def __init__(self, grants: GrantService, guard: AdminGuard) -> None:
        self._grants = grants
        self._guard = guard

    def grant(self, request: Request) -> Response:
        with self._guard.call(request, "grantCredits") as call:
            body = validate(GrantCreditsRequest, json_body(request))
            call.details = {"userId": body.userId, "grantId": body.grantId}
            outcome = self._grants.grant(
                user_id=body.userId,
                credits=body.credits,
                reason=body.reason,
                grant_id=body.grantId,
                granted_by=call.by,
            )
            call.counts = {"credits": outcome.grant.credits if outcome.granted else 0}
        return json_response(
            {
                "success": True,
                "grantId": outcome.grant.id,
                "userId": outcome.grant.user_id,
                "credits": outcome.grant.credits,
                "currentCredits": outcome.balance,
                "granted": outcome.granted,
            }
        )
