"""GenerationService rules over the shared in-memory fakes of its store and queue."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from core.errors import (
    NotFoundError,
    QueueFailureError,
    TooManyPendingWebhooksError,
    ValidationError,
)
from schemas.documents import (
    Catalog,
    ColorRecord,
    GenerationStatus,
    SizeRecord,
    StyleRecord,
    WebhookDelivery,
)
from schemas.store import IdempotencyClaim, Replay
from services.catalog_service import CatalogService
from services.generation_service import GenerationService
from tests.support.fakes import FakeCatalog, FakeGenerations, FakeQueue, ManualClock
from tests.support.records import create_body

NOW = datetime(2026, 1, 5, tzinfo=UTC)
STYLE = StyleRecord(id="anime", display_name="Anime")
COLOR = ColorRecord(id="neon", display_name="Neon")
SIZE = SizeRecord(
    id="1024x1792", width=1024, height=1792, aspect_ratio="9:16", display_name="P", credit_cost=4
)


def build(
    queue: FakeQueue | None = None,
    catalog: Catalog | None = None,
    *,
    credits: int = 10,
    max_pending_webhooks: int = 20,
    new_id=lambda: "id-1",
) -> tuple[GenerationService, FakeGenerations, FakeQueue]:
    clock = ManualClock(NOW)
    stored = FakeCatalog(catalog or Catalog(styles=[STYLE], colors=[COLOR], sizes=[SIZE]))
    generations = FakeGenerations(users={"arda": credits})
    queue = queue or FakeQueue()
    service = GenerationService(
        CatalogService(stored, clock),
        generations,
        queue,
        clock,
        max_in_flight=10,
        max_pending_webhooks=max_pending_webhooks,
        new_id=new_id,
    )
    return service, generations, queue


def test_the_stored_record_is_built_from_the_request_and_the_size_cost():
    service, generations, queue = build()
    result = service.create(create_body(style=" Anime "), None)
    assert result.status_code == 202
    assert result.body == {
        "generationRequestId": "id-1",
        "status": "queued",
        "deductedCredits": 4,
        "imageUrl": None,
    }
    [charge] = generations.charges
    queued = charge.queued
    assert queued.model_dump(include={"id", "user_id", "style", "color", "size", "prompt"}) == {
        "id": "id-1",
        "user_id": "arda",
        "style": "anime",
        "color": "neon",
        "size": "1024x1792",
        "prompt": "p",
    }
    assert (queued.status, queued.credits_deducted) == (GenerationStatus.QUEUED, 4)
    assert queue.enqueued == ["id-1"]
    assert generations.user_lookups == []  # the user is read once, in the transaction
    assert generations.users["arda"] == 6


def test_unknown_user_is_reported_before_catalog_errors():
    service, generations, _ = build()
    generations.users.clear()
    with pytest.raises(NotFoundError):
        service.create(create_body(style="nope"), None)
    assert generations.charges == []


def test_every_bad_catalog_field_is_named():
    service, generations, _ = build(catalog=Catalog(styles=[], colors=[], sizes=[]))
    with pytest.raises(ValidationError) as caught:
        service.create(create_body(), None)
    assert [d.field for d in caught.value.details or []] == ["style", "color", "size"]
    assert generations.charges == []


def test_enqueue_failure_refunds_and_raises_503():
    service, generations, _ = build(FakeQueue(ConnectionError("down")))
    with pytest.raises(QueueFailureError) as caught:
        service.create(create_body(), "key")
    assert caught.value.extra == {"generationRequestId": "id-1", "refunded": True}
    [refund] = generations.settles
    assert refund.from_statuses == {GenerationStatus.QUEUED}
    assert refund.outcome.error_message == "Failed to queue generation task"
    assert generations.records["id-1"].status is GenerationStatus.FAILED
    assert generations.users["arda"] == 10
    # The key keeps the 503 for its lifetime: a retry replays it instead of charging again.
    [(claim, status, body)] = generations.idempotency.failures
    assert claim.doc_id == claim_for("arda", "key").doc_id
    assert status == 503 and body["error_type"] == "queue_failure" and body["refunded"] is True
    assert generations.idempotency.done_claims == []


def test_charge_gets_the_clock_and_the_in_flight_cap():
    service, generations, _ = build()
    service.create(create_body(), "key")
    [charge] = generations.charges
    assert charge.clock() == NOW
    assert charge.max_in_flight == 10
    assert charge.max_pending_webhooks == 20
    assert charge.claim is not None
    assert charge.claim.accepted["generationRequestId"] == "id-1"
    assert generations.idempotency.done_claims == [charge.claim]


HOOK = "https://hooks.example.com/imagen"


def test_one_more_undelivered_webhook_than_the_cap_is_429_before_any_charge():
    ids = iter(f"id-{n}" for n in range(10))
    service, generations, queue = build(
        credits=40, max_pending_webhooks=2, new_id=lambda: next(ids)
    )
    accepted = [service.create(create_body(webhookUrl=HOOK), None) for _ in range(2)]
    assert [result.status_code for result in accepted] == [202, 202]
    with pytest.raises(TooManyPendingWebhooksError) as refused:
        service.create(create_body(webhookUrl=HOOK), "key")
    assert refused.value.status == 429 and refused.value.retry_after
    assert refused.value.error == "too_many_pending_webhooks"
    assert generations.users["arda"] == 40 - 2 * 4 and len(queue.enqueued) == 2
    assert generations.idempotency.answers == {}  # the key stays free for a later retry
    # without a webhookUrl nothing changes
    assert service.create(create_body(), None).status_code == 202
    # a delivery that ended gives its slot back
    first = generations.records["id-0"]
    delivered = WebhookDelivery(state="delivered", event_id="msg_id-0", updated_at=NOW)
    generations.put(first.model_copy(update={"webhook": delivered}))
    assert service.create(create_body(webhookUrl=HOOK), "key").status_code == 202


def test_enqueue_error_after_the_worker_started_is_not_a_failure():
    def worker_takes_it(request_id: str) -> None:
        generations.start_processing(request_id, NOW, "token")  # no longer queued

    queue = FakeQueue(TimeoutError("slow answer, task created"), on_enqueue=worker_takes_it)
    service, generations, _ = build(queue)
    assert service.create(create_body(), None).status_code == 202
    assert generations.records["id-1"].status is GenerationStatus.PROCESSING


def test_replay_returns_the_stored_answer_without_enqueueing():
    service, generations, queue = build()
    stored = Replay(202, {"generationRequestId": "first"})
    generations.idempotency.answers[claim_for("arda", "key").doc_id] = stored
    result = service.create(create_body(), "key")
    assert result.body == {"generationRequestId": "first"}
    assert queue.enqueued == []


def claim_for(user: str, key: str, **overrides) -> IdempotencyClaim:
    return IdempotencyClaim.for_request(user, key, create_body(**overrides).model_dump(), {})


def test_request_hash_ignores_display_spelling_but_not_content():
    assert (
        claim_for("a", "k", style="anime").request_hash
        == claim_for("a", "k", style=" Anime ").request_hash
    )
    assert claim_for("a", "k").request_hash != claim_for("a", "k", prompt="other").request_hash


def test_idempotency_ids_are_per_user():
    assert claim_for("a", "k").doc_id != claim_for("b", "k").doc_id
