"""Seeding replaces only the documents it owns, and only where SEED_ENABLED is true."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from google.cloud import firestore

import main
from schemas.documents import TransactionRecord
from services.seeding import reference_data
from tests.integration.conftest import add_user, balance, request_body, transactions
from tests.support.http import call


def snapshot(db: firestore.Client) -> dict[str, dict[str, Any]]:
    """Every document of the database, by path (subcollections of users included)."""
    documents: dict[str, dict[str, Any]] = {}
    for collection in db.collections():
        for snap in collection.stream():
            documents[snap.reference.path] = snap.to_dict() or {}
            for sub in snap.reference.collections():
                for child in sub.stream():
                    documents[child.reference.path] = child.to_dict() or {}
    return documents


def of_user(documents: dict[str, dict[str, Any]], user_id: str) -> dict[str, dict[str, Any]]:
    return {
        path: data
        for path, data in documents.items()
        if path.startswith(f"users/{user_id}") or data.get("user_id") == user_id
    }


def seeded_request_ids(db: firestore.Client) -> set[str]:
    query = db.collection("generation_requests").where(
        filter=firestore.FieldFilter("seeded", "==", True)
    )
    return {snap.id for snap in query.stream()}


def reseed(**body: Any) -> dict[str, Any]:
    status, answer = call(main.seed_database, json_body=body)
    assert status == 200, answer
    return answer


def test_a_real_user_and_everything_it_did_survive_a_reseed(db, make_container):
    make_container()
    add_user(db, "zoe", 20)
    status, created = call(
        main.createGenerationRequest,
        json_body=request_body("zoe", size="512x512"),
        headers={"Idempotency-Key": "zoe-1"},
    )
    assert status == 202, created
    idempotency_before = {s.id: s.to_dict() for s in db.collection("idempotency_keys").stream()}
    assert idempotency_before
    before = of_user(snapshot(db), "zoe")
    assert f"generation_requests/{created['generationRequestId']}" in before

    answer = reseed(seed=3)

    assert of_user(snapshot(db), "zoe") == before
    assert {s.id: s.to_dict() for s in db.collection("idempotency_keys").stream()} == (
        idempotency_before
    )
    assert balance(db, "zoe") == 19
    assert answer["counts"]["users"] == len(reference_data.USERS)
    assert answer["counts"]["generation_requests"] == len(seeded_request_ids(db)) > 0


def test_a_seed_users_own_requests_stay_and_its_ledger_stays_consistent(db, make_container):
    make_container()
    status, created = call(main.createGenerationRequest, json_body=request_body("arda"))
    assert status == 202, created
    own = f"deduction_{created['generationRequestId']}"

    reseed(seed=3)

    assert balance(db, "arda") == reference_data.USERS["arda"][1]  # back to its seed balance
    assert own in {snap.id for snap in _transactions(db, "arda")}
    request = db.collection("generation_requests").document(created["generationRequestId"]).get()
    assert request.exists and "seeded" not in (request.to_dict() or {})
    # The autouse fixture then checks initial - deductions + refunds == current for everyone.


def test_a_seed_users_money_in_entries_stay_and_its_ledger_stays_consistent(db, make_container):
    """Grants, purchases and take-backs are the seed user's own: they stay, and its opening
    balance absorbs each by its sign (a take-back is credits out, like a deduction)."""
    container = make_container()
    body = {"userId": "havanur", "credits": 30, "reason": "kept", "grantId": "seed-kept-01"}
    assert call(main.grantCredits, json_body=body)[0] == 200
    at = datetime.now(UTC)
    for kind, entry_id, credits in [
        ("purchase", "purchase_cs_seed_1", 50),
        ("purchase_refund", "purchase_refund_cs_seed_1_all", 20),
    ]:
        container.credits.book(
            TransactionRecord(
                id=entry_id, type=kind, credits=credits, user_id="havanur", timestamp=at
            )
        )

    reseed(seed=3)

    assert balance(db, "havanur") == reference_data.USERS["havanur"][1]
    kept = {snap.id for snap in _transactions(db, "havanur")}
    assert {"grant_seed-kept-01", "purchase_cs_seed_1", "purchase_refund_cs_seed_1_all"} <= kept
    # The autouse fixture then checks initial + credits in - credits out == current.


def test_a_user_the_seeder_does_not_own_is_left_alone(db, make_container):
    make_container()
    add_user(db, "havanur", 77)  # a real account that happens to have a seed user's id
    before = of_user(snapshot(db), "havanur")

    answer = reseed()

    assert of_user(snapshot(db), "havanur") == before
    assert "havanur" in answer["message"]
    assert answer["counts"]["users"] == len(reference_data.USERS) - 1


def test_a_reseed_replaces_earlier_seeded_history_instead_of_adding_to_it(db, make_container):
    make_container()
    first = reseed(seed=3)["counts"]
    first_ids = seeded_request_ids(db)
    second = reseed(seed=4)["counts"]
    second_ids = seeded_request_ids(db)
    assert len(first_ids) == first["generation_requests"]
    assert len(second_ids) == second["generation_requests"]
    assert not first_ids & second_ids
    seeded_txs = sum(
        1
        for user_id in reference_data.USERS
        for tx in transactions(db, user_id)
        if tx.get("seeded")
    )
    assert seeded_txs == second["transactions"]


def test_reference_entries_added_by_hand_are_kept(db, make_container):
    make_container()
    db.collection("styles").document("pixel_art").set(
        {"display_name": "Pixel Art", "is_active": True, "sort_order": 9}
    )
    db.collection("styles").document("anime").set(
        {"display_name": "Anime (edited by hand)", "is_active": True, "sort_order": 1}
    )
    answer = reseed()
    assert db.collection("styles").document("pixel_art").get().exists
    assert db.collection("styles").document("anime").get().get("display_name") == (
        "Anime (edited by hand)"
    )
    assert answer["counts"]["styles"] == len(reference_data.STYLES) - 1


def test_seed_disabled_answers_403_and_changes_nothing(db, make_container):
    make_container(seed_enabled=False)
    add_user(db, "zoe", 20)
    before = snapshot(db)
    status, body = call(main.seed_database, json_body={})
    assert status == 403
    assert body["error_type"] == "seed_disabled"
    assert snapshot(db) == before


def test_seed_disabled_with_the_admin_key_in_production(db, make_container):
    key = "p" * 40
    make_container(seed_enabled=False, on_emulator=False, admin_api_key=key)
    before = snapshot(db)
    status, body = call(
        main.seed_database, json_body={}, headers={"Authorization": f"Bearer {key}"}
    )
    assert (status, body["error_type"]) == (403, "seed_disabled")
    assert snapshot(db) == before


def _transactions(db: firestore.Client, user_id: str) -> list[firestore.DocumentSnapshot]:
    return list(db.collection("users").document(user_id).collection("transactions").stream())
