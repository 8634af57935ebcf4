"""Signed webhooks without the emulators: secrets and signatures (verified with the
`standardwebhooks` package), the event body, the delivery's retry and stop decisions with a fake
sender, scheduling after a settle, the sweeper's rescue, and the wiring."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from firebase_admin import exceptions
from firebase_functions.https_fn import HttpsError
from standardwebhooks import Webhook, WebhookVerificationError

from container import wire
from controllers.http import validate
from controllers.webhook_controller import WebhookController
from core.errors import ValidationError
from core.settings import Settings
from core.task_queue import CloudTasksWebhookQueue, webhook_task_id
from core.webhook_http import ERRORS, TIMEOUT, UNREACHABLE, WebhookResponse
from core.webhook_signing import (
    SECRET_PREFIX,
    event_id,
    new_secret,
    signed_headers,
    signing_key,
)
from core.webhook_urls import EMULATOR, PRODUCTION, WebhookUrlRefused
from emulator.task_queue import EmulatorWebhookQueue
from schemas.documents import GenerationRecord, GenerationStatus, WebhookDelivery
from schemas.requests import WEBHOOK_POLICY, CreateGenerationRequest
from schemas.responses import generation_status_body, webhook_body, webhook_event
from services.webhook_service import (
    DeliveryResult,
    WebhookDeliverer,
    WebhookNotifier,
    WebhookRescue,
    WebhookSecrets,
)
from tests.support.fakes import (
    FakeDeliveries,
    FakeGenerations,
    FakeQueue,
    FakeSecrets,
    FakeSender,
    ManualClock,
)
from tests.support.records import processing_record
from tests.support.scripts import load_script

NOW = datetime.now(UTC).replace(microsecond=0)  # signatures are checked against the clock
SETTLED = NOW - timedelta(seconds=5)
URL = "https://hooks.example.com/imagen"


def settled_record(status: str = "completed", **delivery: Any) -> GenerationRecord:
    fields: dict[str, Any] = {
        "status": GenerationStatus(status),
        "updated_at": SETTLED,
        "completed_at": SETTLED,
        "webhook_url": URL,
        "webhook": WebhookDelivery(
            state="pending", event_id=event_id("req-1"), updated_at=SETTLED
        ).model_copy(update=delivery),
    }
    if status == "completed":
        fields |= {"image_url": "https://img.example/req-1.png", "image_path": "p"}
    if status == "failed":
        fields["error_message"] = "Model failed"
    return processing_record(**fields)


# --- secrets and signatures -------------------------------------------------------------------
def test_a_secret_is_whsec_and_the_base64_of_32_random_bytes():
    secrets = {new_secret() for _ in range(50)}
    assert len(secrets) == 50
    for secret in secrets:
        assert secret.startswith(SECRET_PREFIX)
        assert len(base64.b64decode(secret[len(SECRET_PREFIX) :], validate=True)) == 32
        assert signing_key(secret) == base64.b64decode(secret[len(SECRET_PREFIX) :])


@pytest.mark.parametrize("bad", ["", "whsec_", "whsec_***", "sk_abc", "whsec_YWJj!"])
def test_only_whsec_secrets_are_signing_keys(bad):
    with pytest.raises(ValueError):
        signing_key(bad)


def test_signatures_verify_with_the_standardwebhooks_package():
    secret = new_secret()
    body = json.dumps({"type": "generation.completed", "data": {"x": "ü"}}).encode()
    timestamp = int(NOW.timestamp())
    headers = signed_headers(secret, "msg_req-1", timestamp, body)
    assert headers["webhook-id"] == "msg_req-1"
    assert headers["webhook-timestamp"] == str(timestamp)
    assert headers["webhook-signature"].startswith("v1,")
    assert Webhook(secret).verify(body, headers) == json.loads(body)


@pytest.mark.parametrize(
    "tamper",
    [
        lambda s, b, h: (new_secret(), b, h),  # another user's secret
        lambda s, b, h: (s, b + b" ", h),  # the body changed
        lambda s, b, h: (s, b, h | {"webhook-id": "msg_other"}),  # another event
        lambda s, b, h: (s, b, h | {"webhook-timestamp": str(int(h["webhook-timestamp"]) + 1)}),
    ],
)
def test_a_tampered_delivery_does_not_verify(tamper):
    secret = new_secret()
    body = b'{"type":"generation.failed"}'
    headers = signed_headers(secret, "msg_req-1", int(NOW.timestamp()), body)
    other_secret, other_body, other_headers = tamper(secret, body, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(other_secret).verify(other_body, other_headers)


# --- the event and the status body ------------------------------------------------------------
@pytest.mark.parametrize("status", ["completed", "failed", "cancelled"])
def test_the_event_is_typed_stamped_and_carries_the_status_body(status):
    record = settled_record(status, attempts=3, last_status_code=500)
    event = webhook_event(record)
    assert event["type"] == f"generation.{status}"
    assert event["timestamp"] == SETTLED.isoformat()
    status_body = generation_status_body(record)
    assert status_body["webhook"] == {
        "state": "pending",
        "attempts": 3,
        "lastStatusCode": 500,
        "lastError": None,
    }
    # getGenerationStatus's body, whose per-read queuePosition is null once settled
    assert event["data"] == {k: v for k, v in status_body.items() if k != "webhook"} | {
        "queuePosition": None
    }
    assert event["data"]["generationRequestId"] == "req-1"
    assert event["data"]["creditsCharged"] == 1
    assert event["data"]["creditsRefunded"] == (0 if status == "completed" else 1)
    # every attempt carries the same event: the delivery's own progress is not part of it
    assert webhook_event(settled_record(status)) == event


def test_the_status_body_shows_the_delivery():
    assert webhook_body(processing_record()) is None  # no webhookUrl
    assert webhook_body(processing_record(webhook_url=URL)) == {
        "state": "pending",  # due once the request is settled
        "attempts": 0,
        "lastStatusCode": None,
        "lastError": None,
    }
    delivered = settled_record(state="delivered", attempts=2, last_status_code=204)
    assert webhook_body(delivered) == {
        "state": "delivered",
        "attempts": 2,
        "lastStatusCode": 204,
        "lastError": None,
    }


# --- the delivery's decisions, with a fake sender ------------------------------------------------
class FakeStore:
    """The request `req-1` (when given) in the shared in-memory stores, and the secrets."""

    def __init__(self, record: GenerationRecord | None) -> None:
        self.generations = FakeGenerations(*([record] if record is not None else []))
        self.deliveries = FakeDeliveries(self.generations)
        self.secrets = FakeSecrets()

    @property
    def record(self) -> GenerationRecord:
        return self.generations.records["req-1"]


def deliverer(
    store: FakeStore, sender: FakeSender, max_attempts: int = 3, clock: ManualClock | None = None
) -> WebhookDeliverer:
    clock = clock or ManualClock(NOW)
    secrets = WebhookSecrets(store.secrets, clock)
    return WebhookDeliverer(
        store.generations, store.deliveries, secrets, sender, clock, max_attempts
    )


def verify(store: FakeStore, sent: tuple[str, bytes, dict[str, str]]) -> dict[str, Any]:
    url, body, headers = sent
    assert url == URL
    return dict(Webhook(store.secrets.by_user["arda"]).verify(body, headers))


def test_a_2xx_delivers_once_and_later_dispatches_are_acknowledged():
    store = FakeStore(settled_record())
    sender = FakeSender(WebhookResponse(204))
    assert deliverer(store, sender).deliver("req-1") is DeliveryResult.DELIVERED
    assert store.record.webhook.model_dump(exclude={"updated_at"}) == {
        "state": "delivered",
        "event_id": "msg_req-1",
        "attempts": 1,
        "last_status_code": 204,
        "last_error": None,
    }
    event = verify(store, sender.sent[0])
    assert event["type"] == "generation.completed"
    assert event["data"]["imageUrl"] == "https://img.example/req-1.png"
    # a duplicate dispatch of the task sends nothing
    assert deliverer(store, sender).deliver("req-1") is DeliveryResult.SKIPPED
    assert len(sender.sent) == 1


def test_a_failing_receiver_is_retried_with_the_same_id_and_a_fresh_timestamp():
    store = FakeStore(settled_record("failed"))
    sender = FakeSender(
        WebhookResponse(500), WebhookResponse(None, TIMEOUT, "no answer"), WebhookResponse(200)
    )
    clock = ManualClock(NOW)
    results = []
    for _ in range(3):
        results.append(deliverer(store, sender, clock=clock).deliver("req-1"))
        if store.record.webhook.state == "pending":
            assert store.record.webhook.last_error in ("HTTP 500", "timeout")
        clock.advance(timedelta(seconds=30))
    assert results == [DeliveryResult.RETRY, DeliveryResult.RETRY, DeliveryResult.DELIVERED]
    ids = {headers["webhook-id"] for _, _, headers in sender.sent}
    stamps = [int(headers["webhook-timestamp"]) for _, _, headers in sender.sent]
    assert ids == {"msg_req-1"}
    assert stamps == [int(NOW.timestamp()) + 30 * n for n in range(3)]
    assert len({body for _, body, _ in sender.sent}) == 1  # the same event every time
    assert verify(store, sender.sent[0])["type"] == "generation.failed"
    assert (store.record.webhook.attempts, store.record.webhook.last_status_code) == (3, 200)


def test_the_last_attempt_without_a_2xx_fails_the_delivery_and_is_acknowledged():
    store = FakeStore(settled_record())
    sender = FakeSender(*[WebhookResponse(503)] * 3)
    results = [deliverer(store, sender, max_attempts=3).deliver("req-1") for _ in range(3)]
    assert results == [DeliveryResult.RETRY, DeliveryResult.RETRY, DeliveryResult.FAILED]
    delivery = store.record.webhook
    assert (delivery.state, delivery.attempts, delivery.last_status_code) == ("failed", 3, 503)
    assert delivery.last_error == "HTTP 503"  # the state and the count tell it was the last
    # Cloud Tasks retrying once more than we count sends nothing
    assert deliverer(store, sender).deliver("req-1") is DeliveryResult.SKIPPED


def test_a_delivery_counted_out_by_the_queue_is_failed_without_sending():
    store = FakeStore(settled_record(attempts=3, last_status_code=500, last_error="HTTP 500"))
    sender = FakeSender()
    assert deliverer(store, sender, max_attempts=3).deliver("req-1") is DeliveryResult.FAILED
    assert sender.sent == [] and store.record.webhook.state == "failed"
    assert (store.record.webhook.last_status_code, store.record.webhook.last_error) == (
        500,
        "HTTP 500",
    )


def test_410_gone_stops_at_once():
    store = FakeStore(settled_record())
    sender = FakeSender(WebhookResponse(410))
    assert deliverer(store, sender, max_attempts=5).deliver("req-1") is DeliveryResult.FAILED
    delivery = store.record.webhook
    assert (delivery.state, delivery.attempts, delivery.last_status_code) == ("failed", 1, 410)
    assert delivery.last_error == "HTTP 410"


@pytest.mark.parametrize("code", [301, 302, 307, 308, 400, 404, 429, 500])
def test_anything_else_but_2xx_and_410_is_retried(code):
    store = FakeStore(settled_record())
    result = deliverer(store, FakeSender(WebhookResponse(code))).deliver("req-1")
    assert result is DeliveryResult.RETRY
    assert (store.record.webhook.state, store.record.webhook.last_status_code) == ("pending", code)
    assert store.record.webhook.last_error == f"HTTP {code}"


def test_a_refused_url_fails_the_delivery_and_tells_only_the_category():
    store = FakeStore(settled_record())
    refused = WebhookUrlRefused("must not point at a private address")
    assert deliverer(store, FakeSender(refused)).deliver("req-1") is DeliveryResult.FAILED
    delivery = store.record.webhook
    assert delivery.state == "failed" and delivery.last_status_code is None
    assert delivery.last_error == UNREACHABLE


def test_a_name_resolving_to_a_refused_address_reads_like_one_that_does_not_resolve():
    """The sender's detail (which kind of address) goes to the log, never to the owner: both
    are retried and recorded the same way."""
    outcomes = []
    for detail in ("hooks.example.com resolves to a private address", "could not resolve"):
        store = FakeStore(settled_record())
        sender = FakeSender(WebhookResponse(None, UNREACHABLE, detail))
        result = deliverer(store, sender).deliver("req-1")
        outcomes.append((result, store.record.webhook.model_dump(exclude={"updated_at"})))
    assert outcomes[0] == outcomes[1]
    assert outcomes[0][0] is DeliveryResult.RETRY
    assert outcomes[0][1]["last_error"] == UNREACHABLE


def test_last_error_is_always_a_fixed_category():
    answers = [WebhookResponse(None, error, "precise reason") for error in ERRORS] + [
        WebhookResponse(code) for code in (302, 410, 500)
    ]
    for answer in answers:
        store = FakeStore(settled_record())
        deliverer(store, FakeSender(answer), max_attempts=5).deliver("req-1")
        last_error = store.record.webhook.last_error
        assert last_error in ERRORS or last_error == f"HTTP {answer.status_code}"
        assert "precise" not in (last_error or "")


@pytest.mark.parametrize(
    "record",
    [
        None,  # unknown request
        processing_record(),  # no webhookUrl
        processing_record(webhook_url=URL),  # not settled yet
        settled_record(state="failed", attempts=1),
    ],
)
def test_nothing_to_deliver_is_acknowledged(record):
    sender = FakeSender()
    assert deliverer(FakeStore(record), sender).deliver("req-1") is DeliveryResult.SKIPPED
    assert sender.sent == []


def test_an_attempt_that_another_finished_meanwhile_is_acknowledged():
    store = FakeStore(settled_record())

    class Racing(FakeSender):
        def post(self, url, body, headers):
            answer = super().post(url, body, headers)
            store.deliveries.record_attempt(
                "req-1", NOW, state="delivered", status_code=200, error=None
            )
            return answer

    result = deliverer(store, Racing(WebhookResponse(500))).deliver("req-1")
    assert result is DeliveryResult.SKIPPED  # nothing recorded over the other attempt's outcome
    assert (store.record.webhook.state, store.record.webhook.attempts) == ("delivered", 1)


def test_the_secret_is_created_on_first_use_and_rotated():
    secrets = WebhookSecrets(FakeSecrets(), ManualClock(NOW))
    first = secrets.current("arda")
    assert secrets.current("arda") == first
    rotated = secrets.rotate("arda")
    assert rotated != first and secrets.current("arda") == rotated


# --- the task handler ----------------------------------------------------------------------
class Deliverer:
    def __init__(self, result: DeliveryResult) -> None:
        self.result = result

    def deliver(self, request_id: str) -> DeliveryResult:
        return self.result


def test_a_retry_answers_503_so_that_cloud_tasks_retries():
    controller = WebhookController(None, Deliverer(DeliveryResult.RETRY), None)  # type: ignore[arg-type]
    with pytest.raises(HttpsError) as error:
        controller.handle_delivery({"generationRequestId": "req-1"})
    assert error.value._http_error_code.status == 503
    done = WebhookController(None, Deliverer(DeliveryResult.FAILED), None)  # type: ignore[arg-type]
    assert done.handle_delivery({"generationRequestId": "req-1"}) == {"result": "failed"}
    assert done.handle_delivery({"nope": 1}) == {"result": "rejected"}


# --- scheduling after a settle, and the sweeper's rescue ----------------------------------------
def pending(request_id: str, attempts: int, updated_at: datetime) -> GenerationRecord:
    """A settled request whose webhook event is still pending."""
    delivery = WebhookDelivery(
        state="pending", event_id=event_id(request_id), attempts=attempts, updated_at=updated_at
    )
    return settled_record().model_copy(update={"id": request_id, "webhook": delivery})


def test_a_settled_request_with_a_pending_event_is_scheduled_and_a_failing_enqueue_is_swallowed():
    queue = FakeQueue(failing={"broken"})
    notifier = WebhookNotifier(queue, FakeDeliveries(FakeGenerations()))
    notifier.settled(settled_record())
    notifier.settled(settled_record().model_copy(update={"id": "broken"}))  # logged, no raise
    notifier.settled(processing_record())  # no webhook
    notifier.settled(settled_record(state="delivered"))
    notifier.settled(None)  # the settle did not apply
    assert queue.enqueued == ["req-1"]


def test_the_sweeper_reschedules_deliveries_left_pending():
    rescue = WebhookRescue(first_attempt_seconds=600, retry_seconds=3600)
    deliveries = FakeDeliveries(
        FakeGenerations(
            pending("never-tried", 0, NOW - timedelta(minutes=11)),
            pending("just-settled", 0, NOW - timedelta(minutes=5)),
            pending("between-retries", 2, NOW - timedelta(minutes=30)),
            pending("abandoned", 2, NOW - timedelta(minutes=61)),
            pending("broken", 0, NOW - timedelta(hours=2)),
            settled_record(state="delivered", updated_at=NOW - timedelta(hours=3)).model_copy(
                update={"id": "delivered-long-ago"}
            ),
        )
    )
    queue = FakeQueue(failing={"broken"})
    rescued = WebhookNotifier(queue, deliveries, rescue).rescue(NOW)
    assert queue.enqueued == ["never-tried", "abandoned"] and rescued == 2
    assert deliveries.asked == [NOW - timedelta(minutes=10)]


def test_rescue_waits_past_the_longest_backoff():
    rescue = WebhookRescue.for_backoff(10800)
    assert rescue.retry_seconds == 10800 + rescue.first_attempt_seconds


# --- task ids and the wiring -----------------------------------------------------------------
class RecordingTaskQueue:
    def __init__(self, error: Exception | None = None) -> None:
        self.error = error
        self.tasks: list[tuple[dict[str, Any], Any]] = []

    def enqueue(self, body, options):
        self.tasks.append((body, options))
        if self.error is not None:
            raise self.error


def test_the_delivery_task_is_named_after_the_request():
    queue = CloudTasksWebhookQueue(SimpleNamespace())  # type: ignore[arg-type]
    recording = RecordingTaskQueue()
    queue.__dict__["_queue"] = recording
    queue.enqueue("req-1")
    [(body, options)] = recording.tasks
    assert body == {"data": {"generationRequestId": "req-1"}}
    assert options.task_id == webhook_task_id("req-1") == "webhook-req-1"
    recording.error = exceptions.AlreadyExistsError("exists", None)
    queue.enqueue("req-1")  # a duplicate: no error


@pytest.mark.parametrize("queue_type", [CloudTasksWebhookQueue, EmulatorWebhookQueue])
def test_only_the_emulator_queue_takes_a_bare_409_for_a_duplicate(queue_type):
    queue = queue_type(SimpleNamespace())  # type: ignore[arg-type]
    queue.__dict__["_queue"] = RecordingTaskQueue(exceptions.ConflictError("exists", None))
    if queue_type is EmulatorWebhookQueue:
        queue.enqueue("req-1")
    else:
        with pytest.raises(exceptions.ConflictError):
            queue.enqueue("req-1")


@pytest.mark.parametrize("on_emulator", [True, False])
def test_the_webhook_queue_and_url_policy_are_wired_per_environment(on_emulator):
    settings = Settings(on_emulator=on_emulator, admin_api_key="k" * 32)
    container = wire(settings, db=SimpleNamespace(), app=SimpleNamespace())  # type: ignore[arg-type]
    expected = EmulatorWebhookQueue if on_emulator else CloudTasksWebhookQueue
    assert type(container.webhook_queue) is expected
    assert container.webhook_policy is (EMULATOR if on_emulator else PRODUCTION)
    assert container.webhook_notifier is not None


# --- configuration and the schema step ---------------------------------------------------------
@pytest.mark.parametrize("profile", ["dev", "test"])
def test_the_local_profiles_retry_a_failed_webhook_within_seconds(profile):
    values = load_script("stack/env_local").profile_values(profile, {})
    assert int(values["WEBHOOK_MIN_BACKOFF_SECONDS"]) <= 30  # the first retry
    assert int(values["WEBHOOK_MAX_BACKOFF_SECONDS"]) <= 60
    assert int(values["WEBHOOK_MAX_ATTEMPTS"]) >= 3


BODY = {
    "userId": "arda",
    "model": "Model A",
    "style": "realistic",
    "color": "vibrant",
    "size": "1024x1024",
    "prompt": "p",
}


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:9/x", "https://10.0.0.1/", "ftp://x.example/", "", 42, ["x"]]
)
def test_a_bad_webhook_url_is_a_400_naming_the_field(url):
    with pytest.raises(ValidationError) as error:
        validate(CreateGenerationRequest, BODY | {"webhookUrl": url}, {WEBHOOK_POLICY: PRODUCTION})
    assert error.value.status == 400 and error.value.error == "validation_failed"
    assert [d.field for d in error.value.details or []] == ["webhookUrl"]


def test_the_policy_comes_from_the_validation_context():
    body = BODY | {"webhookUrl": "http://127.0.0.1:9/x"}
    assert validate(CreateGenerationRequest, body, {WEBHOOK_POLICY: EMULATOR}).webhookUrl
    with pytest.raises(ValidationError):
        validate(CreateGenerationRequest, body)  # no context: production's policy
    assert validate(CreateGenerationRequest, BODY | {"webhookUrl": None}).webhookUrl is None
