"""Property-based fuzzing of every HTTP function over real HTTP (the Functions emulator).

Hypothesis generates batches of requests (methods, content types, JSON and non-JSON bodies,
unicode / huge / `/`-containing values, query strings, Idempotency-Key, Cancel-After and other
headers); each
batch is sent through a small thread pool. Properties: no 5xx, every error is the documented
envelope, no internals leak, CORS headers everywhere (admin functions: none for an unlisted
origin), and afterwards the ledger invariant holds.
The `seeded` fixture runs once for the whole run, not per example.
"""

from __future__ import annotations

import json
import os
import random
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests
from google.cloud import firestore
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st

from tests.integration.conftest import FUNCTIONS_BASE
from tests.support.http import emulator_transport_error
from tests.support.ledger import ledger_violations

BATCH = 25
BATCHES = 84  # 2,100 requests
WORKERS = 2  # the emulator starts a worker process per concurrent call: keep it small
METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"]
# Allowed methods per function. The admin writers (seed, report run) are fuzzed with every
# other method only: a valid POST would reseed or run a report, which is slow and not input.
FUNCTIONS: dict[str, list[str]] = {
    "createGenerationRequest": ["POST"],
    "createAccount": ["POST"],  # without a real ID token: 401 / 403, nothing made
    "getGenerationStatus": ["GET", "POST"],
    "listGenerationRequests": ["GET"],
    "getUserCredits": ["GET", "POST"],
    "validate_user": ["GET", "POST"],
    "listUsers": ["GET"],
    "getCatalog": ["GET"],
    "health": ["GET"],
    "listReports": ["GET"],
    "getReport": ["GET"],
    "seed_database": [],
    "scheduleWeeklyReport": [],
    "sweepStuckGenerations": [],
    "createCheckoutSession": ["POST"],
    "stripeWebhook": ["POST"],
    "grantCredits": ["POST"],
    "deleteGenerationRequest": ["POST"],  # valid ids are unknown: 404, nothing deleted
    "deleteAccount": ["POST"],  # without a real ID token: 401 / 403, nothing deleted
    "exportAccountData": ["GET", "POST"],
}
ADMIN_FUNCTIONS = {
    "listUsers",
    "listReports",
    "getReport",
    "seed_database",
    "scheduleWeeklyReport",
    "sweepStuckGenerations",
    "grantCredits",
}
STATUS_OF = {
    "validation": {400},
    "unauthenticated": {401},
    "insufficient_credits": {402},
    "forbidden": {403},
    "not_found": {404},
    "method_not_allowed": {405},
    "idempotency_conflict": {409, 422},
    "queue_failure": {503},
    "payload_too_large": {413},
    "unsupported_media_type": {415},
    "too_many_in_flight": {429},
    "too_many_streams": {429},
    "busy": {503},
    "unavailable": {503},
    "system": {500},
    "conflict": {409},  # grantCredits: a grantId used with another body
}
LEAKS = ("Traceback", "Error(", 'File "', "site-packages", "/work/", "pydantic", ".py:")
TERMINAL = {"completed", "failed"}

USERS = ["arda", "havanur", "mike_creative", "bot_spammer", "new_enterprise", "nobody"]
VALID: dict[str, list[Any]] = {
    "userId": USERS,
    "model": ["Model A", "Model B"],
    "style": ["realistic", "anime", "Oil Painting", " CYBERPUNK ", "watercolor"],
    "color": ["vibrant", "monochrome", "Pastel", "neon"],
    "size": ["512x512", "1024x1024", "1024x1792"],
    "prompt": ["A cat", "  a lighthouse at dusk  "],
    "generationRequestId": ["00000000-0000-4000-8000-000000000000"],
    "limit": [1, 50, 200, "3"],
    "cursor": [""],
    "reportId": ["weekly_report_2025_W31"],
    "packId": ["pack_50", "pack_200", "pack_none"],
}
SPECIAL = ["", " ", "..", ".", "__x__", "a/b", "/", "//users", "null", "0", "-1", "\x00", "💥🎨"]

# --- strategies --------------------------------------------------------------------------
printable = st.characters(min_codepoint=0x21, max_codepoint=0x7E)
huge = st.builds(lambda c, n: c * n, st.sampled_from("aü/💥 \x00"), st.integers(101, 20_000))
# st.text leaves out surrogates (category Cs) unless asked: ask, and splice them into text.
lone_surrogates = st.text(st.characters(categories=["Cs"]), min_size=1, max_size=3)
texts = st.one_of(
    st.text(max_size=30),  # any unicode, control characters included
    st.builds(lambda a, s, b: a + s + b, st.text(max_size=5), lone_surrogates, st.text(max_size=5)),
    st.text(alphabet="/._- ", max_size=8),
    st.sampled_from(SPECIAL),
    huge,
)
# json.dumps spells non-finite floats NaN / Infinity / -Infinity.
numbers = st.one_of(st.integers(), st.floats())
scalars = st.one_of(st.none(), st.booleans(), numbers, texts)
any_json = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=6,
)


ID_FIELDS = {"userId", "generationRequestId", "reportId"}
odd_ids = st.sampled_from(["", " ", ".", "..", "__x__", "a/b", "/", "x" * 101, "arda\n"])


def value_for(name: str) -> st.SearchStrategy[Any]:
    valid = st.sampled_from(VALID[name])
    odd = st.one_of(odd_ids, texts, any_json) if name in ID_FIELDS else st.one_of(texts, any_json)
    return st.one_of(valid, valid, odd)


fields = st.fixed_dictionaries({}, optional={name: value_for(name) for name in VALID})
GRANT_VALID: dict[str, list[Any]] = {
    "userId": USERS,
    "credits": [1, 7, 1_000_000, 1_000_001, 0, "5", 2.0, True],
    "reason": ["fuzz", "  padded  ", "x" * 200],
    "grantId": ["fuzz-grant-01", "fuzz-grant-02", "short"],
}
# A mostly valid grant body: the same few grantIds with varying terms (repeats and conflicts).
grant_bodies = st.fixed_dictionaries(
    {n: st.one_of(st.sampled_from(v), st.sampled_from(v), texts) for n, v in GRANT_VALID.items()},
    optional={"extra": any_json},
)
# A mostly valid create body: every field present, each valid with high probability.
create_bodies = st.fixed_dictionaries(
    {n: value_for(n) for n in ("userId", "model", "style", "color", "size", "prompt")},
    optional={"extra": any_json},
)


@dataclass(frozen=True)
class FuzzRequest:
    function: str
    method: str
    query: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None

    def describe(self) -> str:
        query = {k: v[:40] for k, v in self.query.items()}
        headers = {k: v[:40] for k, v in self.headers.items()}
        body = (self.body or b"")[:120]
        return f"{self.method} {self.function} query={query} headers={headers} body={body!r}"


def query_value(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    return text.encode("utf-8", "replace").decode()[:200]  # stays under Node's header limit


queries = fields.map(lambda f: {k: query_value(v) for k, v in f.items()})
json_bytes = st.one_of(
    st.builds(
        lambda v: json.dumps(v).encode(), st.one_of(fields, create_bodies, grant_bodies, any_json)
    ),
    # raw UTF-8 (lone surrogates become invalid bytes)
    st.builds(
        lambda v: json.dumps(v, ensure_ascii=False).encode("utf-8", "surrogatepass"),
        st.one_of(create_bodies, any_json),
    ),
)


def nested(depth: int, kind: str, inner: bytes) -> bytes:
    opener, closer = (b"[", b"]") if kind == "array" else (b'{"a":', b"}")
    return opener * depth + inner + closer * depth


deep_bodies = st.builds(
    nested,
    st.integers(500, 12_000),
    st.sampled_from(["array", "object"]),
    st.sampled_from([b"1", b"", b'"x"']),  # closed or left open
)
hostile_bodies = st.one_of(
    deep_bodies,
    st.builds(lambda b: b"\xef\xbb\xbf" + b, json_bytes),  # UTF-8 byte order mark
    st.builds(lambda b: b + b" " * 70_000, json_bytes),  # over the 64 KiB limit
    # integers past Python's 4,300-digit conversion limit
    st.builds(lambda n: b'{"userId": ' + b"9" * n + b"}", st.integers(4_000, 6_000)),
)
bodies = st.one_of(
    json_bytes,
    json_bytes,
    hostile_bodies,
    st.none(),
    st.binary(max_size=64),
    st.sampled_from([b"{", b"[]", b"null", b'"x"', b"{}", b"   ", b"\xff\xfe", b"userId=arda"]),
)
content_types = st.one_of(
    st.sampled_from(
        [
            "application/json",
            "application/json; charset=utf-8",
            "APPLICATION/JSON",
            "text/plain",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            "application/jsonx",
        ]
    ),
    st.text(alphabet=printable, max_size=40),
)
idempotency_keys = st.one_of(
    st.sampled_from(["fuzz-key-1", "fuzz-key-2", ""]), st.text(alphabet=printable, max_size=300)
)
cancel_afters = st.one_of(
    st.sampled_from(["5s", "30s", "5m", "1h", "1h30m", "24h", "4s", "25h", "0", "-1", "1.5m", ""]),
    st.text(alphabet=printable, max_size=40),
)
headers = st.fixed_dictionaries(
    {},
    optional={
        "Content-Type": content_types,
        "Idempotency-Key": idempotency_keys,
        "Cancel-After": cancel_afters,
        "Authorization": st.text(alphabet=printable, max_size=60).map(lambda t: f"Bearer {t}"),
        "X-Forwarded-For": st.text(alphabet=printable, max_size=30),
        # text/event-stream: refusals before a status stream must still be the JSON envelope
        "Accept": st.sampled_from(
            ["*/*", "text/html", "application/xml", "text/event-stream", "text/event-stream, */*"]
        ),
        "Last-Event-ID": st.text(alphabet=printable, max_size=80),
    },
)


@st.composite
def fuzz_requests(draw: st.DrawFn) -> FuzzRequest:
    function = draw(st.sampled_from(list(FUNCTIONS)))
    allowed = FUNCTIONS[function]
    if allowed:
        method = draw(st.one_of(st.sampled_from(allowed), st.sampled_from(METHODS)))
    else:
        method = draw(st.sampled_from([m for m in METHODS if m != "POST"]))
    body = draw(bodies)
    hdrs = draw(headers)
    if body is not None and "Content-Type" not in hdrs and draw(st.booleans()):
        hdrs = hdrs | {"Content-Type": "application/json"}
    return FuzzRequest(function, method, draw(queries), hdrs, body)


# --- sending and checking ----------------------------------------------------------------
_local = threading.local()


def session() -> requests.Session:
    if not hasattr(_local, "session"):
        _local.session = requests.Session()
    return _local.session


def send(request: FuzzRequest) -> list[tuple[str, str]]:
    """Send one request; every broken property as (kind, report with the request)."""
    for _ in range(2):
        response = session().request(
            request.method,
            f"{FUNCTIONS_BASE}/{request.function}",
            params=request.query,
            headers=request.headers,
            data=request.body,
            timeout=120,
        )
        if not emulator_transport_error(response):
            break
    return [
        (f"{request.function} {problem[:40]}", f"{problem}\n    {request.describe()}")
        for problem in check(request, response)
    ]


def check(request: FuzzRequest, response: requests.Response) -> Iterator[str]:
    status = response.status_code
    if status >= 500:
        yield f"{status}: {response.text[:300]}"
    allow_origin = response.headers.get("Access-Control-Allow-Origin")
    if request.function in ADMIN_FUNCTIONS:
        if allow_origin is not None:  # the fuzzer sends no Origin: no page may read the answer
            yield f"{status} admin answer with CORS for {allow_origin!r}"
    elif allow_origin != "*":
        yield f"{status} without CORS headers"
    if request.method == "HEAD" or status == 204:
        return
    if response.headers.get("Content-Type", "").startswith("text/event-stream"):
        if status != 200 or not response.text.startswith("retry: "):
            yield f"{status} event stream that is not one: {response.text[:200]!r}"
        return
    leaked = [marker for marker in LEAKS if marker in response.text]
    if leaked:
        yield f"{status} leaks {leaked}: {response.text[:300]}"
    try:
        body = response.json()
    except ValueError:
        yield f"{status} is not JSON: {response.text[:200]!r}"
        return
    if status >= 400:
        yield from check_envelope(status, body)


def check_envelope(status: int, body: Any) -> Iterator[str]:
    if not isinstance(body, dict):
        yield f"{status} body is not an object: {body!r:.200}"
        return
    if body.get("success") is not False:
        yield f"{status} without success=false: {body!r:.200}"
    if status not in STATUS_OF.get(body.get("error_type"), set()):
        yield f"{status} with error_type {body.get('error_type')!r}"
    for key in ("message", "error"):
        if not isinstance(body.get(key), str) or not body[key]:
            yield f"{status} without a {key} string: {body!r:.200}"
    details = body.get("details", [])
    if not isinstance(details, list) or not all(
        isinstance(d, dict)
        and set(d) == {"field", "message"}
        and all(isinstance(v, str) for v in d.values())
        for d in details
    ):
        yield f"{status} with malformed details: {details!r:.200}"


def wait_until_settled(db: firestore.Client, timeout: float = 120) -> None:
    """Let Cloud Tasks and the worker finish every accepted request (refund iff failed)."""
    deadline = time.monotonic() + timeout
    while True:
        statuses = [s.get("status") for s in db.collection("generation_requests").stream()]
        open_requests = [s for s in statuses if s not in TERMINAL]
        if not open_requests:
            return
        assert time.monotonic() < deadline, f"{len(open_requests)} requests never settled"
        time.sleep(0.5)


@pytest.fixture
def pool() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(WORKERS) as executor:
        yield executor


def test_http_functions_survive_fuzzing(db, pool):
    fuzz_seed = int(os.environ.get("FUZZ_SEED") or random.randrange(2**32))
    sent: list[int] = []
    problems: dict[str, str] = {}  # kind -> first report, to list each kind of problem once

    @seed(fuzz_seed)
    @settings(
        max_examples=BATCHES,
        deadline=None,
        database=None,
        phases=[Phase.generate],  # shrinking would replay whole batches over HTTP
        suppress_health_check=list(HealthCheck),
    )
    @given(st.lists(fuzz_requests(), min_size=BATCH, max_size=BATCH))
    def send_batch(batch: list[FuzzRequest]) -> None:
        for result in pool.map(send, batch):
            for kind, report in result:
                problems.setdefault(kind, report)
        sent.append(len(batch))

    requests.get(f"{FUNCTIONS_BASE}/health", timeout=60)  # warm the emulator
    send_batch()
    assert sum(sent) >= 2_000
    wait_until_settled(db)
    failures = list(problems.values())[:15] + ledger_violations(db)
    assert not failures, f"FUZZ_SEED={fuzz_seed}: {len(problems)} kinds of problem\n" + "\n".join(
        failures
    )
