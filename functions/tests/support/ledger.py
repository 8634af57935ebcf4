"""The ledger invariant, checked against the real Firestore.

For every user: current_credits == initial_credits + credits in (grants, welcome, purchases)
- purchase take-backs - deductions + refunds, never negative; at most one welcome entry
(`welcome_<uid>`), money-in entries named by what makes them unique; exactly one deduction per
request, a refund if and only if the request failed or was cancelled; the `in_flight` counter
equals the number of the user's requests queued or processing, and `pending_webhooks` the
number of its requests with a webhookUrl whose event is not delivered, stopped or given up yet
(quarantined requests have none coming).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from google.cloud import firestore

from schemas.documents import CREDITS_IN, CREDITS_OUT, IN_FLIGHT
from schemas.store import QUARANTINED

REFUNDED = ("failed", "cancelled")
# Entries from outside the money path, and the prefix their ids carry.
MONEY_IN = {"grant": "grant_", "welcome": "welcome_", "purchase": "purchase_"}


def ledger_violations(db: firestore.Client) -> list[str]:
    """Every way the stored data breaks the invariant (empty when it holds).

    Also the fair-use counter: each user's `in_flight` equals its requests queued or processing.
    """
    problems: list[str] = []
    requests = {
        snap.id: snap.to_dict() or {} for snap in db.collection("generation_requests").stream()
    }
    # keyed by what the documents hold (a broken one may lack its id)
    deductions: Counter[Any] = Counter()
    refunds: Counter[Any] = Counter()
    in_flight: Counter[Any] = Counter(
        r.get("user_id") for r in requests.values() if r.get("status") in IN_FLIGHT
    )
    pending_webhooks: Counter[Any] = Counter(
        r.get("user_id") for r in requests.values() if _webhook_pending(r)
    )
    users = {user.id for user in db.collection("users").select([]).stream()}
    for user in db.collection("users").stream():
        data = user.to_dict() or {}
        moved = 0
        for tx in user.reference.collection("transactions").stream():
            t = tx.to_dict() or {}
            kind = t.get("type")
            credits = int(t.get("credits", 0))
            # A take-back that found an empty balance books 0 credits and its shortfall.
            empty_take_back = kind == "purchase_refund" and credits == 0 and t.get("shortfall")
            if credits <= 0 and not empty_take_back:
                problems.append(f"{user.id}: transaction {tx.id} has credits {credits}")
            request_id = t.get("generation_request_id")
            if kind in MONEY_IN and not tx.id.startswith(MONEY_IN[kind]):
                problems.append(f"{user.id}: {kind} entry {tx.id} lacks its {MONEY_IN[kind]} id")
            if kind == "welcome" and tx.id != f"welcome_{user.id}":
                problems.append(f"{user.id}: welcome entry {tx.id} is not welcome_{user.id}")
            if kind == "deduction":
                deductions[request_id] += 1
            elif kind == "refund":
                refunds[request_id] += 1
            if kind in CREDITS_IN:
                moved += credits
            elif kind in CREDITS_OUT:
                moved -= credits
            else:
                problems.append(f"{user.id}: transaction {tx.id} has type {kind!r}")
        current = int(data.get("current_credits", 0))
        expected = int(data.get("initial_credits", 0)) + moved
        if current != expected:
            problems.append(
                f"{user.id}: balance {current} != initial + credits in - credits out = {expected}"
            )
        if current < 0:
            problems.append(f"{user.id}: negative balance {current}")
        if int(data.get("in_flight", 0)) != in_flight[user.id]:
            problems.append(
                f"{user.id}: in_flight {data.get('in_flight', 0)} != {in_flight[user.id]} "
                "requests queued or processing"
            )
        if int(data.get("pending_webhooks", 0)) != pending_webhooks[user.id]:
            problems.append(
                f"{user.id}: pending_webhooks {data.get('pending_webhooks', 0)} != "
                f"{pending_webhooks[user.id]} requests whose webhook event is not delivered"
            )
    for request_id in set(deductions) | set(refunds) | set(requests):
        request = requests.get(request_id, {})
        status = request.get("status")
        if request and request.get("user_id") not in users:
            # The owner is gone (and its ledger with it): the request must not wait for a
            # settle that can never refund anyone, and nobody may be refunded for it.
            if status in IN_FLIGHT or refunds[request_id]:
                problems.append(f"request {request_id} of a missing owner: {status}, refunded")
            continue
        if deductions[request_id] != 1:
            problems.append(f"request {request_id}: {deductions[request_id]} deductions")
        if refunds[request_id] != (1 if status in REFUNDED else 0):
            problems.append(f"request {request_id}: {status} with {refunds[request_id]} refunds")
    return problems


def _webhook_pending(request: dict[str, Any]) -> bool:
    if request.get("webhook_url") is None or request.get("status") == QUARANTINED:
        return False
    webhook = request.get("webhook")
    return not isinstance(webhook, dict) or webhook.get("state") == "pending"


def assert_ledger_consistent(db: firestore.Client) -> None:
    problems = ledger_violations(db)
    assert not problems, "ledger invariant violated:\n" + "\n".join(problems)
