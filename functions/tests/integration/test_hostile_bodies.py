"""No 5xx from any request body: every POST endpoint answers hostile bodies with a 4xx in the
error envelope and changes nothing. Real HTTP through the Functions emulator."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from firebase_admin import auth

from container import firebase_app
from tests.integration.conftest import FUNCTIONS_BASE, request_body
from tests.integration.test_bad_input import snapshot
from tests.support import stripe_events
from tests.support.auth_emulator import bearer, sign_up
from tests.support.http import emulator_transport_error
from tests.support.secret_local import local_secret

POST_FUNCTIONS = [
    "createGenerationRequest",
    "getGenerationStatus",
    "getUserCredits",
    "validate_user",
    "seed_database",
    "scheduleWeeklyReport",
    "sweepStuckGenerations",
    "createCheckoutSession",
    "stripeWebhook",
    "createAccount",
    "grantCredits",
    "deleteGenerationRequest",
    "deleteAccount",
    "exportAccountData",
]
LIMIT = 64 * 1024
VALID = json.dumps(request_body()).encode()

BODIES: dict[str, bytes] = {
    "deep-arrays": b"[" * 60_000,  # under the size limit: exhausts the parser's recursion
    "deep-objects": b'{"a":' * 12_000,
    "deep-arrays-huge": b"[" * 100_000,
    "deep-objects-huge": b'{"a":' * 50_000,
    "5000-digit-integer": b'{"userId": ' + b"7" * 5000 + b"}",
    "5000-digit-float": b'{"userId": 1' + b"0" * 5000 + b".5}",
    "float-overflow": b'{"userId": "arda", "seed": 1e999}',
    "utf8-bom": b"\xef\xbb\xbf" + VALID,
    "nan": b'{"userId": NaN}',
    "infinity": b'{"userId": "arda", "seed": -Infinity}',
    "lone-surrogate": VALID.replace(b'"A beautiful', b'"\\ud800 beautiful'),
    "lone-surrogate-key": b'{"\\udfff": 1, "userId": "arda"}',
    "invalid-utf8": VALID.replace(b"beautiful", b"beaut\xff\xfeul"),
    "overlong-utf8": VALID.replace(b"A beautiful", b"\xc0\xaf beautiful"),
    "empty": b"",
    "whitespace": b"  \n ",
    "over-limit": b'{"prompt": "' + b"x" * LIMIT + b'"}',
    # A grant that would be valid but for one hostile value.
    "grant-bool-credits": b'{"userId":"arda","credits":true,"reason":"x","grantId":"hostile-01"}',
    "grant-huge-credits": b'{"userId":"arda","credits":1'
    + b"0" * 400
    + b',"reason":"x","grantId":"hostile-01"}',
    "grant-float-credits": b'{"userId":"arda","credits":5.0,"reason":"x","grantId":"hostile-01"}',
    "grant-surrogate-reason": b'{"userId":"arda","credits":5,"reason":"\\ud800",'
    + b'"grantId":"hostile-01"}',
    "grant-slash-id": b'{"userId":"arda","credits":5,"reason":"x","grantId":"../../x/y/z"}',
}


def post(
    name: str, data: bytes | Iterator[bytes], headers: dict[str, str] | None = None
) -> requests.Response:
    response = send(name, data, headers)
    if emulator_transport_error(response) and isinstance(data, bytes):
        response = send(name, data, headers)  # the emulator lost its worker process
    return response


def send(
    name: str, data: bytes | Iterator[bytes], headers: dict[str, str] | None = None
) -> requests.Response:
    return requests.post(
        f"{FUNCTIONS_BASE}/{name}",
        data=data,
        headers={"Content-Type": "application/json"} | (headers or {}),
        timeout=60,
    )


def assert_clean_4xx(response: requests.Response) -> dict:
    assert 400 <= response.status_code < 500, (response.status_code, response.text[:300])
    body = response.json()
    assert body["success"] is False and body["error_type"] and body["message"], body
    assert "Traceback" not in response.text and "Error(" not in response.text, body
    return body


# A grant-* body is valid JSON but for one of grantCredits' fields: only grantCredits gets it.
CASES = [
    (name, case)
    for case in BODIES
    for name in POST_FUNCTIONS
    if not case.startswith("grant-") or name == "grantCredits"
]


@pytest.mark.parametrize(("name", "case"), CASES)
def test_hostile_body_is_a_clean_4xx_and_changes_nothing(db, name, case):
    if case in ("empty", "whitespace") and name in ("seed_database", "sweepStuckGenerations"):
        pytest.skip("an empty body is a valid 'no options' call of these admin functions")
    if case in ("empty", "whitespace") and name == "scheduleWeeklyReport":
        pytest.skip("an empty body runs the report (stores it): covered by test_reports")
    before = snapshot(db), grants(db)
    body = assert_clean_4xx(post(name, BODIES[case]))
    if case.endswith("huge") or case == "over-limit":
        assert body["error_type"] == "payload_too_large", body
    assert (snapshot(db), grants(db)) == before


def grants(db) -> int:
    return len(list(db.collection("grants").select([]).stream()))


@pytest.mark.parametrize("case", list(BODIES))
def test_hostile_body_signed_for_stripe_webhook_is_a_clean_4xx(db, case):
    """Correctly signed with the stack's secret, so the body itself is parsed."""
    raw = BODIES[case]
    before = snapshot(db)
    response = requests.post(
        f"{FUNCTIONS_BASE}/stripeWebhook",
        data=raw,
        headers={
            "Content-Type": "application/json",
            "Stripe-Signature": stripe_events.signature(raw, local_secret("STRIPE_WEBHOOK_SECRET")),
        },
        timeout=60,
    )
    body = assert_clean_4xx(response)
    if case.endswith("huge") or case == "over-limit":
        assert body["error_type"] == "payload_too_large", body
    assert snapshot(db) == before


@pytest.mark.parametrize("name", ["createGenerationRequest", "seed_database"])
def test_chunked_body_over_the_limit_is_413(db, name):
    """No Content-Length (chunked transfer): still cut at the limit, never read in full."""
    before = snapshot(db)

    def chunks() -> Iterator[bytes]:
        for _ in range(64):
            yield b"[" * 4096

    response = send(name, chunks())
    if emulator_transport_error(response):
        # Answering before the whole body arrived can make the emulator's proxy lose the
        # socket it was still streaming into: its own 500, not ours. Send it once more.
        response = send(name, chunks())
    assert response.status_code == 413, response.text[:300]
    assert response.json()["error_type"] == "payload_too_large"
    assert snapshot(db) == before


CANCEL_AFTERS = ["25h", "4s", "-5s", "1e3s", "5s,5s", "0x10s", "5 s", "ä5s", "9" * 2000 + "s"]


@pytest.mark.parametrize("value", CANCEL_AFTERS)
def test_hostile_cancel_after_is_a_clean_4xx_and_changes_nothing(db, value):
    """A valid body with a bad Cancel-After: 400 before anything is charged."""
    before = snapshot(db)
    header: Any = {"Cancel-After": value.encode("latin-1")}  # sent as these bytes
    body = assert_clean_4xx(post("createGenerationRequest", VALID, header))
    if body["error_type"] != "unauthenticated":  # with auth required, the 401 comes first
        assert body["error"] == "invalid_cancel_after", body
        assert body["details"][0]["field"] == "Cancel-After"
    assert snapshot(db) == before


@pytest.fixture(scope="module")
def signed_up() -> tuple[str, str]:
    """A signed-up user without an account: its uid and ID token."""
    return sign_up(f"hostile-{uuid.uuid4().hex[:12]}@example.com")


@pytest.mark.parametrize("case", [c for c in BODIES if c not in ("empty", "whitespace")])
def test_hostile_body_with_an_id_token_makes_no_account(db, signed_up, case):
    """Past the credential check too: createAccount parses its (optional) body before it
    writes, so a hostile one is a clean 4xx and no account is made."""
    uid, token = signed_up
    before = snapshot(db)
    body = assert_clean_4xx(post("createAccount", BODIES[case], bearer(token)))
    assert body["error_type"] in ("validation", "payload_too_large"), body
    assert snapshot(db) == before
    assert not db.collection("users").document(uid).get().exists


@pytest.mark.parametrize("case", [c for c in BODIES if c not in ("empty", "whitespace")])
def test_hostile_body_with_an_id_token_deletes_nothing(db, signed_up, case):
    """deleteAccount parses its (optional) body before the first step: a hostile one is a
    clean 4xx and the Auth user is still there."""
    uid, token = signed_up
    before = snapshot(db)
    body = assert_clean_4xx(post("deleteAccount", BODIES[case], bearer(token)))
    assert body["error_type"] in ("validation", "payload_too_large"), body
    assert snapshot(db) == before
    assert auth.get_user(uid, app=firebase_app()).uid == uid
