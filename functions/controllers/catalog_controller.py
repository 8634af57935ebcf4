"""getCatalog."""

from __future__ import annotations

from flask import Request, Response

from controllers.http import json_response
from core.config import MODELS
from schemas.responses import catalog_body
from services.catalog_service import CatalogService, is_complete


class CatalogController:
    def __init__(self, service: CatalogService) -> None:
        self._service = service

    def catalog(self, request: Request) -> Response:
        """Public reference data: browsers and Hosting's CDN may keep it as long as this
        instance does."""
        catalog = self._service.catalog()
        response = json_response(catalog_body(catalog, MODELS))
        response.headers["Cache-Control"] = (
            f"public, max-age={self._service.max_age_seconds}"
            if is_complete(catalog)
            else "no-store"  # not seeded yet: nobody may keep the empty answer
        )
        return response
