"""Reset the seeder's own reference data, users and fabricated history to the seed state."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from services.seeding import reference_data
from services.seeding.history import DEFAULT_SEED, SeedHistory, fabricate_history

if TYPE_CHECKING:
    from core.clock import Clock
    from services.ports import SeedStore


def reference_documents() -> dict[str, list[dict[str, Any]]]:
    """styles/colors/sizes/credit_packs documents with is_active and sort_order."""
    return {
        name: [entry | {"is_active": True, "sort_order": i} for i, entry in enumerate(entries)]
        for name, entries in (
            ("styles", reference_data.STYLES),
            ("colors", reference_data.COLORS),
            ("sizes", reference_data.SIZES),
            ("credit_packs", reference_data.CREDIT_PACKS),
        )
    }


@dataclass(frozen=True)
class SeedOutcome:
    """What a seed run wrote per collection, and the seed users whose id a foreign user has."""

    counts: dict[str, int]
    users_left_alone: list[str] = field(default_factory=list)


class SeedService:
    """Writes the seed state (reference entries, seed users, their fabricated requests and
    ledger) through documents the seeder owns; nothing else is deleted or changed."""

    def __init__(self, repository: SeedStore, clock: Clock) -> None:
        self._repository = repository
        self._clock = clock

    def seed(self, *, history: bool = True, seed: int | None = None) -> SeedOutcome:
        """Replace the seeded reference data, users and (if `history`) history drawn from `seed`."""
        now = self._clock.now()
        seed = DEFAULT_SEED if seed is None else seed
        fabricated = fabricate_history(now, seed) if history else SeedHistory()
        reference = reference_documents()
        counts = {
            collection: self._repository.replace_owned(
                collection,
                {
                    d["id"]: {k: v for k, v in d.items() if k != "id"} | {"created_at": now}
                    for d in documents
                },
            )
            for collection, documents in reference.items()
        }
        requests_by_user: dict[str, dict[str, dict[str, Any]]] = {}
        for request_id, request in fabricated.requests.items():
            requests_by_user.setdefault(request["user_id"], {})[request_id] = request
        counts |= {"users": 0, "generation_requests": 0, "transactions": 0}
        left_alone: list[str] = []
        for user_id, (name, credits) in reference_data.USERS.items():
            user = {
                "name": name,
                "email": reference_data.email_of(user_id),
                "current_credits": credits,
                "initial_credits": fabricated.initial_credits(user_id, credits),
                "total_images_generated": fabricated.images_generated[user_id],
                "is_active": True,
                "created_at": fabricated.user_created_at.get(user_id, now),
                "updated_at": now,
                "last_login": None,
            }
            written = self._repository.replace_user(
                user_id,
                user,
                requests_by_user.get(user_id, {}),
                fabricated.transactions.get(user_id, {}),
            )
            if written is None:
                left_alone.append(user_id)
                continue
            counts["users"] += 1
            counts["generation_requests"] += written.requests
            counts["transactions"] += written.transactions
        # Rollups summarise the history just replaced: stale now, recomputed on demand.
        self._repository.forget_rollups()
        return SeedOutcome(counts, left_alone)
