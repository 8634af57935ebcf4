"""seed_database (admin only)."""

from __future__ import annotations

from flask import Request, Response

from controllers.auth import AdminGuard
from controllers.http import json_response, optional_json_body, validate
from schemas.requests import SeedOptions
from services.seed_history import DEFAULT_SEED
from services.seed_service import SeedService


class AdminController:
    def __init__(self, seeder: SeedService, guard: AdminGuard) -> None:
        self._seeder = seeder
        self._guard = guard

    def seed(self, request: Request) -> Response:
        self._guard.authorize(request)
        options = validate(SeedOptions, optional_json_body(request))
        counts = self._seeder.seed(seed=DEFAULT_SEED if options.seed is None else options.seed)
        return json_response(
            {"success": True, "message": "Database seeded successfully", "counts": counts}
        )
