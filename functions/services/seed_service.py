"""Reset reference data, users and fabricated history to the documented seed state."""

from __future__ import annotations

from typing import Any

from core.clock import Clock
from repositories.seed import SeedRepository
from services import seed_data
from services.seed_history import DEFAULT_SEED, SeedHistory, fabricate_history


def reference_documents() -> dict[str, list[dict[str, Any]]]:
    """styles/colors/sizes documents with is_active and sort_order."""
    return {
        name: [entry | {"is_active": True, "sort_order": i} for i, entry in enumerate(entries)]
        for name, entries in (
            ("styles", seed_data.STYLES),
            ("colors", seed_data.COLORS),
            ("sizes", seed_data.SIZES),
        )
    }


class SeedService:
    def __init__(self, repository: SeedRepository, clock: Clock) -> None:
        self._repository = repository
        self._clock = clock

    def seed(self, *, history: bool = True, seed: int = DEFAULT_SEED) -> dict[str, int]:
        """Replace reference data, users and (unless `history` is False) the fabricated history.

        Returns the number of documents written per collection.
        """
        now = self._clock.now()
        fabricated = fabricate_history(now, seed) if history else SeedHistory()
        self._repository.clear_history()
        reference = reference_documents()
        for collection, documents in reference.items():
            self._repository.replace_collection(
                collection,
                {
                    d["id"]: {k: v for k, v in d.items() if k != "id"} | {"created_at": now}
                    for d in documents
                },
            )
        users = {
            user_id: {
                "name": name,
                "email": f"{user_id}@example.com",
                "current_credits": credits,
                "initial_credits": fabricated.initial_credits(user_id, credits),
                "total_images_generated": fabricated.images_generated[user_id],
                "is_active": True,
                "created_at": fabricated.user_created_at.get(user_id, now),
                "updated_at": now,
                "last_login": None,
            }
            for user_id, (name, credits) in seed_data.USERS.items()
        }
        self._repository.replace_collection("users", users)
        self._repository.write("generation_requests", fabricated.requests)
        self._repository.write_transactions(fabricated.transactions)
        return {
            "styles": len(reference["styles"]),
            "colors": len(reference["colors"]),
            "sizes": len(reference["sizes"]),
            "users": len(users),
            "generation_requests": len(fabricated.requests),
            "transactions": fabricated.transaction_count,
        }
