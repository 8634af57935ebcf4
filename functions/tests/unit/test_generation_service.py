"""GenerationService rules with the repositories and queue mocked (pytest-mock)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from core.errors import NotFoundError, QueueFailureError, ValidationError
from schemas.documents import Catalog, ColorRecord, GenerationStatus, SizeRecord, StyleRecord
from schemas.requests import CreateGenerationRequest
from schemas.store import IdempotencyClaim, Replay
from services.generation_service import GenerationService

NOW = datetime(2026, 1, 5, tzinfo=UTC)
STYLE = StyleRecord(id="anime", display_name="Anime")
COLOR = ColorRecord(id="neon", display_name="Neon")
SIZE = SizeRecord(
    id="1024x1792", width=1024, height=1792, aspect_ratio="9:16", display_name="P", credit_cost=4
)


class FixedClock:
    def now(self) -> datetime:
        return NOW


def request(**overrides) -> CreateGenerationRequest:
    body = {
        "userId": "arda",
        "model": "Model B",
        "style": "anime",
        "color": "neon",
        "size": "1024x1792",
        "prompt": "p",
    }
    return CreateGenerationRequest.model_validate(body | overrides)


@pytest.fixture
def deps(mocker):
    catalog = mocker.Mock()
    catalog.catalog.return_value = Catalog(styles=[STYLE], colors=[COLOR], sizes=[SIZE])
    generations = mocker.Mock()
    generations.charge_and_create.side_effect = lambda queued, clock, claim, **_: queued
    generations.user_exists.return_value = True
    queue = mocker.Mock()
    service = GenerationService(
        catalog, generations, queue, FixedClock(), max_in_flight=10, new_id=lambda: "id-1"
    )
    return service, catalog, generations, queue


def test_the_stored_record_is_built_from_the_request_and_the_size_cost(deps):
    service, _, generations, queue = deps
    result = service.create(request(style=" Anime "), None)
    assert result.status_code == 202
    assert result.body == {
        "generationRequestId": "id-1",
        "status": "queued",
        "deductedCredits": 4,
        "imageUrl": None,
    }
    queued = generations.charge_and_create.call_args.args[0]
    assert queued.model_dump(include={"id", "user_id", "style", "color", "size", "prompt"}) == {
        "id": "id-1",
        "user_id": "arda",
        "style": "anime",
        "color": "neon",
        "size": "1024x1792",
        "prompt": "p",
    }
    assert (queued.status, queued.credits_deducted) == (GenerationStatus.QUEUED, 4)
    queue.enqueue.assert_called_once_with("id-1")
    generations.user_exists.assert_not_called()  # the user is read once, in the transaction


def test_unknown_user_is_reported_before_catalog_errors(deps):
    service, _, generations, _ = deps
    generations.user_exists.return_value = False
    with pytest.raises(NotFoundError):
        service.create(request(style="nope"), None)
    generations.charge_and_create.assert_not_called()


def test_every_bad_catalog_field_is_named(deps):
    service, catalog, generations, _ = deps
    catalog.catalog.return_value = Catalog(styles=[], colors=[], sizes=[])
    with pytest.raises(ValidationError) as caught:
        service.create(request(), None)
    assert [d.field for d in caught.value.details or []] == ["style", "color", "size"]
    generations.charge_and_create.assert_not_called()


def test_enqueue_failure_refunds_and_raises_503(deps):
    service, _, generations, queue = deps
    queue.enqueue.side_effect = ConnectionError("down")
    with pytest.raises(QueueFailureError) as caught:
        service.create(request(), "key")
    assert caught.value.extra == {"generationRequestId": "id-1", "refunded": True}
    kwargs = generations.settle.call_args.kwargs
    assert kwargs["from_statuses"] == {GenerationStatus.QUEUED}
    assert generations.settle.call_args.args[1].error_message == "Failed to queue generation task"
    # The key keeps the 503 for its lifetime: a retry replays it instead of charging again.
    claim, status, body = generations.idempotency.failed.call_args.args
    assert claim.doc_id == claim_for("arda", "key").doc_id
    assert status == 503 and body["error_type"] == "queue_failure" and body["refunded"] is True
    generations.idempotency.done.assert_not_called()


def test_charge_gets_the_clock_and_the_in_flight_cap(deps):
    service, _, generations, _ = deps
    service.create(request(), "key")
    _, clock, claim = generations.charge_and_create.call_args.args
    assert clock() == NOW
    assert generations.charge_and_create.call_args.kwargs == {"max_in_flight": 10}
    assert claim.accepted["generationRequestId"] == "id-1"
    generations.idempotency.done.assert_called_once_with(claim)


def test_enqueue_error_after_the_worker_started_is_not_a_failure(deps):
    service, _, generations, queue = deps
    queue.enqueue.side_effect = TimeoutError("slow answer, task created")
    generations.settle.return_value = None  # no longer queued: the worker has it
    assert service.create(request(), None).status_code == 202


def test_replay_returns_the_stored_answer_without_enqueueing(deps):
    service, _, generations, queue = deps
    generations.charge_and_create.side_effect = None
    generations.charge_and_create.return_value = Replay(202, {"generationRequestId": "first"})
    result = service.create(request(), "key")
    assert result.body == {"generationRequestId": "first"}
    queue.enqueue.assert_not_called()


def claim_for(user: str, key: str, **overrides) -> IdempotencyClaim:
    return IdempotencyClaim.for_request(user, key, request(**overrides).model_dump(), {})


def test_request_hash_ignores_display_spelling_but_not_content():
    assert (
        claim_for("a", "k", style="anime").request_hash
        == claim_for("a", "k", style=" Anime ").request_hash
    )
    assert claim_for("a", "k").request_hash != claim_for("a", "k", prompt="other").request_hash


def test_idempotency_ids_are_per_user():
    assert claim_for("a", "k").doc_id != claim_for("b", "k").doc_id
