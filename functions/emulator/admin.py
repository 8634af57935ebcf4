"""Emulator workaround: admin functions open to every caller on the local emulator.

The Functions emulator reads the admin key secret only from functions/.secret.local, which a
fresh clone has not filled in; yet the documented curl commands, the Postman collection and the
console's admin buttons must work there. core.config refuses emulator mode on Cloud Run.
"""

from __future__ import annotations

from flask import Request

from controllers.auth import AdminGuard

EMULATOR_CALLER = "emulator"


class OpenAdminGuard(AdminGuard):
    """Lets every caller through; calls are still logged by `AdminGuard.call`."""

    on_emulator = True

    def __init__(self) -> None:
        super().__init__(admin_api_key="")

    def authorize(self, request: Request) -> str:
        """Nobody is identified: grants made here record `emulator` as their granter."""
        return EMULATOR_CALLER
