"""grantCredits: the service's once-per-grantId rule (FakeLedger) and the controller's boundary
(validation, audit log, who granted), in process."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from controllers import auth
from controllers.auth import AdminGuard
from controllers.grant_controller import GrantController
from controllers.http import endpoint
from core.errors import GrantConflictError, NotFoundError
from emulator.admin import OpenAdminGuard
from services.grant_service import GrantService
from tests.support.fakes import FakeLedger, Logged, ManualClock, record_logs
from tests.support.http import call

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
ADMIN_KEY = "a-production-admin-key-of-40-characters!"
BODY = {"userId": "arda", "credits": 25, "reason": "Support: export", "grantId": "g-0001-abc"}


@pytest.fixture
def ledger() -> FakeLedger:
    return FakeLedger({"arda": 10, "melis": 0})


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(NOW)


@pytest.fixture
def service(ledger: FakeLedger, clock: ManualClock) -> GrantService:
    return GrantService(ledger, clock)


def grant(service: GrantService, **changes: Any) -> Any:
    terms = {"user_id": "arda", "credits": 25, "reason": "goodwill", "grant_id": "g-0001-abc"}
    return service.grant(**(terms | {"granted_by": "ops"} | changes))


def test_a_grant_books_one_entry_and_moves_the_balance(service, ledger):
    outcome = grant(service)
    assert (outcome.granted, outcome.balance) == (True, 35)
    entry = ledger.entries["arda/grant_g-0001-abc"]
    assert (entry.type, entry.credits, entry.granted_by, entry.reason) == (
        "grant",
        25,
        "ops",
        "goodwill",
    )
    assert entry.description == "Credit grant: goodwill"
    assert entry.timestamp == NOW and entry.generation_request_id is None


def test_a_repeat_with_the_same_terms_credits_nothing_more(service, ledger, clock):
    grant(service)
    clock.advance(timedelta(minutes=5))
    again = grant(service, granted_by="someone-else")  # who retries does not matter
    assert (again.granted, again.balance) == (False, 35)
    assert again.grant.granted_by == "ops" and again.grant.created_at == NOW
    assert ledger.balances["arda"] == 35 and len(ledger.entries) == 1


@pytest.mark.parametrize(
    "changes", [{"credits": 26}, {"reason": "other words"}, {"user_id": "melis"}]
)
def test_the_same_grant_id_with_other_terms_is_a_conflict(service, ledger, changes):
    grant(service)
    with pytest.raises(GrantConflictError) as raised:
        grant(service, **changes)
    assert (raised.value.status, raised.value.error) == (409, "grant_conflict")
    assert "g-0001-abc" in raised.value.message and "new grantId" in raised.value.message
    assert ledger.balances == {"arda": 35, "melis": 0} and len(ledger.entries) == 1


def test_an_unknown_user_is_404_and_claims_nothing(service, ledger):
    with pytest.raises(NotFoundError) as raised:
        grant(service, user_id="nobody")
    assert raised.value.error == "account_not_found" and "nobody" in raised.value.message
    assert ledger.grants == {} and ledger.entries == {}
    assert grant(service).granted  # the grantId is still free


# --- the controller ------------------------------------------------------------------------


@pytest.fixture
def logs(monkeypatch: pytest.MonkeyPatch) -> list[Logged]:
    return record_logs(monkeypatch, auth)


def handler(service: GrantService, guard: AdminGuard) -> Any:
    return endpoint(["POST"])(GrantController(service, guard).grant)


def test_the_answer_and_the_audit_log(service, ledger, logs):
    headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
    status, body = call(handler(service, AdminGuard(ADMIN_KEY)), headers=headers, json_body=BODY)
    assert status == 200
    assert body == {
        "success": True,
        "grantId": "g-0001-abc",
        "userId": "arda",
        "credits": 25,
        "currentCredits": 35,
        "granted": True,
    }
    assert ledger.entries["arda/grant_g-0001-abc"].granted_by == "admin_key"
    ((level, message, fields),) = logs
    assert (level, message, fields["outcome"], fields["function"]) == (
        "info",
        "admin call",
        "ok",
        "grantCredits",
    )
    assert fields["by"] == "admin_key" and fields["counts"] == {"credits": 25}
    assert fields["details"] == {"userId": "arda", "grantId": "g-0001-abc"}
    assert ADMIN_KEY not in repr(logs)

    status, body = call(handler(service, AdminGuard(ADMIN_KEY)), headers=headers, json_body=BODY)
    assert (status, body["granted"], body["currentCredits"]) == (200, False, 35)
    assert logs[-1][2]["counts"] == {"credits": 0}


def test_on_the_open_emulator_the_granter_is_the_emulator(service, ledger):
    status, _ = call(handler(service, OpenAdminGuard()), json_body=BODY)
    assert status == 200
    assert ledger.entries["arda/grant_g-0001-abc"].granted_by == "emulator"


def test_the_reason_is_trimmed(service, ledger):
    status, _ = call(handler(service, OpenAdminGuard()), json_body=BODY | {"reason": "  hi  "})
    assert status == 200 and ledger.entries["arda/grant_g-0001-abc"].reason == "hi"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"userId": ""}, "userId"),
        ({"userId": "a/b"}, "userId"),
        ({"userId": 7}, "userId"),
        ({"credits": 0}, "credits"),
        ({"credits": 1_000_001}, "credits"),
        ({"credits": 2.0}, "credits"),
        ({"credits": True}, "credits"),
        ({"credits": "5"}, "credits"),
        ({"reason": "   "}, "reason"),
        ({"reason": "x" * 201}, "reason"),
        ({"reason": "line\nbreak"}, "reason"),
        ({"grantId": "short"}, "grantId"),
        ({"grantId": "g" * 65}, "grantId"),
        ({"grantId": "has space1"}, "grantId"),
        ({"grantId": "grant/0001"}, "grantId"),
        ({"extra": 1}, "extra"),
    ],
)
def test_bad_bodies_are_400_and_change_nothing(service, ledger, changes, field):
    status, body = call(handler(service, OpenAdminGuard()), json_body=BODY | changes)
    assert status == 400, body
    assert body["error_type"] == "validation"
    assert field in {d["field"] for d in body["details"]}
    assert ledger.entries == {} and ledger.grants == {}


@pytest.mark.parametrize("missing", sorted(BODY))
def test_every_field_is_required(service, ledger, missing):
    body = {k: v for k, v in BODY.items() if k != missing}
    status, answer = call(handler(service, OpenAdminGuard()), json_body=body)
    assert status == 400 and missing in {d["field"] for d in answer["details"]}
    assert ledger.entries == {}


def test_without_admin_credentials_it_is_403_before_the_body_is_read(service, ledger, logs):
    status, body = call(handler(service, AdminGuard(ADMIN_KEY)), data="not json")
    assert (status, body["error"]) == (403, "admin_only")
    assert ledger.entries == {} and logs[0][2]["outcome"] == "denied"


def test_a_refused_grant_is_in_the_audit_log_with_what_it_asked_for(service, logs):
    status, _ = call(handler(service, OpenAdminGuard()), json_body=BODY | {"userId": "nobody"})
    assert status == 404
    ((level, _, fields),) = logs
    assert (level, fields["outcome"], fields["reason"], fields["by"]) == (
        "warn",
        "rejected",
        "account_not_found",
        "emulator",
    )
    assert fields["details"] == {"userId": "nobody", "grantId": "g-0001-abc"}
