"""firestore.indexes.json declares what production needs beyond the queries' indexes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from repositories.firestore_helpers import STREAM_LEASES, WAIT_LEASES
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
