"""deleteAccount and exportAccountData on the emulators (Auth, Firestore, Storage; the Functions
emulator over HTTP for the main flow), each with a fresh account made by sign-up and
createAccount: in-flight requests cancelled and refunded (the ledger check runs after every
test), keys revoked, the webhook secret and every picture gone, prompts gone, the Auth user
gone; a run stopped halfway finished by a repeat; the export's contents."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
import requests
from firebase_admin import auth
from google.cloud import firestore

import main
from container import Container, firebase_app
from core.clock import SystemClock
from tests.integration.conftest import FUNCTIONS_BASE, balance, request_body
from tests.support.auth_emulator import bearer, sign_in_email, sign_up, verify_email
from tests.support.fakes import ManualClock
from tests.support.http import call

SIZE = "512x512"  # one credit: the welcome credits pay for a few


def new_account() -> tuple[str, str, str]:
    """A verified e-mail account with its users/{uid} and welcome credits: uid, email, token."""
    email = f"del-{uuid.uuid4().hex[:12]}@example.com"
    uid, token = sign_up(email)
    verify_email(token, email)
    token = sign_in_email(email)
    status, body = call(main.createAccount, headers=bearer(token))
    assert status == 201 and body["currentCredits"] == 10, body
    return uid, email, token


def create(uid: str, token: str, **overrides: Any) -> str:
    status, body = call(
        main.createGenerationRequest,
        json_body=request_body(uid, size=SIZE, **overrides),
        headers=bearer(token),
    )
    assert status == 202, body
    return str(body["generationRequestId"])


def complete(request_id: str) -> None:
    """Run the worker for the request, as Cloud Tasks would (its picture goes to Storage)."""
    status, body = call(
        main.processImageGeneration, json_body={"data": {"generationRequestId": request_id}}
    )
    assert status == 200, body


def doc(db: firestore.Client, collection: str, name: str) -> dict[str, Any] | None:
    return db.collection(collection).document(name).get().to_dict()


def picture_exists(container: Container, path: str) -> bool:
    return bool(container.images._bucket.blob(path).exists())  # type: ignore[union-attr]


def auth_user_exists(uid: str) -> bool:
    try:
        auth.get_user(uid, app=firebase_app())
    except auth.UserNotFoundError:
        return False
    return True


class Account:
    """A fresh account with a completed request (its picture in Storage), two in flight (one
    with a webhookUrl), an API key and a webhook secret."""

    def __init__(self, db: firestore.Client, container: Container) -> None:
        self.uid, self.email, self.token = new_account()
        self.done = create(self.uid, self.token, prompt="a private prompt")
        complete(self.done)
        self.queued = create(self.uid, self.token)
        self.hooked = create(self.uid, self.token, webhookUrl="http://127.0.0.1:9/hook")
        status, body = call(main.createApiKey, json_body={"name": "ci"}, headers=bearer(self.token))
        assert status == 201, body
        self.key = str(body["apiKey"])
        status, body = call(main.getWebhookSecret, "GET", headers=bearer(self.token))
        assert status == 200, body
        self.picture = (doc(db, "generation_requests", self.done) or {})["image_path"]
        assert picture_exists(container, self.picture)
        assert balance(db, self.uid) == 7


def delete(token: str) -> tuple[int, Any]:
    return call(main.deleteAccount, headers=bearer(token))


def test_delete_account_removes_everything_but_the_ledger(db, make_container):
    container = make_container()
    a = Account(db, container)
    status, body = delete(a.token)
    assert status == 200, body
    assert body == {
        "success": True,
        "userId": a.uid,
        "deleted": True,
        "cancelledRequests": 2,
        "revokedKeys": 1,
        "deletedPictures": 1,
    }
    # cancelled and refunded through the guarded settle: the balance is whole again but for
    # the completed one; the ledger (checked after the test) keeps every entry, keyed by uid
    for rid in (a.queued, a.hooked):
        assert (doc(db, "generation_requests", rid) or {})["status"] == "cancelled"
    assert balance(db, a.uid) == 9
    entries = db.collection("users").document(a.uid).collection("transactions").stream()
    ledger = [snap.to_dict() or {} for snap in entries]
    assert sorted(e["type"] for e in ledger) == ["deduction"] * 3 + ["refund"] * 2 + ["welcome"]
    for entry in ledger:
        assert entry["user_id"] == a.uid
        assert a.email not in str(entry) and "private" not in str(entry)
    # prompts, picture fields and the webhook URL gone from every request; the picture gone
    for rid in (a.done, a.queued, a.hooked):
        stored = doc(db, "generation_requests", rid) or {}
        assert stored["prompt"] == "" and stored["image_url"] is None
        assert stored["image_path"] is None and stored["webhook_url"] is None
        assert stored["deleted"] is True and stored["deleted_at"] is not None
    assert not picture_exists(container, a.picture)
    hooked = doc(db, "generation_requests", a.hooked) or {}
    assert hooked["webhook"]["state"] == "failed"
    assert hooked["webhook"]["last_error"] == "account_deleted"
    # the profile emptied and marked, the secret and the Auth user gone
    user = doc(db, "users", a.uid) or {}
    assert (user["name"], user["email"], user["is_active"]) == ("", "", False)
    assert user["deleted_at"] is not None and user["deleting_at"] is not None
    assert doc(db, "webhook_secrets", a.uid) is None
    assert not auth_user_exists(a.uid)
    # every user function now answers 401 (the token's user is gone, the key revoked)
    for credential in (a.token, a.key):
        status, body = call(
            main.getUserCredits, "GET", query={"userId": a.uid}, headers=bearer(credential)
        )
        assert status == 401, body
    status, body = call(main.exportAccountData, "GET", headers=bearer(a.token))
    assert status == 401, body


def test_an_old_sign_in_is_refused_and_changes_nothing(db, make_container):
    """The Auth emulator stamps `auth_time` at sign-in: the service's clock is moved instead of
    waiting five minutes."""
    container = make_container()
    a = Account(db, container)
    container.clock = ManualClock(SystemClock().now() + timedelta(minutes=6))
    status, body = delete(a.token)
    assert (status, body["error"]) == (401, "recent_sign_in_required"), body
    assert "sign in again" in body["message"]
    user = doc(db, "users", a.uid) or {}
    assert user["email"] == a.email and "deleting_at" not in user
    assert (doc(db, "generation_requests", a.queued) or {})["status"] == "queued"
    assert picture_exists(container, a.picture) and auth_user_exists(a.uid)


class StorageDown:
    """The emulator's images, with `remove` failing once `allowed` removals were made."""

    def __init__(self, images: Any, allowed: int) -> None:
        self._images = images
        self.allowed = allowed

    def save(self, path: str, png: bytes, token: str) -> str:
        return str(self._images.save(path, png, token))

    def delete(self, path: str) -> None:
        self._images.delete(path)

    def remove(self, path: str) -> bool:
        if self.allowed <= 0:
            raise ConnectionError("storage unreachable")
        self.allowed -= 1
        return bool(self._images.remove(path))


class AuthDown:
    def delete_user(self, user_id: str) -> None:
        raise ConnectionError("auth backend unreachable")


def rebuild(container: Container, **changes: Any) -> None:
    """Give the container new parts; its controller is built again on the next call."""
    for name, value in changes.items():
        setattr(container, name, value)
    container.__dict__.pop("account_data_controller", None)


def test_a_run_stopped_halfway_is_finished_by_a_repeat(db, make_container):
    container = make_container()
    a = Account(db, container)
    real_images = container.images
    # 1. Storage fails after the first picture path: the cancels and key revocations are done,
    #    nothing after the pictures is
    rebuild(container, images=StorageDown(real_images, allowed=1))
    status, body = delete(a.token)
    assert (status, body["error"]) == (503, "deletion_incomplete"), body
    user = doc(db, "users", a.uid) or {}
    assert user["deleting_at"] is not None and "deleted_at" not in user
    assert user["email"] == a.email and doc(db, "webhook_secrets", a.uid) is not None
    assert (doc(db, "generation_requests", a.queued) or {})["status"] == "cancelled"
    assert auth_user_exists(a.uid)
    # the account answers as missing meanwhile, and is never charged again
    status, body = call(
        main.getUserCredits, "GET", query={"userId": a.uid}, headers=bearer(a.token)
    )
    assert (status, body["error"]) == (404, "account_not_found"), body
    status, body = call(
        main.createGenerationRequest,
        json_body=request_body(a.uid, size=SIZE),
        headers=bearer(a.token),
    )
    assert (status, body["error"]) == (404, "account_not_found"), body
    status, body = call(main.exportAccountData, "GET", headers=bearer(a.token))
    assert (status, body["error"]) == (404, "account_not_found"), body
    # 2. the repeat gets past Storage, then Auth fails: everything but the Auth user is done
    rebuild(container, images=real_images, auth_users=AuthDown())
    status, body = delete(a.token)
    assert (status, body["error"]) == (503, "deletion_incomplete"), body
    user = doc(db, "users", a.uid) or {}
    assert user["deleted_at"] is not None and user["email"] == ""
    assert doc(db, "webhook_secrets", a.uid) is None and not picture_exists(container, a.picture)
    assert auth_user_exists(a.uid)
    # 3. a repeat with a fresh sign-in finishes: the Auth user goes last
    rebuild(container, auth_users=None)
    status, body = delete(sign_in_email(a.email))
    assert status == 200, body
    assert (body["cancelledRequests"], body["revokedKeys"]) == (0, 0)
    assert not auth_user_exists(a.uid)
    assert balance(db, a.uid) == 9  # refunded once


def test_export_holds_the_profile_every_request_and_the_whole_ledger(db, make_container):
    container = make_container()
    a = Account(db, container)
    status, body = call(main.exportAccountData, "GET", headers=bearer(a.token))
    assert status == 200, body
    assert body["userId"] == a.uid and body["exportedAt"]
    profile = body["profile"]
    assert (profile["email"], profile["current_credits"]) == (a.email, 7)
    listed = {r["generationRequestId"]: r for r in body["generationRequests"]}
    assert set(listed) == {a.done, a.queued, a.hooked}
    assert listed[a.done]["prompt"] == "a private prompt" and listed[a.done]["imageUrl"]
    assert listed[a.hooked]["webhookUrl"] == "http://127.0.0.1:9/hook"
    assert listed[a.queued]["status"] == "queued" and listed[a.queued]["size"] == SIZE
    types = sorted(t["type"] for t in body["transactions"])
    assert types == ["deduction"] * 3 + ["welcome"]
    key = call(main.exportAccountData, "GET", headers=bearer(a.key))
    assert (key[0], key[1]["error"]) == (403, "id_token_required")
    # the other requests of the database are not in it
    assert all(r["generationRequestId"] in listed for r in body["generationRequests"])
    seeded = db.collection("generation_requests").where(
        filter=firestore.FieldFilter("user_id", "==", "arda")
    )
    assert not {snap.id for snap in seeded.stream()} & set(listed)
    rebuild(container)  # tidy: the in-flight requests are cancelled by the deletion
    assert delete(a.token)[0] == 200


@pytest.mark.parametrize("name", ["deleteAccount", "exportAccountData"])
def test_both_refuse_without_a_token_over_http(db, name):
    answer = requests.post(f"{FUNCTIONS_BASE}/{name}", timeout=60)
    assert (answer.status_code, answer.json()["error"]) == (401, "missing_token")


def test_export_then_delete_over_http(db):
    """Through the Functions emulator, as a client does it."""
    uid, email, token = new_account()
    created = requests.post(
        f"{FUNCTIONS_BASE}/createGenerationRequest",
        json=request_body(uid, size=SIZE),
        headers=bearer(token),
        timeout=60,
    )
    assert created.status_code == 202, created.text
    export = requests.get(f"{FUNCTIONS_BASE}/exportAccountData", headers=bearer(token), timeout=60)
    assert export.status_code == 200, export.text
    assert export.headers["Content-Disposition"].startswith("attachment; filename=")
    assert export.json()["profile"]["email"] == email
    assert len(export.json()["generationRequests"]) == 1
    deleted = requests.post(f"{FUNCTIONS_BASE}/deleteAccount", headers=bearer(token), timeout=60)
    assert deleted.status_code == 200, deleted.text
    assert deleted.json()["deleted"] is True and deleted.json()["userId"] == uid
    assert not auth_user_exists(uid)
    credits = requests.get(
        f"{FUNCTIONS_BASE}/getUserCredits",
        params={"userId": uid},
        headers=bearer(token),
        timeout=60,
    )
    assert credits.status_code == 401, credits.text
