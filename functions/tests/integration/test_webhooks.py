"""Signed webhooks on the Firestore emulator, the functions called in-process, deliveries POSTed
to a real HTTP receiver on 127.0.0.1 and verified with the `standardwebhooks` package.

A recording queue stands in for the webhook task queue: each test dispatches the delivery task
itself (as Cloud Tasks would, retries included) through `main.deliverWebhook`.
test_webhooks_emulator.py runs the same flow through the functions and Cloud Tasks emulators.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from standardwebhooks import Webhook

import main
from container import Container
from core.settings import Settings
from core.webhook_http import PinnedWebhookSender
from core.webhook_urls import EMULATOR
from tests.integration.conftest import RecordingQueue, balance, request_body
from tests.integration.test_stuck_recovery import TIMEOUTS, later_sweeper
from tests.support.auth_emulator import OTHER, OWNER, bearer
from tests.support.http import _APP, call, make_request
from tests.support.webhook_receiver import Received, Receiver, as_event_data, running_receiver


class WebhookTasks:
    """The webhook task queue: what was enqueued (and, while `failing`, an error instead).
    Like Cloud Tasks with named tasks, a second enqueue for a request is a no-op (`tasks` holds
    each request once; `enqueued` every call)."""

    def __init__(self) -> None:
        self.enqueued: list[str] = []
        self.tasks: list[str] = []
        self.failing = False
        self._lock = threading.Lock()

    def enqueue(self, generation_request_id: str) -> None:
        if self.failing:
            raise ConnectionError("Cloud Tasks unavailable")
        with self._lock:
            self.enqueued.append(generation_request_id)
            if generation_request_id not in self.tasks:
                self.tasks.append(generation_request_id)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as running:
        yield running


@pytest.fixture
def hooks(make_container) -> Any:
    """Build a container whose settles schedule webhook deliveries on a recording queue."""

    def build(sender: Any = None, **settings: Any) -> Container:
        container = make_container(**settings)
        container.webhooks = WebhookTasks()
        container.webhook_sender = sender
        return container

    return build


def create(url: str | None, user_id: str = OWNER, **overrides: Any) -> str:
    body = request_body(user_id, **overrides) | ({"webhookUrl": url} if url else {})
    status, answer = call(main.createGenerationRequest, json_body=body)
    assert status == 202, answer
    return str(answer["generationRequestId"])


def work(request_id: str) -> str:
    status, body = deliver_task(request_id)
    assert status == 200, body
    return str(body["result"]["result"])


def deliver_task(request_id: str) -> tuple[int, Any]:
    return call(
        main.processImageGeneration, json_body={"data": {"generationRequestId": request_id}}
    )


def cancel(request_id: str) -> tuple[int, dict[str, Any]]:
    return call(main.cancelGenerationRequest, json_body={"generationRequestId": request_id})


def dispatch(request_id: str) -> tuple[int, dict[str, Any]]:
    """One delivery of the webhook task, the way Cloud Tasks POSTs it."""
    return call(main.deliverWebhook, json_body={"data": {"generationRequestId": request_id}})


def status_of(request_id: str) -> dict[str, Any]:
    status, body = call(main.getGenerationStatus, "GET", query={"generationRequestId": request_id})
    assert status == 200, body
    return dict(body)


def secret_of(token: str) -> str:
    status, body = call(main.getWebhookSecret, "GET", headers=bearer(token))
    assert status == 200, body
    return str(body["secret"])


def verified(secret: str, received: Received) -> dict[str, Any]:
    """The event, once its signature checks out with a Standard Webhooks implementation."""
    return dict(Webhook(secret).verify(received.body, received.headers))


def request_doc(db: Any, request_id: str) -> dict[str, Any]:
    return db.collection("generation_requests").document(request_id).get().to_dict()


# --- one signed event per terminal state ------------------------------------------------------
@pytest.mark.parametrize("final", ["completed", "failed", "cancelled"])
def test_each_terminal_state_delivers_one_signed_event(db, hooks, receiver, tokens, final):
    container = hooks(failure_rates={"Model B": 1.0})
    request_id = create(receiver.url(), model="Model B" if final == "failed" else "Model A")
    before = status_of(request_id)["webhook"]
    assert before == {"state": "pending", "attempts": 0, "lastStatusCode": None, "lastError": None}

    if final == "cancelled":
        status, cancelled = cancel(request_id)
        assert status == 200 and cancelled["webhook"]["state"] == "pending", cancelled
    else:
        assert work(request_id) == final
    assert container.webhooks.enqueued == [request_id]  # scheduled once, by the settler

    status, body = dispatch(request_id)
    assert (status, body["result"]) == (200, {"result": "delivered"}), body

    [received] = receiver.wait_for(1)
    event = verified(secret_of(tokens[OWNER]), received)
    assert received.webhook_id == f"msg_{request_id}"
    assert abs(int(received.headers["webhook-timestamp"]) - time.time()) < 60
    assert received.headers["content-type"] == "application/json"
    after = status_of(request_id)
    assert event["type"] == f"generation.{final}"
    assert event["timestamp"] == after["completed_at"]
    assert event["data"] == as_event_data(after)
    assert event["data"]["generationRequestId"] == request_id
    assert after["webhook"] == {
        "state": "delivered",
        "attempts": 1,
        "lastStatusCode": 200,
        "lastError": None,
    }
    # Cloud Tasks delivering the task again sends nothing more
    assert dispatch(request_id)[1]["result"] == {"result": "skipped"}
    time.sleep(0.2)
    assert len(receiver.requests) == 1


def test_a_request_without_a_webhook_url_sends_nothing(db, hooks, receiver):
    container = hooks()
    request_id = create(None)
    assert work(request_id) == "completed"
    assert container.webhooks.enqueued == []
    assert status_of(request_id)["webhook"] is None
    assert dispatch(request_id)[1]["result"] == {"result": "skipped"}
    assert (
        "webhook" not in request_doc(db, request_id)
        or request_doc(db, request_id)["webhook"] is None
    )


# --- retries and stops ----------------------------------------------------------------------
def test_a_500_then_200_carries_the_same_webhook_id_twice(db, hooks, receiver, tokens):
    hooks()
    receiver.script = [500]
    request_id = create(receiver.url())
    work(request_id)

    status, body = dispatch(request_id)
    assert status == 503, body  # Cloud Tasks retries the task after its backoff
    assert status_of(request_id)["webhook"] == {
        "state": "pending",
        "attempts": 1,
        "lastStatusCode": 500,
        "lastError": "HTTP 500",
    }
    status, body = dispatch(request_id)
    assert (status, body["result"]) == (200, {"result": "delivered"})

    first, second = receiver.wait_for(2)
    assert first.webhook_id == second.webhook_id == f"msg_{request_id}"
    secret = secret_of(tokens[OWNER])
    assert verified(secret, first) == verified(secret, second)  # the same event, each signed
    webhook = status_of(request_id)["webhook"]
    assert (webhook["state"], webhook["attempts"], webhook["lastStatusCode"]) == (
        "delivered",
        2,
        200,
    )


def test_410_stops_the_delivery(db, hooks, receiver):
    hooks()
    receiver.script = [410]
    request_id = create(receiver.url())
    work(request_id)
    status, body = dispatch(request_id)
    assert (status, body["result"]) == (200, {"result": "failed"})  # acknowledged: no retry
    assert status_of(request_id)["webhook"] == {
        "state": "failed",
        "attempts": 1,
        "lastStatusCode": 410,
        "lastError": "HTTP 410",
    }
    assert dispatch(request_id)[1]["result"] == {"result": "skipped"}
    assert len(receiver.requests) == 1


def test_a_redirect_is_not_followed(db, hooks, receiver):
    hooks()
    receiver.script = [307]
    receiver.redirect_to = receiver.url("/elsewhere")
    request_id = create(receiver.url("/hook"))
    work(request_id)
    status, _ = dispatch(request_id)
    assert status == 503  # a 3xx is not a 2xx: retried later, never followed
    time.sleep(0.3)
    assert [r.path for r in receiver.requests] == ["/hook"]
    assert status_of(request_id)["webhook"]["lastStatusCode"] == 307


def test_the_last_attempt_without_a_2xx_fails_the_delivery(db, hooks, receiver):
    hooks(webhook_max_attempts=3)
    receiver.script = [503, 500, 502]
    request_id = create(receiver.url())
    work(request_id)
    assert [dispatch(request_id)[0] for _ in range(3)] == [503, 503, 200]
    webhook = status_of(request_id)["webhook"]
    assert (webhook["state"], webhook["attempts"], webhook["lastStatusCode"]) == (
        "failed",
        3,
        502,
    )
    assert webhook["lastError"] == "HTTP 502"  # the state and the count tell the rest
    assert len({r.webhook_id for r in receiver.requests}) == 1


def test_an_unreachable_receiver_is_retried(db, hooks):
    hooks()
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    request_id = create(f"http://127.0.0.1:{port}/gone")
    work(request_id)
    assert dispatch(request_id)[0] == 503
    webhook = status_of(request_id)["webhook"]
    assert (webhook["state"], webhook["lastStatusCode"]) == ("pending", None)
    assert webhook["lastError"] == "address not allowed or unreachable"


# --- exactly one event per request, whoever settles it ------------------------------------------
def test_redeliveries_cancels_and_sweeps_racing_yield_one_event_per_request(
    db, hooks, receiver, tokens, host_lock
):
    """Per request, at once: two worker deliveries, a cancel and a sweep (whose clock is past
    the timeout). Whoever wins settles the request and marks its one event; the sweep, whose
    clock also makes every pending delivery look abandoned, may enqueue it again (the same task
    name: a no-op). Every delivery task then runs twice: one POST per request, one webhook-id
    each."""
    container = hooks()
    sweeper = later_sweeper(container, container.webhook_notifier)
    ids = [create(receiver.url(), size="512x512") for _ in range(3)]
    actions: list[Any] = []
    for request_id in ids:
        actions += [lambda r=request_id: deliver_task(r)] * 2
        actions += [lambda r=request_id: cancel(r), lambda: sweeper.recover_stuck(TIMEOUTS)]
    barrier = threading.Barrier(len(actions))

    def at_once(action: Any) -> Any:
        barrier.wait()
        return action()

    with ThreadPoolExecutor(len(actions)) as pool:
        for future in [pool.submit(at_once, action) for action in actions]:
            future.result()

    assert sorted(container.webhooks.tasks) == sorted(ids)  # one task per request
    for request_id in container.webhooks.tasks * 2:  # and each task delivered twice
        dispatch(request_id)
    received = receiver.wait_for(len(ids))
    time.sleep(0.3)
    assert len(receiver.requests) == len(ids)
    assert sorted(r.webhook_id for r in received) == sorted(f"msg_{i}" for i in ids)
    secret = secret_of(tokens[OWNER])
    for event in (verified(secret, r) for r in received):
        final = request_doc(db, event["data"]["generationRequestId"])["status"]
        assert event["type"] == f"generation.{final}"


def test_a_failing_enqueue_never_fails_the_settler_and_the_sweeper_reschedules_it(
    db, hooks, receiver
):
    container = hooks()
    completed, cancelled, retrying = (create(receiver.url()) for _ in range(3))
    container.webhooks.failing = True
    assert work(completed) == "completed"  # acknowledged: the worker is not held up
    assert cancel(cancelled)[0] == 200
    container.webhooks.failing = False
    assert work(retrying) == "completed"
    receiver.script = [500]
    assert dispatch(retrying)[0] == 503  # attempted once: Cloud Tasks holds its retry
    assert container.webhooks.enqueued == [retrying]
    for request_id in (completed, cancelled, retrying):
        stale = datetime.now(UTC) - timedelta(minutes=11)
        db.collection("generation_requests").document(request_id).update(
            {"webhook.updated_at": stale}
        )

    status, counts = call(main.sweepStuckGenerations, json_body={})
    assert status == 200 and counts["webhooks_requeued"] == 2, counts
    assert sorted(container.webhooks.enqueued) == sorted([retrying, completed, cancelled])
    for request_id in (completed, cancelled):
        assert dispatch(request_id)[1]["result"] == {"result": "delivered"}
        assert status_of(request_id)["webhook"]["state"] == "delivered"


def test_the_enqueue_failure_refund_announces_the_failure(db, hooks, receiver, tokens):
    class BrokenQueue(RecordingQueue):
        def enqueue(self, generation_request_id: str) -> None:
            raise ConnectionError("Cloud Tasks unavailable")

    container = hooks(queue=BrokenQueue())
    body = request_body(OWNER) | {"webhookUrl": receiver.url()}
    status, answer = call(main.createGenerationRequest, json_body=body)
    assert (status, answer["error_type"], answer["refunded"]) == (503, "queue_failure", True)
    request_id = answer["generationRequestId"]
    assert container.webhooks.enqueued == [request_id]
    assert dispatch(request_id)[1]["result"] == {"result": "delivered"}
    event = verified(secret_of(tokens[OWNER]), receiver.wait_for(1)[0])
    assert event["type"] == "generation.failed"
    assert event["data"]["error_message"] == "Failed to queue generation task"


# --- SSRF: refused at create (400, nothing read or charged) and at delivery ---------------
class NoFirestore:
    """A database that fails the test on any use: proves that nothing was read or written."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"Firestore was used: db.{name}")


BAD_URLS = [
    "http://169.254.169.254/latest/meta-data/",
    "https://169.254.169.254/",
    "https://10.0.0.1/hook",
    "https://192.168.0.10/hook",
    "https://[::ffff:10.0.0.1]/hook",
    "https://[fd00::1]/hook",
    "https://100.64.0.1/hook",
    "http://2130706433/",  # 127.0.0.1, but not spelled as such
    "https://0xa9.0xfe.0xa9.0xfe/",  # 169.254.169.254
    "https://224.0.0.1/",
    "http://hooks.example.com/",  # http: only loopback, only on the emulator
    "ftp://hooks.example.com/",
    "https://user:secret@hooks.example.com/",
    "not a url",
    "",
]


@pytest.mark.parametrize("require_auth", [False, True], ids=["open", "auth-required"])
@pytest.mark.parametrize("url", BAD_URLS)
def test_a_bad_webhook_url_is_a_400_before_any_read_or_charge(monkeypatch, url, require_auth):
    settings = Settings(on_emulator=True, require_auth=require_auth, seed_enabled=True)
    container = Container(settings, NoFirestore(), RecordingQueue())  # type: ignore[arg-type]
    container.verify_token = lambda token: {"uid": OWNER}  # no Auth backend either
    monkeypatch.setattr(main, "container", lambda: container)
    body = request_body(OWNER) | {"webhookUrl": url}
    status, answer = call(main.createGenerationRequest, json_body=body, headers=bearer("t"))
    assert status == 400, answer
    assert (answer["error_type"], answer["error"]) == ("validation", "validation_failed")
    assert [d["field"] for d in answer["details"]] == ["webhookUrl"]


def test_a_refused_url_charges_nothing(db, hooks):
    hooks()
    status, _ = call(
        main.createGenerationRequest,
        json_body=request_body(OWNER) | {"webhookUrl": "https://169.254.169.254/"},
    )
    assert status == 400
    assert balance(db, OWNER) == 500
    assert list(db.collection("generation_requests").limit(1).stream()) == []


@pytest.fixture
def private_dns(monkeypatch) -> None:
    """The system resolver answers private and metadata addresses for two names and fails
    for a third (every other name resolves as usual)."""
    real = socket.getaddrinfo
    table = {"hooks.example.com": "10.0.0.7", "metadata.example.com": "169.254.169.254"}

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host == "missing.example.com":
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        if host in table:
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (table[host], port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


def test_a_host_resolving_to_a_non_public_address_reads_like_a_missing_one(db, hooks, private_dns):
    """Never sent, and the owner cannot tell a private or metadata address from a name that
    does not resolve: the same lastError, the same retries, the same end."""
    hooks(sender=PinnedWebhookSender(EMULATOR), webhook_max_attempts=2)  # the system resolver
    hosts = ["hooks.example.com", "metadata.example.com", "missing.example.com"]
    ids = [create(f"https://{host}/hook") for host in hosts]  # names: accepted at create
    seen = []
    for request_id in ids:
        work(request_id)
        first = dispatch(request_id)[0]
        after_first = status_of(request_id)["webhook"]
        status, body = dispatch(request_id)
        seen.append((first, after_first, status, body["result"], status_of(request_id)["webhook"]))
    assert seen[0] == seen[1] == seen[2], seen
    first, after_first, status, result, final = seen[0]
    assert first == 503 and after_first == {
        "state": "pending",
        "attempts": 1,
        "lastStatusCode": None,
        "lastError": "address not allowed or unreachable",
    }
    assert (status, result) == (200, {"result": "failed"})
    assert final == after_first | {"state": "failed", "attempts": 2}


# --- the signing secret: owner only, a credential in every mode --------------------------------
@pytest.mark.parametrize("require_auth", [False, True], ids=["open", "auth-required"])
def test_the_secret_is_the_callers_own_created_once_and_rotated(
    make_container, tokens, require_auth
):
    make_container(require_auth=require_auth)
    for handler, method in ((main.getWebhookSecret, "GET"), (main.rotateWebhookSecret, "POST")):
        for headers in (None, bearer("not-a-token")):
            status, body = call(handler, method, headers=headers)
            assert status == 401 and body["error_type"] == "unauthenticated", body
            assert body["error"] in ("missing_token", "invalid_token")

    first = secret_of(tokens[OWNER])
    assert first.startswith("whsec_") and secret_of(tokens[OWNER]) == first
    other = secret_of(tokens[OTHER])
    assert other != first

    status, rotated = call(main.rotateWebhookSecret, "POST", headers=bearer(tokens[OWNER]))
    assert status == 200 and rotated["success"] is True, rotated
    assert rotated["secret"].startswith("whsec_") and rotated["secret"] != first
    assert secret_of(tokens[OWNER]) == rotated["secret"]
    assert secret_of(tokens[OTHER]) == other  # another user's is untouched


def test_the_secret_endpoints_answer_like_the_others(make_container, tokens):
    make_container()
    with_token = bearer(tokens[OWNER])
    with _APP.app_context():
        response = main.getWebhookSecret(make_request("GET", headers=with_token))
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert call(main.getWebhookSecret, "POST", headers=with_token, json_body={})[0] == 405
    assert call(main.rotateWebhookSecret, "GET", headers=with_token)[0] == 405
    status, body = call(
        main.rotateWebhookSecret,
        "POST",
        headers=with_token,
        data=b"{not json",
        content_type="application/json",
    )
    assert (status, body["error"]) == (400, "invalid_json")


def test_concurrent_first_calls_agree_on_one_secret(make_container, tokens):
    make_container()
    barrier = threading.Barrier(8)

    def first_call(_: int) -> str:
        barrier.wait()
        return secret_of(tokens[OTHER])

    with ThreadPoolExecutor(8) as pool:
        secrets = set(pool.map(first_call, range(8)))
    assert len(secrets) == 1


@pytest.mark.parametrize("require_auth", [False, True], ids=["open", "auth-required"])
def test_an_api_key_can_neither_read_nor_rotate_the_secret(make_container, tokens, require_auth):
    """A leaked key never yields the secret, which would outlive the key's revocation."""
    make_container(require_auth=require_auth)
    status, created = call(
        main.createApiKey, "POST", headers=bearer(tokens[OWNER]), json_body={"name": "hooks"}
    )
    assert status == 201, created
    secret = secret_of(tokens[OWNER])
    for handler, method in ((main.getWebhookSecret, "GET"), (main.rotateWebhookSecret, "POST")):
        status, body = call(handler, method, headers=bearer(created["apiKey"]))
        assert (status, body["error_type"], body["error"]) == (
            403,
            "forbidden",
            "id_token_required",
        )
        assert "whsec_" not in repr(body)
    assert secret_of(tokens[OWNER]) == secret  # not rotated
