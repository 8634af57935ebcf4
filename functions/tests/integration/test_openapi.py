"""docs/openapi.yaml is a valid OpenAPI 3.1 document, and the running functions conform to it.

Schemathesis fuzzes every documented operation (positive and negative data, at most
MAX_EXAMPLES per operation) against the Functions emulator at FUNCTIONS_BASE_URL and checks
each answer: no 5xx, a documented status code, content type, headers (CORS) and body schema.
`seed_database` and `scheduleWeeklyReport` are not fuzzed (they reset data / are slow); one
real call of each is validated instead, as is a scripted flow that reaches the status codes
random data rarely does (202, 402, 422, a finished request, a second page of history).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
import yaml
from google.cloud import firestore
from hypothesis import HealthCheck, settings
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate as validate_openapi
from schemathesis.core.transport import Response

from tests.integration.conftest import FUNCTIONS_BASE, request_body
from tests.support.function_names import HTTP_FUNCTIONS

OPENAPI_PATH = Path(__file__).resolve().parents[3] / "docs" / "openapi.yaml"
MAX_EXAMPLES = 30
NOT_FUZZED = ["/seed_database", "/scheduleWeeklyReport"]
TERMINAL = {"completed", "failed"}


pytestmark = pytest.mark.skipif(
    not os.environ.get("CLOUD_TASKS_EMULATOR_HOST"), reason="needs the full emulator suite"
)

CONFIG = schemathesis.Config.from_dict(
    {
        "base-url": FUNCTIONS_BASE,
        "request-timeout": 30,
        "generation": {
            "mode": "all",
            "max-examples": MAX_EXAMPLES,
            "allow-x00": False,
            "with-security-parameters": False,
        },
        "phases": {"stateful": {"enabled": False}},
        "checks": {
            # Valid-by-schema data may still be refused by business rules (unknown user,
            # unknown catalog id, whitespace-only strings): a documented 4xx, not a failure.
            "positive_data_acceptance": {"enabled": False},
            # Auth is documented as optional (not required on the emulator).
            "ignored_auth": {"enabled": False},
            # Undocumented methods are covered by the `*_methodNotAllowed` operations.
            "unsupported_method": {"enabled": False},
        },
    }
)

schema = schemathesis.openapi.from_path(OPENAPI_PATH, config=CONFIG)
fuzzed = schema.exclude(path=NOT_FUZZED, method="POST")


def operation_case(path: str, method: str, **kwargs: Any) -> schemathesis.Case:
    return schema[path][method].Case(**kwargs)


def call(path: str, method: str, **kwargs: Any) -> Response:
    """One explicit request, validated against the document like the fuzzed ones."""
    if "body" in kwargs:
        kwargs.setdefault("media_type", "application/json")
    return operation_case(path, method, **kwargs).call_and_validate()


@pytest.fixture
def settled(db: firestore.Client, seeded: None) -> Iterator[None]:
    """Let every queued generation finish before the ledger check of `seeded` runs."""
    yield
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        busy = (
            db.collection("generation_requests")
            .where(filter=firestore.FieldFilter("status", "in", ["queued", "processing"]))
            .limit(1)
            .get()
        )
        if not busy:
            return
        time.sleep(0.2)
    pytest.fail("generation requests still queued or processing after 60 s")


def test_document_is_valid_openapi() -> None:
    document = yaml.safe_load(OPENAPI_PATH.read_text(encoding="utf-8"))
    validate_openapi(document)
    assert document["openapi"].startswith("3.1")
    documented = {path.lstrip("/") for path in document["paths"]}
    assert documented == HTTP_FUNCTIONS


@fuzzed.parametrize()
@settings(
    deadline=None,
    max_examples=MAX_EXAMPLES,
    suppress_health_check=list(HealthCheck),
)
@pytest.mark.usefixtures("settled")
def test_api_conforms(case: schemathesis.Case) -> None:
    case.call_and_validate()


@pytest.mark.parametrize(
    ("path", "query"),
    [
        ("/validate_user", {"userId": "__x__"}),
        ("/getUserCredits", {"userId": "."}),
        ("/getUserCredits", {"userId": "arda", "cursor": "a/b"}),
        ("/getUserCredits", {"userId": "arda", "cursor": ".."}),
        ("/getGenerationStatus", {"generationRequestId": ".."}),
        ("/getReport", {"reportId": "__x__"}),
    ],
)
def test_unsafe_ids_are_rejected(path: str, query: dict[str, str]) -> None:
    """Ids must be Firestore-safe document ids (no `/`, not `.`/`..`, not `__x__`): a clear
    400, never a 5xx."""
    response = call(path, "GET", query=query)
    assert response.status_code == 400


def test_seed_database_conforms() -> None:
    response = call("/seed_database", "POST", body={})
    assert response.status_code == 200
    assert response.json()["counts"]["users"] == 13


def test_weekly_report_conforms() -> None:
    assert call("/seed_database", "POST", body={}).status_code == 200
    run = call("/scheduleWeeklyReport", "POST", body={})
    assert run.status_code == 200
    report_id = run.json()["report_data"]["id"]
    assert call("/getReport", "GET", query={"reportId": report_id}).status_code == 200
    assert call("/getReport", "GET").json()["report"]["id"] == report_id
    listed = call("/listReports", "GET", query={"limit": 5}).json()["reports"]
    assert [r["id"] for r in listed] == [report_id]
    tuesday = call("/scheduleWeeklyReport", "POST", body={"weekStart": "2025-08-05"})
    assert tuesday.status_code == 400
    assert tuesday.json()["reportStatus"] == "failed"


def wait_terminal(request_id: str, timeout: float = 45.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        body = call("/getGenerationStatus", "GET", query={"generationRequestId": request_id}).json()
        if body["status"] in TERMINAL or time.monotonic() > deadline:
            return dict(body)
        time.sleep(0.2)


def test_generation_flow_conforms() -> None:
    path = "/createGenerationRequest"
    key = {"Idempotency-Key": "openapi-flow-1"}
    created = call(path, "POST", body=request_body(), headers=key)
    assert created.status_code == 202
    request_id = created.json()["generationRequestId"]
    replay = call(path, "POST", body=request_body(), headers=key)
    assert replay.json()["generationRequestId"] == request_id
    other = call(path, "POST", body=request_body(prompt="Something else"), headers=key)
    assert other.status_code == 422

    # The `test` profile makes Model A succeed and Model B fail; either way both must finish.
    model_b = call(path, "POST", body=request_body(model="Model B", size="512x512"))
    assert model_b.status_code == 202
    assert wait_terminal(request_id)["status"] in TERMINAL
    assert wait_terminal(model_b.json()["generationRequestId"])["status"] in TERMINAL
    post_status = call(
        "/getGenerationStatus", "POST", body={"generationRequestId": request_id}
    ).json()
    assert post_status["progress"] == 100

    poor = call(path, "POST", body=request_body("mike_creative", size="1024x1792"))
    assert poor.status_code == 402
    assert call(path, "POST", body=request_body("nobody")).status_code == 404
    assert call(path, "POST", body=request_body(style="nope", color="")).status_code == 400
    assert call(path, "GET").status_code == 405
    assert call(path, "OPTIONS").status_code == 204

    first = call("/getUserCredits", "GET", query={"userId": "arda", "limit": 1}).json()
    assert first["nextCursor"] is not None
    second = call(
        "/getUserCredits",
        "POST",
        body={"userId": "arda", "limit": 1, "cursor": first["nextCursor"]},
    ).json()
    assert second["transactions"][0]["id"] != first["transactions"][0]["id"]
    listed = call("/listGenerationRequests", "GET", query={"userId": "arda"}).json()
    assert {r["generationRequestId"] for r in listed["requests"]} >= {request_id}
    assert call("/validate_user", "GET", query={"userId": "nobody"}).json()["exists"] is False
    assert call("/validate_user", "POST", body={"userId": "arda"}).status_code == 200
    assert len(call("/listUsers", "GET").json()["users"]) == 13
    assert call("/getCatalog", "GET").status_code == 200


def test_waited_generation_conforms() -> None:
    """`Prefer: wait`: the documented 200 of a create, a status read and a refused header;
    and the status stream of the finished request."""
    path = "/createGenerationRequest"
    waited = call(path, "POST", body=request_body(), headers={"Prefer": "wait=30"})
    assert waited.status_code == 200, waited.text
    assert waited.headers["preference-applied"] == ["wait=30"]  # lower-cased, as lists
    request_id = waited.json()["generationRequestId"]
    status = call(
        "/getGenerationStatus",
        "GET",
        query={"generationRequestId": request_id},
        headers={"Prefer": "wait=1"},
    )
    assert status.status_code == 200 and status.json()["status"] in TERMINAL
    stream = call(
        "/getGenerationStatus",
        "GET",
        query={"generationRequestId": request_id},
        headers={"Accept": "text/event-stream"},
    )  # a finished request: its one event, then the end
    assert stream.status_code == 200 and stream.headers["content-type"][0].startswith(
        "text/event-stream"
    )
    assert stream.content.decode().count("event: status\n") == 1
    refused = call(path, "POST", body=request_body(), headers={"Prefer": "wait=61"})
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_prefer"


def test_delete_conforms() -> None:
    """deleteGenerationRequest: a finished request's documented 200, twice, and the status and
    list bodies of a deleted request."""
    waited = call(
        "/createGenerationRequest", "POST", body=request_body(), headers={"Prefer": "wait=30"}
    )
    request_id = waited.json()["generationRequestId"]
    assert wait_terminal(request_id)["status"] in TERMINAL
    ids = {"generationRequestId": request_id}
    deleted = call("/deleteGenerationRequest", "POST", body=ids)
    assert deleted.status_code == 200 and deleted.json()["deleted"] is True
    assert call("/deleteGenerationRequest", "POST", body=ids).json() == deleted.json()
    assert call("/getGenerationStatus", "GET", query=ids).json()["deleted"] is True
    assert call("/listGenerationRequests", "GET", query={"userId": "arda"}).status_code == 200
    assert call("/deleteGenerationRequest", "GET").status_code == 405


def test_a_queued_status_conforms(make_container: Any) -> None:
    """A request held queued (created in-process, no task): its status answer, `queuePosition`
    an integer, validated against the document; the cap's string form by the schema alone."""
    import main
    from tests.support.http import call as call_in_process

    make_container()
    for _ in range(2):
        status, created = call_in_process(main.createGenerationRequest, json_body=request_body())
        assert status == 202, created
    answer = call(
        "/getGenerationStatus", "GET", query={"generationRequestId": created["generationRequestId"]}
    )
    assert (answer.json()["status"], answer.json()["queuePosition"]) == ("queued", 1)

    document = yaml.safe_load(OPENAPI_PATH.read_text(encoding="utf-8"))
    position = document["components"]["schemas"]["QueuePosition"]
    valid = [0, 1, 1000, "1000+", None]
    invalid = [-1, 1001, "999+", "1000", 1.5]
    assert [Draft202012Validator(position).is_valid(v) for v in valid + invalid] == [True] * len(
        valid
    ) + [False] * len(invalid)
