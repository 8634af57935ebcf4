"""seed_database (admin only)."""

from __future__ import annotations

from flask import Request, Response

from controllers.auth import AdminGuard
from controllers.http import json_response
from services.seed_service import SeedService


class AdminController:
    def __init__(self, seeder: SeedService, guard: AdminGuard) -> None:
        self._seeder = seeder
        self._guard = guard

    def seed(self, request: Request) -> Response:
        self._guard.authorize(request)
        counts = self._seeder.seed()
        return json_response(
            {"success": True, "message": "Database seeded successfully", "counts": counts}
        )
