"""seed_database (admin only, and only where the SEED_ENABLED param is true)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import Request, Response

from controllers.http import json_response, optional_json_body, validate
from core.errors import SeedDisabledError
from schemas.operator_requests import SeedOptions

if TYPE_CHECKING:
    from controllers.auth import AdminGuard
    from services.seeding.service import SeedService


class AdminController:
    def __init__(self, seeder: SeedService, guard: AdminGuard, *, seed_enabled: bool) -> None:
        self._seeder = seeder
        self._guard = guard
        self._seed_enabled = seed_enabled

    def seed(self, request: Request) -> Response:
        with self._guard.call(request, "seed_database") as call:
            if not self._seed_enabled:
                raise SeedDisabledError(error="seed_disabled")
            options = validate(SeedOptions, optional_json_body(request))
            outcome = self._seeder.seed(seed=options.seed)
            call.counts = dict(outcome.counts)
        message = "Database seeded successfully"
        if outcome.users_left_alone:
            message += "; left alone (existing users the seeder does not own): " + ", ".join(
                outcome.users_left_alone
            )
        return json_response({"success": True, "message": message, "counts": outcome.counts})
