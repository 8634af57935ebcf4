"""Reference data: styles, colors, sizes."""

from __future__ import annotations

from google.cloud import firestore

from repositories.firestore_helpers import COLORS, SIZES, STYLES, USERS, to_model
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
            r for snap in self._db.collection(collection).stream() if (r := to_model(snap, model))
        ]
        return sorted((r for r in records if r.is_active), key=lambda r: (r.sort_order, r.id))

    def lookup(
        self, user_id: str, style: str, color: str, size: str
    ) -> tuple[bool, StyleRecord | None, ColorRecord | None, SizeRecord | None]:
        """One round trip: does the user exist, and the three catalog entries (None if absent)."""
        refs = [
            self._db.collection(USERS).document(user_id),
            self._db.collection(STYLES).document(style),
            self._db.collection(COLORS).document(color),
            self._db.collection(SIZES).document(size),
        ]
        snaps = {snap.reference.path: snap for snap in self._db.get_all(refs)}
        user_snap, style_snap, color_snap, size_snap = (snaps[ref.path] for ref in refs)
        return (
            user_snap.exists,
            to_model(style_snap, StyleRecord),
            to_model(color_snap, ColorRecord),
            to_model(size_snap, SizeRecord),
        )
