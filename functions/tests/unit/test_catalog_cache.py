"""getCatalog: served from a short per-instance cache, and cacheable by browsers and the CDN."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from controllers.catalog_controller import CatalogController
from controllers.http import endpoint
from schemas.documents import Catalog, ColorRecord, CreditPackRecord, SizeRecord, StyleRecord
from services.catalog_service import CATALOG_TTL, CatalogService
from services.seeding.service import reference_documents
from tests.support.fakes import FakeCatalog, ManualClock
from tests.support.http import make_request

START = datetime(2025, 8, 6, 12, 0, tzinfo=UTC)


COMPLETE = Catalog(
    styles=[StyleRecord(id="anime", display_name="Anime")],
    colors=[ColorRecord(id="neon", display_name="Neon")],
    sizes=[
        SizeRecord(
            id="512x512", width=512, height=512, aspect_ratio="1:1", display_name="S", credit_cost=1
        )
    ],
)
EMPTY = Catalog(styles=[], colors=[], sizes=[])


def service(stored: Catalog = COMPLETE) -> tuple[CatalogService, FakeCatalog, ManualClock]:
    repository, clock = FakeCatalog(stored), ManualClock(START)
    return CatalogService(repository, clock), repository, clock


def test_the_catalog_is_read_once_per_ttl():
    catalog, repository, clock = service()
    first = catalog.catalog()
    clock.current = START + CATALOG_TTL - timedelta(milliseconds=1)
    assert catalog.catalog() is first
    assert repository.reads == 1
    clock.current = START + CATALOG_TTL
    catalog.catalog()
    assert repository.reads == 2


def test_a_clock_that_steps_back_rereads():
    catalog, repository, clock = service()
    catalog.catalog()
    clock.current = START - timedelta(seconds=1)
    catalog.catalog()
    assert repository.reads == 2


def test_get_catalog_is_cacheable_and_keeps_cors():
    catalog, _, _ = service()
    handler = endpoint(["GET"])(CatalogController(catalog).catalog)
    response = handler(make_request("GET"))
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "public, max-age=60"
    assert response.headers["Access-Control-Allow-Origin"] == "*"


def test_an_empty_catalog_is_neither_kept_nor_cacheable():
    """Before seeding the catalog is empty: the next call reads again (and finds the seeded
    one), and no browser or CDN may keep the empty answer."""
    catalog, repository, _ = service(EMPTY)
    handler = endpoint(["GET"])(CatalogController(catalog).catalog)
    assert handler(make_request("GET")).headers["Cache-Control"] == "no-store"
    repository.catalog = COMPLETE
    assert catalog.catalog() is COMPLETE
    assert repository.reads == 2


def test_get_catalog_lists_the_active_credit_packs_in_their_order():
    pack = CreditPackRecord(id="pack_50", name="Starter", credits=50, amount=500, currency="usd")
    catalog, _, _ = service(COMPLETE.model_copy(update={"credit_packs": [pack]}))
    handler = endpoint(["GET"])(CatalogController(catalog).catalog)
    body = handler(make_request("GET")).get_json()
    assert body["creditPacks"] == [
        {"id": "pack_50", "name": "Starter", "credits": 50, "amount": 500, "currency": "usd"}
    ]


def test_the_seeded_credit_packs_are_the_contract_s():
    packs = {d["id"]: d for d in reference_documents()["credit_packs"]}
    fields = [(p["credits"], p["amount"], p["currency"], p["sort_order"]) for p in packs.values()]
    assert list(packs) == ["pack_50", "pack_200", "pack_1000"]
    assert fields == [
        (50, 500, "usd", 0),
        (200, 1800, "usd", 1),
        (1000, 8000, "usd", 2),
    ]
    assert all(CreditPackRecord.model_validate(p).is_active for p in packs.values())
