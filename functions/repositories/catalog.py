"""Reference data: styles, colors, sizes."""

from __future__ import annotations

from google.cloud import firestore

from core.firestore_client import request_deadline
from repositories.firestore_helpers import COLORS, SIZES, STYLES, to_model
from schemas.documents import Catalog, ColorRecord, SizeRecord, StyleRecord


class CatalogRepository:
    def __init__(self, db: firestore.Client) -> None:
        self._db = db

    def active_catalog(self) -> Catalog:
        return Catalog(
            styles=self._active(STYLES, StyleRecord),
            colors=self._active(COLORS, ColorRecord),
            sizes=self._active(SIZES, SizeRecord),
        )

    def _active[R: (StyleRecord, ColorRecord, SizeRecord)](
        self, collection: str, model: type[R]
    ) -> list[R]:
        records = [
            r
            for snap in self._db.collection(collection).stream(**request_deadline())
            if (r := to_model(snap, model))
        ]
        return sorted((r for r in records if r.is_active), key=lambda r: (r.sort_order, r.id))
