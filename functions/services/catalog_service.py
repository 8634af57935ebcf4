"""What the UI may offer: active styles, colors and sizes, cached briefly per instance."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from core.clock import Clock
    from schemas.documents import Catalog
    from services.ports import CatalogStore

# How long one instance serves the catalog it read; also the Cache-Control max-age clients and
# Hosting's CDN get, so a catalog edit shows everywhere within about twice this.
CATALOG_TTL = timedelta(seconds=60)


def is_complete(catalog: Catalog) -> bool:
    """Something can be ordered: at least one style, color and size is active."""
    return bool(catalog.styles and catalog.colors and catalog.sizes)


class CatalogService:
    def __init__(self, catalog: CatalogStore, clock: Clock, ttl: timedelta = CATALOG_TTL) -> None:
        self._catalog = catalog
        self._clock = clock
        self._ttl = ttl
        self._lock = threading.Lock()
        self._cached: tuple[datetime, Catalog] | None = None

    @property
    def max_age_seconds(self) -> int:
        return int(self._ttl.total_seconds())

    def catalog(self) -> Catalog:
        """The active catalog, read at most once per TTL (concurrent callers wait for one read)."""
        with self._lock:
            now = self._clock.now()
            if self._cached is not None:
                read_at, catalog = self._cached
                if timedelta(0) <= now - read_at < self._ttl:
                    return catalog
            catalog = self._catalog.active_catalog()
            # An empty catalog is a database not seeded yet: ask again next time, so that a
            # fresh deployment (or emulator) offers the catalog as soon as it is written.
            self._cached = (now, catalog) if is_complete(catalog) else None
            return catalog
