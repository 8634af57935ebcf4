"""Where a request's picture is stored: the worker writes it there, deletions remove it. Its own
module so that deleting a picture does not load the worker (and Pillow)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from schemas.documents import GenerationRecord


def image_path(record: GenerationRecord) -> str:
    """Where a request's PNG is stored: one object per request, under its owner."""
    return f"generated/{record.user_id}/{record.id}.png"
