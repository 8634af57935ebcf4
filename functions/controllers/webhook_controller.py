"""getWebhookSecret, rotateWebhookSecret (the caller's own signing secret) and deliverWebhook
(the webhook task queue)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pydantic
from firebase_functions.https_fn import FunctionsErrorCode, HttpsError
from flask import Request, Response

from controllers.http import json_response, optional_json_body
from core.logging import info, warn
from schemas.tasks import WorkerTask
from services.accounts import require_account
from services.webhook_service import DeliveryResult, WebhookDeliverer, WebhookSecrets

if TYPE_CHECKING:
    from controllers.auth import UserAuthorizer
    from services.ports import AccountReader

# A secret is never kept by a cache on the way.
NO_STORE = {"Cache-Control": "no-store"}


class WebhookController:
    def __init__(
        self,
        secrets: WebhookSecrets,
        deliverer: WebhookDeliverer,
        auth: UserAuthorizer,
        accounts: AccountReader | None = None,
    ) -> None:
        self._secrets = secrets
        self._deliverer = deliverer
        self._auth = auth
        self._accounts = accounts

    def secret(self, request: Request) -> Response:
        """The caller's signing secret, created on the first call (an ID token is required in
        every mode, and an account: the secret belongs to one)."""
        uid = self._owner(request)
        return json_response({"success": True, "secret": self._secrets.current(uid)}, 200, NO_STORE)

    def rotate_secret(self, request: Request) -> Response:
        """A new secret for the caller; deliveries from now on are signed with it."""
        uid = self._owner(request)
        optional_json_body(request)  # takes no options, but a body must be valid JSON
        return json_response({"success": True, "secret": self._secrets.rotate(uid)}, 200, NO_STORE)

    def _owner(self, request: Request) -> str:
        uid = self._auth.identify(request)
        if self._accounts is not None:
            require_account(self._accounts, uid)
        return uid

    def handle_delivery(self, data: Any) -> dict[str, str]:
        """Acknowledge (return) unless the attempt is to be retried: then raise (503), and
        Cloud Tasks retries after its backoff."""
        try:
            task = WorkerTask.model_validate(data)
        except pydantic.ValidationError:
            warn("dropping malformed webhook task", payload_type=type(data).__name__)
            return {"result": "rejected"}
        result = self._deliverer.deliver(task.generationRequestId)
        info("webhook task handled", generationRequestId=task.generationRequestId, result=result)
        if result is DeliveryResult.RETRY:
            raise HttpsError(FunctionsErrorCode.UNAVAILABLE, "webhook delivery will be retried")
        return {"result": result.value}
