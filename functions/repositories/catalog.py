"""Reference data: styles, colors, sizes, credit packs."""

from __future__ import annotations

from google.cloud import firestore

from core.firestore_client import request_deadline
from repositories.firestore_helpers import COLORS, CREDIT_PACKS, SIZES, STYLES, to_model
from schemas.documents import Catalog, ColorRecord, CreditPackRecord, SizeRecord, StyleRecord


class CatalogRepository:
    def __init__(self, db: firestore.Client) -> None:
        self._db = db

    def active_catalog(self) -> Catalog:
        return Catalog(
            styles=self._active(STYLES, StyleRecord),
            colors=self._active(COLORS, ColorRecord),
            sizes=self._active(SIZES, SizeRecord),
            credit_packs=self._active(CREDIT_PACKS, CreditPackRecord),
        )

    def credit_pack(self, pack_id: str) -> CreditPackRecord | None:
        """The pack as stored now, active or not (a paid session names it)."""
        ref = self._db.collection(CREDIT_PACKS).document(pack_id)
        return to_model(ref.get(**request_deadline()), CreditPackRecord)

    def _active[R: (StyleRecord, ColorRecord, SizeRecord, CreditPackRecord)](
        self, collection: str, model: type[R]
    ) -> list[R]:
        records = [
            r
            for snap in self._db.collection(collection).stream(**request_deadline())
            if (r := to_model(snap, model))
        ]
        return sorted((r for r in records if r.is_active), key=lambda r: (r.sort_order, r.id))
