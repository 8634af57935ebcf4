"""GenerationService rules with the repositories and queue mocked (pytest-mock)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from core.errors import NotFoundError, QueueFailureError, ValidationError
from repositories.generations import Replay
from schemas.documents import GenerationStatus, SizeRecord, StyleRecord
from schemas.requests import CreateGenerationRequest
from services.generation_service import GenerationService, idempotency_doc_id, request_hash

NOW = datetime(2026, 1, 5, tzinfo=UTC)
STYLE = StyleRecord(id="anime", display_name="Anime")
SIZE = SizeRecord(
    id="1024x1792", width=1024, height=1792, aspect_ratio="9:16", display_name="P", credit_cost=4
)
COLOR = StyleRecord(id="neon", display_name="Neon")  # any active record will do


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
    catalog.lookup.return_value = (True, STYLE, COLOR, SIZE)
    generations = mocker.Mock()
    generations.charge_and_create.side_effect = lambda new, clock, claim, **_: mocker.Mock(
        id=new.id
    )
    queue = mocker.Mock()
    service = GenerationService(
        catalog, generations, queue, FixedClock(), max_in_flight=10, new_id=lambda: "id-1"
    )
    return service, catalog, generations, queue


def test_cost_comes_from_the_size_document(deps):
    service, _, generations, queue = deps
    result = service.create(request(), None)
    assert result.status_code == 202
    assert result.body == {
        "generationRequestId": "id-1",
        "status": "queued",
        "deductedCredits": 4,
        "imageUrl": None,
    }
    new = generations.charge_and_create.call_args.args[0]
    assert (new.cost, new.style, new.color) == (4, "anime", "neon")
    queue.enqueue.assert_called_once_with("id-1")


def test_unknown_user_is_reported_before_catalog_errors(deps):
    service, catalog, generations, _ = deps
    catalog.lookup.return_value = (False, None, None, None)
    with pytest.raises(NotFoundError):
        service.create(request(), None)
    generations.charge_and_create.assert_not_called()


def test_every_bad_catalog_field_is_named(deps):
    service, catalog, generations, _ = deps
    inactive = STYLE.model_copy(update={"is_active": False})
    catalog.lookup.return_value = (True, inactive, None, None)
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
    doc_id, status, body = generations.finish_idempotency.call_args.args
    assert (doc_id, status) == (idempotency_doc_id("arda", "key"), 503)
    assert body["error_type"] == "queue_failure" and body["refunded"] is True


def test_charge_gets_the_clock_and_the_in_flight_cap(deps):
    service, _, generations, _ = deps
    service.create(request(), None)
    _, clock, _ = generations.charge_and_create.call_args.args
    assert clock() == NOW
    assert generations.charge_and_create.call_args.kwargs == {"max_in_flight": 10}


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


def test_request_hash_ignores_display_spelling_but_not_content():
    assert request_hash(request(style="anime")) == request_hash(request(style=" Anime "))
    assert request_hash(request()) != request_hash(request(prompt="other"))


def test_idempotency_ids_are_per_user():
    assert idempotency_doc_id("a", "k") != idempotency_doc_id("b", "k")
