"""Small shared Firestore helpers for the repositories."""

from __future__ import annotations

from typing import Any

from google.cloud.firestore_v1.base_document import DocumentSnapshot
from pydantic import BaseModel

# Firestore transactions are retried on contention. Credit requests for one user contend on the
# user document, so allow more attempts than the client's default of 5.
TRANSACTION_ATTEMPTS = 30

USERS = "users"
TRANSACTIONS = "transactions"
GENERATION_REQUESTS = "generation_requests"
IDEMPOTENCY_KEYS = "idempotency_keys"
STYLES = "styles"
COLORS = "colors"
SIZES = "sizes"
REPORTS = "reports"


def to_model[M: BaseModel](snapshot: DocumentSnapshot, model: type[M]) -> M | None:
    """Snapshot -> pydantic record (with its id), or None when the document does not exist."""
    if not snapshot.exists:
        return None
    data: dict[str, Any] = snapshot.to_dict() or {}
    return model.model_validate({**data, "id": snapshot.id})
