"""deleteAccount and exportAccountData without a database: the service's steps over fakes, a
run stopped halfway finished by a repeat, the recent sign-in rule and the controller's answers."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from controllers.account_data_controller import AccountDataController
from controllers.auth import TokenRejected, UserAuthorizer
from controllers.http import endpoint
from core.errors import DeletionIncompleteError, NotFoundError, UnauthenticatedError
from schemas.documents import (
    ApiKeyRecord,
    GenerationRecord,
    GenerationStatus,
    TransactionRecord,
    UserRecord,
)
from services.account_data import AccountDataService, picture_path
from services.accounts import AccountService, SignedInUser
from tests.support.fakes import (
    FakeAccountData,
    FakeAccountStore,
    FakeApiKeys,
    FakeAuthUsers,
    FakeDeliveries,
    FakeGenerations,
    FakeImages,
    FakeQueue,
    ManualClock,
)
from tests.support.http import _APP, make_request

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
SIGNED_IN = NOW.timestamp() - 60  # a minute ago


def request(rid: str, status: GenerationStatus, uid: str = "u1", **fields: Any) -> GenerationRecord:
    values: dict[str, Any] = {
        "id": rid,
        "user_id": uid,
        "model": "Model A",
        "style": "realistic",
        "color": "vibrant",
        "size": "1024x1024",
        "prompt": "my secret prompt",
        "status": status,
        "credits_deducted": 1,
        "created_at": NOW,
        "updated_at": NOW,
    }
    return GenerationRecord(**(values | fields))


def key(n: int, uid: str = "u1", revoked: bool = False) -> ApiKeyRecord:
    return ApiKeyRecord(
        id=f"hash{n}",
        key_id=f"k{n}",
        user_id=uid,
        name="k",
        prefix="fsk_x",
        created_at=NOW,
        revoked_at=NOW if revoked else None,
    )


class World:
    """The service over fakes holding user u1 (with requests, keys, a secret, pictures) and
    another user u2 that must stay untouched."""

    def __init__(self) -> None:
        done = request("done", GenerationStatus.COMPLETED, image_path="generated/u1/done.png")
        self.generations = FakeGenerations(
            request("queued", GenerationStatus.QUEUED),
            request("running", GenerationStatus.PROCESSING, webhook_url="https://h.test/x"),
            done.model_copy(update={"image_url": "https://storage.test/done.png"}),
            request("failed", GenerationStatus.FAILED),
            request("theirs", GenerationStatus.QUEUED, uid="u2"),
            users={"u1": 5, "u2": 5},
        )
        self.store = FakeAccountData(
            self.generations,
            UserRecord(id="u1", name="Ada", email="ada@example.com", current_credits=5),
            UserRecord(id="u2", name="Bob", email="bob@example.com"),
        )
        self.store.secrets = {"u1", "u2"}
        self.keys = FakeApiKeys()
        for record in (key(1), key(2), key(3, revoked=True), key(4, uid="u2")):
            self.keys.records[record.id] = record
        self.images = FakeImages()
        self.images.saved = [
            ("generated/u1/done.png", b"png", "t"),
            ("generated/u1/running.png", b"png", "t"),  # uploaded before the cancel won
            ("generated/u2/theirs.png", b"png", "t"),
        ]
        self.queue = FakeQueue()
        self.auth = FakeAuthUsers("u1", "u2")
        self.clock = ManualClock(NOW)
        self.service = AccountDataService(
            self.store,
            self.generations,
            self.queue,
            self.keys,
            FakeDeliveries(self.generations),
            lambda: self.images,
            self.auth,
            self.clock,
        )


def test_delete_runs_every_step_for_the_caller_only():
    w = World()
    result = w.service.delete("u1", SIGNED_IN)
    assert (result.cancelled_requests, result.revoked_keys, result.deleted_pictures) == (2, 2, 2)
    records = w.generations.records
    # in flight: cancelled and refunded through the guarded settle, the tasks unscheduled
    assert records["queued"].status is GenerationStatus.CANCELLED
    assert records["running"].status is GenerationStatus.CANCELLED
    assert w.generations.users == {"u1": 7, "u2": 5}
    assert sorted(w.queue.cancelled) == ["queued", "running"]
    # the pending webhook event is stopped, not delivered
    assert records["running"].webhook is not None
    assert records["running"].webhook.state == "failed"
    assert records["running"].webhook.last_error == "account_deleted"
    # every request of u1 scrubbed, pictures gone; u2 untouched
    for rid in ("queued", "running", "done", "failed"):
        assert records[rid].prompt == "" and records[rid].image_url is None
        assert records[rid].webhook_url is None
    assert records["theirs"].prompt == "my secret prompt"
    assert records["theirs"].status is GenerationStatus.QUEUED
    assert "generated/u1/done.png" in w.images.deleted
    assert "generated/u2/theirs.png" not in w.images.deleted
    # keys, secret, profile, Auth user
    assert all(not k.active for k in w.keys.records.values() if k.user_id == "u1")
    assert w.keys.records["hash4"].active
    assert w.store.secrets == {"u2"}
    user = w.store.users["u1"]
    assert (user.name, user.email, user.is_active) == ("", "", False)
    assert user.deleted_at == NOW and user.deleting_at == NOW and user.current_credits == 5
    assert w.auth.uids == {"u2"}
    assert w.store.calls[0] == "begin" and w.store.calls[-2:] == ["secret", "finish"]


def test_a_repeat_answers_zero_counts_and_changes_nothing():
    w = World()
    w.service.delete("u1", SIGNED_IN)
    w.clock.advance(timedelta(seconds=30))
    again = w.service.delete("u1", SIGNED_IN + 30)
    assert (again.cancelled_requests, again.revoked_keys, again.deleted_pictures) == (0, 0, 0)
    assert w.store.users["u1"].deleted_at == NOW  # the first run's
    assert w.generations.users["u1"] == 7  # refunded once


def test_a_run_stopped_before_the_auth_user_is_deleted_is_finished_by_a_repeat():
    w = World()
    w.auth.fail = True
    with pytest.raises(DeletionIncompleteError):
        w.service.delete("u1", SIGNED_IN)
    assert "u1" in w.auth.uids and w.store.users["u1"].deleted_at == NOW
    w.auth.fail = False
    w.service.delete("u1", SIGNED_IN)
    assert w.auth.uids == {"u2"}


def test_a_run_stopped_in_the_middle_of_the_pictures_is_finished_by_a_repeat():
    """Storage fails after the first request: nothing after it ran (no finish, no Auth
    deletion); the repeat skips what was scrubbed and finishes the rest."""
    w = World()
    real_remove = w.images.remove
    removed: list[str] = []

    def remove_once(path: str) -> bool:
        if removed:
            raise ConnectionError("storage unreachable")
        removed.append(path)
        return real_remove(path)

    w.images.remove = remove_once  # type: ignore[method-assign]
    with pytest.raises(DeletionIncompleteError) as stopped:
        w.service.delete("u1", SIGNED_IN)
    assert (stopped.value.status, stopped.value.error) == (503, "deletion_incomplete")
    assert "call deleteAccount again" in stopped.value.message
    assert w.store.users["u1"].deleted_at is None and w.store.users["u1"].deleting_at == NOW
    assert "u1" in w.auth.uids and "u1" in w.store.secrets
    assert w.generations.records["queued"].status is GenerationStatus.CANCELLED
    w.images.remove = real_remove  # type: ignore[method-assign]
    result = w.service.delete("u1", SIGNED_IN)
    assert result.cancelled_requests == 0 and result.revoked_keys == 0
    assert all(r.prompt == "" for r in w.generations.records.values() if r.user_id == "u1"), (
        "every request scrubbed after the repeat"
    )
    assert "generated/u1/done.png" in w.images.deleted
    assert w.auth.uids == {"u2"} and w.store.secrets == {"u2"}
    assert w.generations.users["u1"] == 7


@pytest.mark.parametrize(
    "auth_time",
    [NOW.timestamp() - 301, None, "1700000000", True, float("inf"), 10**20],
)
def test_an_old_or_missing_sign_in_is_refused_before_anything_changes(auth_time):
    w = World()
    with pytest.raises(UnauthenticatedError) as refused:
        w.service.delete("u1", auth_time)
    assert refused.value.error == "recent_sign_in_required"
    assert "sign in again" in refused.value.message
    assert w.store.calls == [] and w.auth.uids == {"u1", "u2"}


def test_a_sign_in_exactly_five_minutes_old_is_still_recent():
    w = World()
    w.service.delete("u1", NOW.timestamp() - 300)
    assert w.auth.uids == {"u2"}


def test_the_clock_decides_what_recent_means():
    w = World()
    w.clock.advance(timedelta(minutes=10))
    with pytest.raises(UnauthenticatedError):
        w.service.delete("u1", SIGNED_IN)


def test_without_an_account_delete_is_account_not_found():
    w = World()
    with pytest.raises(NotFoundError) as missing:
        w.service.delete("ghost", SIGNED_IN)
    assert missing.value.error == "account_not_found"


def test_export_holds_profile_requests_and_ledger_and_a_deleted_account_has_none():
    w = World()
    entry = TransactionRecord(
        id="welcome_u1", type="welcome", credits=5, user_id="u1", timestamp=NOW
    )
    w.store.ledgers["u1"] = [entry]
    export = w.service.export("u1")
    assert export.user.email == "ada@example.com" and export.exported_at == NOW
    assert {s.id for s in export.requests} == {"queued", "running", "done", "failed"}
    assert export.ledger == [entry]
    w.service.delete("u1", SIGNED_IN)
    with pytest.raises(NotFoundError) as missing:
        w.service.export("u1")
    assert missing.value.error == "account_not_found"


def test_create_account_after_deletion_is_account_not_found():
    deleted = UserRecord(id="u1", deleted_at=NOW, is_active=False)
    accounts = AccountService(FakeAccountStore([deleted]), ManualClock(NOW), welcome_credits=10)
    with pytest.raises(NotFoundError) as missing:
        accounts.open(SignedInUser("u1", "a@example.com", "", True))
    assert missing.value.error == "account_not_found"


def test_picture_path_is_where_the_worker_stores_it():
    from services.image_paths import image_path

    assert picture_path("u1", "r1") == image_path(request("r1", GenerationStatus.QUEUED))


# --- the controller ----------------------------------------------------------------------------
TOKENS = {
    "token-fresh": {"uid": "u1", "auth_time": int(SIGNED_IN)},
    "token-old": {"uid": "u1", "auth_time": int(NOW.timestamp()) - 3600},
}


def verify(token: str) -> dict[str, Any]:
    if token not in TOKENS:
        raise TokenRejected("InvalidIdTokenError")
    return TOKENS[token]


def answer(
    handler: Any, method: str = "POST", **kwargs: Any
) -> tuple[int, dict[str, Any], dict[str, str]]:
    with _APP.app_context():
        response = endpoint(["GET", "POST"])(handler)(make_request(method, **kwargs))
    return response.status_code, json.loads(response.get_data()), dict(response.headers)


def controller(w: World, required: bool = False) -> AccountDataController:
    return AccountDataController(w.service, UserAuthorizer(required, verify))


def test_delete_account_answers_the_counts():
    w = World()
    status, body, headers = answer(
        controller(w).delete_account, headers={"Authorization": "Bearer token-fresh"}
    )
    assert status == 200
    assert body == {
        "success": True,
        "userId": "u1",
        "deleted": True,
        "cancelledRequests": 2,
        "revokedKeys": 2,
        "deletedPictures": 2,
    }
    assert headers["Cache-Control"] == "no-store"


def test_delete_account_with_an_old_token_is_401_recent_sign_in_required():
    w = World()
    status, body, _ = answer(
        controller(w).delete_account, headers={"Authorization": "Bearer token-old"}
    )
    assert (status, body["error"]) == (401, "recent_sign_in_required")
    assert "sign in again" in body["message"] and body["maxSignInAgeSeconds"] == 300
    assert w.auth.uids == {"u1", "u2"}


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        (None, (401, "missing_token")),
        ({"Authorization": "Bearer not-a-token"}, (401, "invalid_token")),
        ({"Authorization": "Bearer fsk_" + "a" * 36}, (403, "id_token_required")),
    ],
)
@pytest.mark.parametrize("required", [False, True])
@pytest.mark.parametrize("name", ["delete_account", "export_account_data"])
def test_both_need_an_id_token_in_every_mode(headers, expected, required, name):
    w = World()
    status, body, _ = answer(getattr(controller(w, required), name), headers=headers)
    assert (status, body["error"]) == expected, body
    assert w.store.calls == [] and w.auth.uids == {"u1", "u2"}


def test_a_bad_body_is_refused_before_anything_is_deleted():
    w = World()
    status, _, _ = answer(
        controller(w).delete_account,
        headers={"Authorization": "Bearer token-fresh"},
        data="{not json",
        content_type="application/json",
    )
    assert status == 400 and w.store.calls == []


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_export_is_an_attachment_with_everything(method):
    w = World()
    status, body, headers = answer(
        controller(w).export_account_data, method, headers={"Authorization": "Bearer token-fresh"}
    )
    assert status == 200
    assert headers["Content-Disposition"] == 'attachment; filename="feraset-account-u1.json"'
    assert headers["Cache-Control"] == "no-store"
    assert body["userId"] == "u1" and body["profile"]["email"] == "ada@example.com"
    listed = {r["generationRequestId"]: r for r in body["generationRequests"]}
    assert set(listed) == {"queued", "running", "done", "failed"}
    assert listed["running"]["webhookUrl"] == "https://h.test/x"
    assert listed["done"]["prompt"] == "my secret prompt"
    assert body["transactions"] == []
