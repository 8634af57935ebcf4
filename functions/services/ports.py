"""Interfaces the services depend on; adapters live in core/ and tests provide fakes."""

from __future__ import annotations

from typing import Protocol


class GenerationQueue(Protocol):
    def enqueue(self, generation_request_id: str) -> None:
        """Schedule the worker for this request. Raises on failure; duplicates are harmless."""
