"""firestore.indexes.json declares what production needs beyond the queries' indexes."""

from __future__ import annotations

import json
from pathlib import Path

INDEXES = Path(__file__).resolve().parents[3] / "firestore.indexes.json"


def test_expired_idempotency_keys_and_old_api_keys_are_deleted_by_ttl_policies():
    overrides = json.loads(INDEXES.read_text())["fieldOverrides"]
    ttl = [o for o in overrides if o.get("ttl")]
    assert ttl == [
        {
            "collectionGroup": "idempotency_keys",
            "fieldPath": "expires_at",
            "ttl": True,
            "indexes": [],
        },
        {"collectionGroup": "api_keys", "fieldPath": "delete_at", "ttl": True, "indexes": []},
    ]
