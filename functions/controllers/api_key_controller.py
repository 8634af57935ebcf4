"""createApiKey, listApiKeys, revokeApiKey; and the key resolver of UserAuthorizer.

Each manages the caller's own keys, so an ID token is required in every mode (a key can neither
mint, list nor revoke keys). A key is answered once and never logged.
"""

from __future__ import annotations

from flask import Request, Response

from controllers.auth import KeyGrant, KeyResolver, TokenRejected, UserAuthorizer
from controllers.http import json_body, json_response, validate
from schemas.requests import CreateApiKeyRequest, RevokeApiKeyRequest
from schemas.responses import api_key_body
from services.api_key_service import ApiKeyRejected, ApiKeyService


def key_resolver(service: ApiKeyService) -> KeyResolver:
    """`UserAuthorizer`'s resolve_key: a key's owner and scopes, or TokenRejected (a 401)."""

    def resolve(key: str) -> KeyGrant:
        try:
            record = service.owner_of(key)
            return KeyGrant(record.user_id, frozenset(record.scopes))
        except ApiKeyRejected as rejected:
            raise TokenRejected(rejected.reason) from None

    return resolve


class ApiKeyController:
    def __init__(self, service: ApiKeyService, auth: UserAuthorizer) -> None:
        self._service = service
        self._auth = auth

    def create(self, request: Request) -> Response:
        uid = self._auth.identify(request)
        parsed = validate(CreateApiKeyRequest, json_body(request))
        created = self._service.create(uid, parsed.name, parsed.scopes, parsed.expiresInDays)
        listed = api_key_body(created.record)
        shown = ("keyId", "name", "prefix", "createdAt", "scopes", "expiresAt")
        body = {"success": True, "apiKey": created.key} | {f: listed[f] for f in shown}
        # The only answer that carries a key: no cache may keep it.
        return json_response(body, 201, headers={"Cache-Control": "no-store"})

    def list_keys(self, request: Request) -> Response:
        uid = self._auth.identify(request)
        records = self._service.list_for_owner(uid)
        return json_response({"success": True, "apiKeys": [api_key_body(r) for r in records]})

    def revoke(self, request: Request) -> Response:
        uid = self._auth.identify(request)
        parsed = validate(RevokeApiKeyRequest, json_body(request))
        record = self._service.revoke(uid, parsed.keyId)
        listed = api_key_body(record)
        return json_response(
            {"success": True, "keyId": listed["keyId"], "revokedAt": listed["revokedAt"]}
        )
