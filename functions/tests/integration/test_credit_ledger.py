"""Booking credits from outside the money path: once per entry id under races, never below zero."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest

from core.errors import NotFoundError
from schemas.documents import TransactionRecord
from schemas.ledger import grant_id, purchase_id


def _entry(user_id: str, kind: str, entry_id: str, credits: int) -> TransactionRecord:
    return TransactionRecord.model_validate(
        {
            "id": entry_id,
            "type": kind,
            "credits": credits,
            "user_id": user_id,
            "timestamp": datetime.now(UTC),
            "description": f"{kind} in a test",
        }
    )


def _balance(db, user_id: str) -> int:
    return int(db.collection("users").document(user_id).get().get("current_credits"))


def test_ten_concurrent_bookings_of_one_entry_credit_once(db, make_container, host_lock):
    ledger = make_container().credits
    before = _balance(db, "havanur")
    entry = _entry("havanur", "grant", grant_id("race-0001"), 25)
    with ThreadPoolExecutor(10) as pool:
        results = list(pool.map(lambda _: ledger.book(entry), range(10)))
    assert sum(r.created for r in results) == 1
    assert _balance(db, "havanur") == before + 25
    stored = db.collection("users").document("havanur").collection("transactions")
    assert stored.document(grant_id("race-0001")).get().get("credits") == 25


def test_a_take_back_stops_at_zero_and_records_the_shortfall(db, make_container):
    ledger = make_container().credits
    before = _balance(db, "havanur")
    ledger.book(_entry("havanur", "purchase", purchase_id("cs_test_1"), 50))
    ledger.book(_entry("havanur", "purchase_refund", "purchase_refund_cs_test_1_all", 200))
    booked = ledger.book(_entry("havanur", "purchase_refund", "purchase_refund_cs_test_1_all", 1))
    assert not booked.created
    assert booked.entry.credits == before + 50
    assert booked.entry.shortfall == 200 - (before + 50)
    assert _balance(db, "havanur") == 0


def test_booking_for_a_user_without_an_account_changes_nothing(db, make_container):
    with pytest.raises(NotFoundError) as refused:
        make_container().credits.book(_entry("nobody_here", "grant", grant_id("nobody-01"), 5))
    assert refused.value.error == "account_not_found"
    assert not db.collection("users").document("nobody_here").get().exists
