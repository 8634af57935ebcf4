"""grantCredits on the Firestore emulator: once per grantId (also under races), a conflicting
repeat 409, an unknown user 404, bad bodies 400 — each changing nothing."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

import main
from tests.integration.conftest import add_user, balance, transactions
from tests.support.http import call

BODY = {
    "userId": "arda",
    "credits": 40,
    "reason": "Goodwill after an outage",
    "grantId": "ops-0001",
}


def grant(body: dict[str, Any] | None = None, **changes: Any) -> tuple[int, Any]:
    return call(main.grantCredits, json_body=(body or BODY) | changes)


def grants_stored(db) -> dict[str, dict[str, Any]]:
    return {snap.id: snap.to_dict() or {} for snap in db.collection("grants").stream()}


def test_a_grant_is_booked_once_by_its_grant_id(db, make_container):
    make_container()
    before = balance(db, "arda")
    status, body = grant()
    assert status == 200, body
    assert body == {
        "success": True,
        "grantId": "ops-0001",
        "userId": "arda",
        "credits": 40,
        "currentCredits": before + 40,
        "granted": True,
    }
    status, again = grant()
    assert (status, again) == (200, body | {"granted": False})
    assert balance(db, "arda") == before + 40
    (entry,) = [t for t in transactions(db, "arda") if t["type"] == "grant"]
    assert entry["credits"] == 40 and entry["granted_by"] == "emulator"
    assert entry["reason"] == "Goodwill after an outage"
    assert entry["description"] == "Credit grant: Goodwill after an outage"
    assert "generation_request_id" not in entry or entry["generation_request_id"] is None
    assert set(grants_stored(db)) == {"ops-0001"}


def test_the_history_shows_the_grant_to_original_clients(db, make_container):
    make_container()
    assert grant()[0] == 200
    status, body = call(main.getUserCredits, "GET", query={"userId": "arda"})
    assert status == 200
    (shown,) = [t for t in body["transactions"] if t["id"] == "grant_ops-0001"]
    assert shown["type"] == "grant" and shown["credits"] == 40
    assert shown["description"] == "Credit grant: Goodwill after an outage"


@pytest.mark.parametrize(
    "changes", [{"credits": 41}, {"reason": "Something else"}, {"userId": "havanur"}]
)
def test_the_same_grant_id_with_another_body_is_409_and_changes_nothing(
    db, make_container, changes
):
    make_container()
    assert grant()[0] == 200
    credits = {uid: balance(db, uid) for uid in ("arda", "havanur")}
    status, body = grant(**changes)
    assert (status, body["error_type"], body["error"]) == (409, "conflict", "grant_conflict"), body
    assert "ops-0001" in body["message"]
    assert {uid: balance(db, uid) for uid in ("arda", "havanur")} == credits
    assert [t for t in transactions(db, "havanur") if t["type"] == "grant"] == []


def test_an_unknown_user_is_404_and_leaves_no_trace(db, make_container):
    make_container()
    status, body = grant(userId="nobody_here")
    assert (status, body["error"]) == (404, "account_not_found"), body
    assert "nobody_here" in body["message"]
    assert grants_stored(db) == {}
    assert not db.collection("users").document("nobody_here").get().exists
    assert grant()[0] == 200  # the grantId was not used up


def test_ten_concurrent_identical_grants_credit_once(db, make_container, host_lock):
    make_container()
    before = balance(db, "arda")
    with ThreadPoolExecutor(10) as pool:
        answers = list(pool.map(lambda _: grant(), range(10)))
    assert [status for status, _ in answers] == [200] * 10, answers
    assert sum(body["granted"] for _, body in answers) == 1
    assert {body["currentCredits"] for _, body in answers} == {before + 40}
    assert balance(db, "arda") == before + 40
    assert len([t for t in transactions(db, "arda") if t["type"] == "grant"]) == 1


def test_ten_concurrent_grants_of_one_grant_id_to_different_users_credit_one(
    db, make_container, host_lock
):
    make_container()
    users = [f"grantee_{n}" for n in range(10)]
    for uid in users:
        add_user(db, uid, 0)
    with ThreadPoolExecutor(10) as pool:
        answers = list(pool.map(lambda uid: grant(userId=uid), users))
    assert sorted(status for status, _ in answers) == [200] + [409] * 9, answers
    assert sum(balance(db, uid) for uid in users) == 40
    (winner,) = [body["userId"] for status, body in answers if status == 200]
    assert grants_stored(db)["ops-0001"]["user_id"] == winner


@pytest.mark.parametrize(
    "changes",
    [
        {"userId": ""},
        {"credits": 0},
        {"credits": 1_000_001},
        {"credits": 1.5},
        {"credits": True},
        {"reason": " "},
        {"reason": "r" * 201},
        {"grantId": "short"},
        {"grantId": "no/slash-1"},
        {"unexpected": "field"},
    ],
)
def test_bad_bodies_are_400_and_change_nothing(db, make_container, changes):
    make_container()
    before = balance(db, "arda")
    status, body = grant(**changes)
    assert (status, body["error_type"]) == (400, "validation"), body
    assert balance(db, "arda") == before and grants_stored(db) == {}


def test_only_json_posts_are_served(db, make_container):
    make_container()
    status, body = call(main.grantCredits, data="userId=arda&credits=5", content_type="text/plain")
    assert (status, body["error"]) == (415, "unsupported_media_type"), body
    status, body = call(main.grantCredits, "GET")
    assert status == 405, body
    assert grants_stored(db) == {}
