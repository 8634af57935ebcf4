"""Document ids as requests and tasks carry them (pydantic v2 types)."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, StringConstraints


def firestore_safe(value: str) -> str:
    """Firestore rejects ".", ".." and ids of the form __.*__ as document ids."""
    if value in {".", ".."} or (value.startswith("__") and value.endswith("__")):
        raise ValueError("Is not a valid id")
    return value


# A trimmed, non-empty string usable as one Firestore document id.
DocumentId = Annotated[
    str,
    StringConstraints(
        strict=True, strip_whitespace=True, min_length=1, max_length=100, pattern=r"^[^/]+$"
    ),
    AfterValidator(firestore_safe),
]
UserId = DocumentId
