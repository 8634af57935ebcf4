"""End to end through the emulator suite: HTTP function -> Cloud Tasks emulator -> worker.

The `test` profile of scripts/stack/env_local.py makes Model A always succeed and Model B always
fail, with no latency, so both outcomes are deterministic.
"""

from __future__ import annotations

import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from io import BytesIO
from typing import Any
from urllib.parse import quote

import pytest
import requests
from firebase_admin import functions
from PIL import Image

import main
from container import firebase_app
from emulator.storage import emulator_host
from tests.integration.conftest import (
    FUNCTIONS_BASE,
    add_user,
    balance,
    request_body,
    transactions,
)
from tests.support.http import call

HOSTING_BASE = os.environ.get("HOSTING_BASE_URL", "http://127.0.0.1:8888")
TERMINAL = {"completed", "failed"}
STORAGE_HOST = emulator_host()

pytestmark = pytest.mark.skipif(
    not os.environ.get("CLOUD_TASKS_EMULATOR_HOST"), reason="needs the full emulator suite"
)


def url(function: str) -> str:
    return f"{FUNCTIONS_BASE}/{function}"


def create(body: dict[str, Any], **kwargs: Any) -> requests.Response:
    return requests.post(url("createGenerationRequest"), json=body, timeout=30, **kwargs)


def wait_terminal(request_id: str, timeout: float = 45.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        response = requests.get(
            url("getGenerationStatus"), params={"generationRequestId": request_id}, timeout=30
        )
        assert response.status_code == 200, response.text
        body = response.json()
        if body["status"] in TERMINAL or time.monotonic() > deadline:
            return body
        time.sleep(0.2)


def assert_image(image_url: str, request_id: str, size: tuple[int, int]) -> None:
    """The URL downloads the request's PNG, of the requested size, stored under its owner."""
    path = f"generated/arda/{request_id}.png"
    assert image_url.startswith(
        f"{STORAGE_HOST}/download/storage/v1/b/feraset-imagen.appspot.com/o/"
        f"{quote(path, safe='')}?alt=media&token="
    ), image_url
    response = requests.get(image_url, timeout=30)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "image/png"
    with Image.open(BytesIO(response.content)) as image:
        assert (image.format, image.size) == ("PNG", size)


def test_health():
    response = requests.get(url("health"), timeout=30)
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_documented_curl_flow_completes(db):
    credits = requests.get(url("getUserCredits"), params={"userId": "arda"}, timeout=30)
    assert credits.status_code == 200
    assert credits.json() == {
        "success": True,
        "currentCredits": 500,
        "transactions": [],
        "nextCursor": None,
    }

    created = create(request_body())
    assert created.status_code == 202, created.text
    body = created.json()
    assert body["status"] == "queued" and body["deductedCredits"] == 3 and body["imageUrl"] is None

    final = wait_terminal(body["generationRequestId"])
    assert final["status"] == "completed", final
    assert final["progress"] == 100.0
    assert final["error_message"] is None
    assert_image(final["imageUrl"], body["generationRequestId"], (1024, 1024))
    assert final["completed_at"].endswith("+00:00")

    after = requests.get(url("getUserCredits"), params={"userId": "arda"}, timeout=30).json()
    assert after["currentCredits"] == 497
    assert [(t["type"], t["credits"]) for t in after["transactions"]] == [("deduction", 3)]


def test_model_failure_is_refunded(db):
    created = create(request_body(model="Model B", size="512x512"))
    assert created.status_code == 202
    final = wait_terminal(created.json()["generationRequestId"])
    assert final["status"] == "failed"
    assert final["imageUrl"] is None and final["error_message"]
    assert balance(db, "arda") == 500
    assert sorted(t["type"] for t in transactions(db, "arda")) == ["deduction", "refund"]


def test_duplicate_deliveries_through_cloud_tasks_settle_once(db, make_container):
    """Five real Cloud Tasks deliveries of one request (distinct task ids) settle it once."""
    make_container()  # creates in-process with a recording queue: nothing enqueued yet

    status, body = call(main.createGenerationRequest, json_body=request_body())
    assert status == 202
    request_id = body["generationRequestId"]
    queue = functions.task_queue("processImageGeneration", app=firebase_app())
    for _ in range(5):
        queue.enqueue({"data": {"generationRequestId": request_id}})

    final = wait_terminal(request_id)
    assert final["status"] == "completed"
    time.sleep(2)  # let the remaining deliveries run
    doc = db.collection("generation_requests").document(request_id).get().to_dict()
    assert doc["status"] == "completed"
    assert 1 <= doc["attempts"] <= 5
    assert db.collection("users").document("arda").get().get("total_images_generated") == 1


def test_concurrent_http_requests_never_overdraw(db):
    add_user(db, "tight_http", 10)
    barrier = threading.Barrier(20)

    def attempt(_: int) -> int:
        barrier.wait()
        return create(request_body("tight_http", size="1024x1792")).status_code

    with ThreadPoolExecutor(20) as pool:
        statuses = sorted(pool.map(attempt, range(20)))
    assert statuses == [202] * 2 + [402] * 18
    assert balance(db, "tight_http") == 2


def test_credit_history_pages_through_everything(db):
    ids = [
        create(request_body("emma_photo", size="512x512")).json()["generationRequestId"]
        for _ in range(5)
    ]
    for request_id in ids:
        wait_terminal(request_id)
    seen: list[str] = []
    cursor = None
    while True:
        params = {"userId": "emma_photo", "limit": "2"} | ({"cursor": cursor} if cursor else {})
        page = requests.get(url("getUserCredits"), params=params, timeout=30).json()
        assert len(page["transactions"]) <= 2
        seen += [t["id"] for t in page["transactions"]]
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 5
    assert sorted(seen) == sorted(f"deduction_{i}" for i in ids)
    stamps = [
        t["timestamp"]
        for t in requests.get(
            url("getUserCredits"), params={"userId": "emma_photo"}, timeout=30
        ).json()["transactions"]
    ]
    assert stamps == sorted(stamps, reverse=True)


def test_post_variants_and_validate_user(db):
    credits = requests.post(url("getUserCredits"), json={"userId": "  havanur "}, timeout=30)
    assert credits.status_code == 200 and credits.json()["currentCredits"] == 5
    user = requests.get(url("validate_user"), params={"userId": "havanur"}, timeout=30).json()
    assert user == {
        "success": True,
        "message": "User exists",
        "exists": True,
        "user_data": {"name": "Havanur", "email": "havanur@example.com", "current_credits": 5},
    }


def test_catalog_lists_active_entries_in_order(db):
    catalog = requests.get(url("getCatalog"), timeout=30).json()
    assert catalog["models"] == ["Model A", "Model B"]
    assert [s["id"] for s in catalog["styles"]] == [
        "realistic",
        "anime",
        "oil_painting",
        "sketch",
        "cyberpunk",
        "watercolor",
    ]
    assert [c["id"] for c in catalog["colors"]] == [
        "vibrant",
        "monochrome",
        "pastel",
        "neon",
        "vintage",
    ]
    assert [(s["id"], s["credit_cost"]) for s in catalog["sizes"]] == [
        ("512x512", 1),
        ("1024x1024", 3),
        ("1024x1792", 4),
    ]
    packs = [(p["id"], p["credits"], p["amount"], p["currency"]) for p in catalog["creditPacks"]]
    assert packs == [
        ("pack_50", 50, 500, "usd"),
        ("pack_200", 200, 1800, "usd"),
        ("pack_1000", 1000, 8000, "usd"),
    ]
    assert catalog["creditPacks"][0]["name"] == "Starter — 50 credits"


@pytest.mark.parametrize("function", ["createGenerationRequest", "getCatalog", "getUserCredits"])
def test_cors(function):
    preflight = requests.options(
        url(function), headers={"Origin": "http://example.com"}, timeout=30
    )
    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == "*"
    assert preflight.headers["Access-Control-Allow-Methods"] == "GET, POST, OPTIONS"
    assert (
        preflight.headers["Access-Control-Allow-Headers"]
        == "Content-Type, Authorization, Idempotency-Key, Prefer, Cancel-After, Last-Event-ID"
    )
    assert preflight.headers["Access-Control-Max-Age"] == "3600"
    answer = requests.get(url(function), timeout=30)
    assert answer.headers["Access-Control-Allow-Origin"] == "*"
    assert answer.headers["Access-Control-Expose-Headers"] == "Preference-Applied"


def test_hosting_rewrites_reach_the_functions(db):
    response = requests.get(
        f"{HOSTING_BASE}/api/getUserCredits", params={"userId": "arda"}, timeout=30
    )
    assert response.status_code == 200 and response.json()["currentCredits"] == 500
