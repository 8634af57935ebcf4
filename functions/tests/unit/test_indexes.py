"""firestore.indexes.json declares what production needs beyond the queries' indexes."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from google.auth.credentials import AnonymousCredentials
from google.cloud import firestore

from repositories.firestore_helpers import GENERATION_REQUESTS, STREAM_LEASES, WAIT_LEASES
from repositories.generations import queued_before
from schemas.documents import SlotLeaseRecord

INDEXES = Path(__file__).resolve().parents[3] / "firestore.indexes.json"


def ttl_policies() -> list[dict[str, Any]]:
    overrides = json.loads(INDEXES.read_text())["fieldOverrides"]
    return [o for o in overrides if o.get("ttl")]


def test_expired_idempotency_keys_are_deleted_by_a_ttl_policy():
    assert {
        "collectionGroup": "idempotency_keys",
        "fieldPath": "expires_at",
        "ttl": True,
        "indexes": [],
    } in ttl_policies()


def test_leftover_wait_leases_are_deleted_by_a_ttl_policy():
    assert "expires_at" in SlotLeaseRecord.model_fields
    assert {
        "collectionGroup": WAIT_LEASES,
        "fieldPath": "expires_at",
        "ttl": True,
        "indexes": [],
    } in ttl_policies()


def test_leftover_stream_leases_are_deleted_by_a_ttl_policy():
    assert {
        "collectionGroup": STREAM_LEASES,
        "fieldPath": "expires_at",
        "ttl": True,
        "indexes": [],
    } in ttl_policies()


def test_revoked_and_expired_api_keys_are_deleted_by_a_ttl_policy():
    assert {
        "collectionGroup": "api_keys",
        "fieldPath": "delete_at",
        "ttl": True,
        "indexes": [],
    } in ttl_policies()


# --- composite indexes the queries need ---------------------------------------------------------
def composite_indexes() -> list[tuple[str, list[tuple[str, str]]]]:
    declared = json.loads(INDEXES.read_text())["indexes"]
    return [
        (i["collectionGroup"], [(f["fieldPath"], f["order"]) for f in i["fields"]])
        for i in declared
        if i["queryScope"] == "COLLECTION"
    ]


def needed_index(query: Any) -> tuple[str, list[tuple[str, str]]]:
    """The composite index Firestore asks for to serve `query`: its equality fields, then its
    orderings (without the implicit `__name__`), read from the query as it is sent."""
    proto = query._to_protobuf()
    filters = proto.where.composite_filter.filters or [proto.where]
    fields = [(f.field_filter.field.field_path, "ASCENDING") for f in filters]
    assert all(f.field_filter.op == f.field_filter.Operator.EQUAL for f in filters)
    directions = {1: "ASCENDING", 2: "DESCENDING"}
    fields += [
        (o.field.field_path, directions[o.direction])
        for o in proto.order_by
        if o.field.field_path != "__name__"
    ]
    return proto.from_[0].collection_id, fields


def test_the_queue_position_count_has_its_composite_index():
    """The emulator serves any query without an index; production refuses one it lacks."""
    client = firestore.Client(project="feraset-imagen", credentials=AnonymousCredentials())
    query = queued_before(client.collection(GENERATION_REQUESTS), "req-1", datetime.now(UTC))
    assert needed_index(query) == (
        "generation_requests",
        [("status", "ASCENDING"), ("created_at", "ASCENDING")],
    )
    assert needed_index(query) in composite_indexes()
