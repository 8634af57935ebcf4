"""Emulator workaround: admin functions open to every caller on the local emulator.

Why: on the Emulator Suite the documented curl commands, the Postman collection and the
console's admin buttons must work without a secret (the emulator resolves secrets from
functions/.secret.local, which a fresh clone does not have filled in by hand). Only the
composition root (container.py) wires this in, and only when core.config detects the emulator
(which it refuses to do on Cloud Run): the production path always needs the admin key.
"""

from __future__ import annotations

from flask import Request

from controllers.auth import AdminGuard


class OpenAdminGuard(AdminGuard):
    """Lets every caller through; calls are still logged by `AdminGuard.call`."""

    on_emulator = True

    def __init__(self) -> None:
        super().__init__(admin_api_key="")

    def authorize(self, request: Request) -> None:
        return None
