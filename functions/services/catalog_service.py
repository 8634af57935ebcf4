"""What the UI may offer: active styles, colors and sizes."""

from __future__ import annotations

from repositories.catalog import CatalogRepository
from schemas.documents import Catalog


class CatalogService:
    def __init__(self, catalog: CatalogRepository) -> None:
        self._catalog = catalog

    def catalog(self) -> Catalog:
        return self._catalog.active_catalog()
