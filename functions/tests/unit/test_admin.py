"""Admin calls: SEED_ENABLED gates seeding, every call is logged as structured data, no key."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Request, Response

from controllers import auth
from controllers.admin_controller import AdminController
from controllers.auth import AdminGuard
from controllers.http import endpoint, json_response
from core.errors import NotFoundError
from emulator.admin import OpenAdminGuard
from services.seeding.service import SeedOutcome
from tests.support.fakes import Logged, record_logs
from tests.support.http import call

ADMIN_KEY = "a-production-admin-key-of-40-characters!"
COUNTS = {
    "styles": 6,
    "colors": 5,
    "sizes": 3,
    "users": 13,
    "generation_requests": 0,
    "transactions": 0,
}


class FakeSeeder:
    def __init__(self, left_alone: list[str] | None = None) -> None:
        self.calls: list[int | None] = []
        self._left_alone = left_alone or []

    def seed(self, *, history: bool = True, seed: int | None = None) -> SeedOutcome:
        self.calls.append(seed)
        return SeedOutcome(dict(COUNTS), list(self._left_alone))


@pytest.fixture
def logs(monkeypatch: pytest.MonkeyPatch) -> list[Logged]:
    return record_logs(monkeypatch, auth)


def seed_handler(seeder: FakeSeeder, *, enabled: bool, on_emulator: bool = False) -> Any:
    controller = AdminController(
        seeder,  # type: ignore[arg-type]
        OpenAdminGuard() if on_emulator else AdminGuard(ADMIN_KEY),
        seed_enabled=enabled,
    )
    return endpoint(["POST"])(controller.seed)


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_seed_disabled_answers_403_even_with_the_admin_key(logs):
    seeder = FakeSeeder()
    status, body = call(
        seed_handler(seeder, enabled=False), headers=bearer(ADMIN_KEY), json_body={}
    )
    assert status == 403
    assert body["error_type"] == "seed_disabled" and body["error"] == "seed_disabled"
    assert "SEED_ENABLED" in body["message"]
    assert seeder.calls == []
    assert logs == [
        (
            "warn",
            "admin call",
            {
                "outcome": "denied",
                "status": 403,
                "reason": "seed_disabled",
                "function": "seed_database",
                "on_emulator": False,
                "source_ip": "",  # werkzeug test requests carry no address
                "by": "admin_key",  # authorized, then refused
            },
        )
    ]


def test_seed_disabled_also_on_the_emulator():
    seeder = FakeSeeder()
    status, body = call(seed_handler(seeder, enabled=False, on_emulator=True), json_body={})
    assert (status, body["error_type"]) == (403, "seed_disabled")
    assert seeder.calls == []


def test_seed_without_the_key_is_403_admin_only_before_anything_else(logs):
    seeder = FakeSeeder()
    status, body = call(seed_handler(seeder, enabled=False), data="not json")
    assert (status, body["error"]) == (403, "admin_only")
    assert seeder.calls == []
    assert logs[0][2]["reason"] == "admin_only"


def test_enabled_seed_runs_and_logs_its_counts_never_the_key(logs):
    seeder = FakeSeeder()
    status, body = call(
        seed_handler(seeder, enabled=True),
        headers=bearer(ADMIN_KEY) | {"X-Forwarded-For": "203.0.113.7"},
        json_body={"seed": 3},
    )
    assert status == 200 and body["counts"] == COUNTS
    assert seeder.calls == [3]
    assert logs == [
        (
            "info",
            "admin call",
            {
                "outcome": "ok",
                "status": 200,
                "by": "admin_key",
                "counts": COUNTS,
                "function": "seed_database",
                "on_emulator": False,
                "source_ip": "203.0.113.7",
            },
        )
    ]
    assert ADMIN_KEY not in repr(logs)


@pytest.mark.parametrize(
    "forwarded",
    [
        "198.51.100.1, 203.0.113.7",  # a forged entry, then the one Google's front end appended
        "198.51.100.1,10.0.0.2 , 203.0.113.7",
        " 203.0.113.7 ",
    ],
)
def test_the_logged_source_ip_is_the_one_googles_front_end_appended(logs, forwarded):
    """A client can only prepend entries to X-Forwarded-For: the last one is the address the
    front end saw, and no forged entry reaches the audit log."""
    status, _ = call(
        seed_handler(FakeSeeder(), enabled=True),
        headers=bearer(ADMIN_KEY) | {"X-Forwarded-For": forwarded},
    )
    assert status == 200
    ((_, _, fields),) = logs
    assert fields["source_ip"] == "203.0.113.7"
    assert "198.51.100.1" not in repr(logs)


def test_seed_names_the_users_it_left_alone():
    status, body = call(seed_handler(FakeSeeder(["arda"]), enabled=True, on_emulator=True))
    assert status == 200
    assert "left alone" in body["message"] and "arda" in body["message"]


def test_a_wrong_key_is_logged_as_denied_without_the_key(logs):
    status, _ = call(seed_handler(FakeSeeder(), enabled=True), headers=bearer("guess" * 8))
    assert status == 403
    ((level, _, fields),) = logs
    assert (level, fields["outcome"], fields["reason"]) == ("warn", "denied", "admin_only")
    assert "guess" not in repr(logs) and ADMIN_KEY not in repr(logs)


def test_a_short_configured_key_refuses_to_serve(logs):
    controller = AdminController(
        FakeSeeder(),  # type: ignore[arg-type]
        AdminGuard("short-key"),
        seed_enabled=True,
    )
    status, body = call(endpoint(["POST"])(controller.seed), headers=bearer("short-key"))
    assert status == 503
    assert body["error"] == "admin_key_too_short"
    assert "32 characters" in body["message"]
    assert "short-key" not in repr(logs) and "short-key" not in repr(body)


def test_failures_inside_an_admin_call_are_logged_as_failed(logs):
    guard = OpenAdminGuard()

    def handler(request: Request) -> Response:
        with guard.call(request, "getReport"):
            raise NotFoundError(error="report_not_found")
        return json_response({})  # pragma: no cover

    status, _ = call(endpoint(["GET"])(handler), "GET")
    assert status == 404
    ((level, _, fields),) = logs
    assert (level, fields["outcome"], fields["reason"]) == ("warn", "rejected", "report_not_found")
