"""getCatalog and health."""

from __future__ import annotations

from flask import Request, Response

from controllers.http import json_response
from schemas.requests import MODELS
from schemas.responses import catalog_body
from services.catalog_service import CatalogService


class CatalogController:
    def __init__(self, service: CatalogService) -> None:
        self._service = service

    def catalog(self, request: Request) -> Response:
        return json_response(catalog_body(self._service.catalog(), MODELS))


def health(request: Request) -> Response:
    """Readiness probe: touches nothing, so its latency is the emulator's floor."""
    return json_response({"status": "ok"})
