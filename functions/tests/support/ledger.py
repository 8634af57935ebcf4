"""The ledger invariant of SPEC section 3, checked against the real Firestore."""

from __future__ import annotations

from collections import Counter

from google.cloud import firestore


def ledger_violations(db: firestore.Client) -> list[str]:
    """Every way the stored data breaks the invariant (empty when it holds)."""
    problems: list[str] = []
    requests = {
        snap.id: snap.to_dict() or {} for snap in db.collection("generation_requests").stream()
    }
    deductions: Counter[str] = Counter()
    refunds: Counter[str] = Counter()
    for user in db.collection("users").stream():
        data = user.to_dict() or {}
        deducted = refunded = 0
        for tx in user.reference.collection("transactions").stream():
            t = tx.to_dict() or {}
            credits = int(t.get("credits", 0))
            if credits <= 0:
                problems.append(f"{user.id}: transaction {tx.id} has credits {credits}")
            request_id = t.get("generation_request_id")
            if t.get("type") == "deduction":
                deducted += credits
                deductions[request_id] += 1
            elif t.get("type") == "refund":
                refunded += credits
                refunds[request_id] += 1
            else:
                problems.append(f"{user.id}: transaction {tx.id} has type {t.get('type')!r}")
        current = int(data.get("current_credits", 0))
        expected = int(data.get("initial_credits", 0)) - deducted + refunded
        if current != expected:
            problems.append(
                f"{user.id}: balance {current} != initial - deductions + refunds = {expected}"
            )
        if current < 0:
            problems.append(f"{user.id}: negative balance {current}")
    for request_id in set(deductions) | set(refunds) | set(requests):
        status = requests.get(request_id, {}).get("status")
        if deductions[request_id] != 1:
            problems.append(f"request {request_id}: {deductions[request_id]} deductions")
        if refunds[request_id] != (1 if status == "failed" else 0):
            problems.append(f"request {request_id}: {status} with {refunds[request_id]} refunds")
    return problems


def assert_ledger_consistent(db: firestore.Client) -> None:
    problems = ledger_violations(db)
    assert not problems, "ledger invariant violated:\n" + "\n".join(problems)
