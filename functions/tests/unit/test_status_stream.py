"""Status streams (`Accept: text/event-stream` on getGenerationStatus): the events, ids,
keepalives and end of a stream on a fake clock (nothing here really sleeps), the refusals that
answer JSON before a stream starts, the per-user slots, and the timeout that must cover a stream.
The same over real HTTP on the emulators: tests/integration/test_status_stream.py."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from flask import Flask, request
from hypothesis import given
from hypothesis import strategies as st
from werkzeug.serving import make_server

from controllers.auth import TokenRejected, UserAuthorizer
from controllers.event_stream import (
    KEEPALIVE,
    StatusStream,
    StreamTimings,
    event_id,
    wants_event_stream,
)
from controllers.generation_controller import GenerationController
from controllers.http import CORS_HEADERS, endpoint
from core import capacity
from core.firestore_client import RPC_DEADLINE_SECONDS
from repositories.slots import RELEASE_SECONDS, TAKE_SECONDS
from schemas.documents import Catalog, GenerationRecord, GenerationStatus
from schemas.responses import generation_status_body
from services.catalog_service import CatalogService
from services.concurrency import ConcurrencySlots
from services.generation_service import GenerationService
from tests.support.fakes import (
    FakeAccounts,
    FakeCatalog,
    FakeGenerations,
    FakeQueue,
    FakeSlots,
    FakeTime,
    ManualClock,
    ScriptedRequests,
)
from tests.support.http import make_request
from tests.support.records import status_record

NOW = datetime(2026, 1, 5, tzinfo=UTC)
SSE = {"Accept": "text/event-stream"}
DEFAULT_TIMINGS = StreamTimings()


def record(status: GenerationStatus, request_id: str = "r1", owner: str = "arda", at: float = 0):
    return status_record(status, NOW, request_id, owner, NOW + timedelta(seconds=at))


def parse(chunks: list[str]) -> list[dict[str, Any]]:
    """The stream's blocks: {"retry": ...}, {"comment": ...} or {"event", "id", "data"}."""
    blocks: list[dict[str, Any]] = []
    for block in "".join(chunks).split("\n\n")[:-1]:
        fields: dict[str, Any] = {}
        for line in block.split("\n"):
            name, _, value = line.partition(":")
            if name == "":
                fields["comment"] = value.strip()
            else:
                fields[name] = json.loads(value) if name == "data" else value.strip()
        blocks.append(fields)
    return blocks


def statuses(blocks: list[dict[str, Any]]) -> list[str]:
    return [b["data"]["status"] for b in blocks if b.get("event") == "status"]


class Released:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self) -> None:
        self.count += 1


def run_stream(
    changes: dict[float, GenerationStatus | None],
    timings: StreamTimings = DEFAULT_TIMINGS,
    seen: str | None = None,
) -> tuple[list[str], FakeTime, ScriptedRequests, Released]:
    """Drain a stream over scripted changes; its chunks, clock, reads and slot release."""
    clock = FakeTime()
    requests = ScriptedRequests(clock, changes, NOW)
    stream = StatusStream(timings, sleep=clock.sleep, monotonic=clock.monotonic)
    released = Released()

    def read() -> GenerationRecord:
        found = requests.get("r1")
        if found is None:
            raise LookupError("gone")
        return found

    first = read()
    chunks = list(stream.events(first, read, generation_status_body, seen, released))
    return chunks, clock, requests, released


# --- the stream itself ------------------------------------------------------------------------
def test_retry_first_then_one_event_per_change_until_the_terminal_one():
    changes = {0: GenerationStatus.QUEUED, 1.0: GenerationStatus.PROCESSING}
    chunks, clock, _, released = run_stream(changes | {3.0: GenerationStatus.COMPLETED})
    blocks = parse(chunks)
    assert blocks[0] == {"retry": "3000"}
    assert statuses(blocks) == ["queued", "processing", "completed"]
    events = [b for b in blocks if b.get("event") == "status"]
    assert all(b["id"] == event_id(b["data"]) for b in events)
    assert len({b["id"] for b in events}) == 3
    assert events[-1]["data"]["imageUrl"] == "https://img/r1.png"
    assert chunks[-1].startswith("event: status\n")  # it ends right after the terminal event
    assert clock.now < 5  # found within a poll of the change, not at the 120 s end
    assert released.count == 1


def test_reads_back_off_from_a_quarter_second_to_two_and_restart_after_a_change():
    changes = {0: GenerationStatus.QUEUED, 5.0: GenerationStatus.PROCESSING}
    _, _, requests, _ = run_stream(changes | {12.0: GenerationStatus.FAILED})
    gaps = [round(b - a, 6) for a, b in zip(requests.reads, requests.reads[1:], strict=False)]
    assert gaps[:5] == [0.25, 0.5, 1.0, 2.0, 2.0]
    after_change = gaps[requests.reads.index(next(r for r in requests.reads if r >= 5)) :]
    assert after_change[:3] == [0.25, 0.5, 1.0]  # quick again after a change
    assert max(gaps) == 2.0


def test_keepalive_comments_when_nothing_was_written_and_the_end_after_max_seconds():
    timings = StreamTimings(max_seconds=50, keepalive_seconds=15)
    chunks, clock, requests, released = run_stream({0: GenerationStatus.QUEUED}, timings)
    blocks = parse(chunks)
    assert statuses(blocks) == ["queued"]
    assert [b for b in blocks if "comment" in b] == [{"comment": "keepalive"}] * 3  # 15, 30, 45
    assert KEEPALIVE == ": keepalive\n\n"
    assert clock.now == pytest.approx(50)  # ends at max_seconds, never later
    assert all(read <= 50 for read in requests.reads)
    assert released.count == 1


def test_shortened_timings_are_honoured():
    timings = StreamTimings(max_seconds=1, keepalive_seconds=0.3, retry_milliseconds=100)
    chunks, clock, _, _ = run_stream({0: GenerationStatus.PROCESSING}, timings)
    blocks = parse(chunks)
    assert blocks[0] == {"retry": "100"}
    assert sum(1 for b in blocks if "comment" in b) == 3  # 0.3, 0.6, 0.9
    assert clock.now == pytest.approx(1)


def test_a_change_between_keepalives_is_sent_and_restarts_the_keepalive_clock():
    timings = StreamTimings(max_seconds=40, keepalive_seconds=15)
    changes = {0: GenerationStatus.QUEUED, 10.0: GenerationStatus.PROCESSING}
    chunks, _, _, _ = run_stream(changes, timings)
    kinds = ["event" if "event" in b else "comment" for b in parse(chunks)[1:]]
    # queued at 0, keepalive at 15 would be next; processing comes ~10 s, then keepalives at ~25
    # and ~40 are due from it, the end (40) cuts the second off
    assert kinds == ["event", "event", "comment"]


def test_last_event_id_of_the_current_state_skips_the_first_event():
    first = generation_status_body(record(GenerationStatus.QUEUED))
    changes = {0: GenerationStatus.QUEUED, 2.0: GenerationStatus.COMPLETED}
    chunks, _, _, _ = run_stream(changes, seen=event_id(first))
    assert statuses(parse(chunks)) == ["completed"]


@pytest.mark.parametrize("seen", ["", "garbage", "queued-zzzz", "x" * 5000, "\x00\u00ff", "0"])
def test_a_malformed_or_old_last_event_id_is_ignored(seen):
    chunks, _, _, _ = run_stream({0: GenerationStatus.CANCELLED}, seen=seen)
    assert statuses(parse(chunks)) == ["cancelled"]


def test_a_read_failing_midway_ends_the_stream_and_gives_the_slot_back():
    chunks, _, _, released = run_stream({0: GenerationStatus.QUEUED, 1.0: None})
    assert statuses(parse(chunks)) == ["queued"]
    assert released.count == 1


def test_closing_the_stream_midway_gives_the_slot_back():
    """What a server does when the client went away: close() the body, GeneratorExit inside."""
    clock = FakeTime()
    requests = ScriptedRequests(clock, {0: GenerationStatus.QUEUED}, NOW)
    stream = StatusStream(sleep=clock.sleep, monotonic=clock.monotonic)
    released = Released()
    first = requests.get("r1")
    assert first is not None
    events = stream.events(first, lambda: first, generation_status_body, None, released)
    assert next(events).startswith("retry:") and next(events).startswith("event: status")
    assert released.count == 0
    events.close()
    assert released.count == 1


def test_the_event_id_names_the_status_and_changes_with_any_field():
    queued = generation_status_body(record(GenerationStatus.QUEUED))
    assert event_id(queued).startswith("queued-")
    assert event_id(queued) == event_id(dict(queued))
    assert event_id(queued) != event_id(queued | {"queuePosition": 3})
    assert "\n" not in event_id(queued) and "\r" not in event_id(queued)


# --- Accept ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("accept", "streams"),
    [
        (None, False),
        ("*/*", False),
        ("application/json", False),
        ("text/*", False),
        ("text/event-stream", True),
        ("TEXT/Event-Stream", True),
        ("text/event-stream; charset=utf-8", True),
        ("application/json, text/event-stream", True),
        ("text/event-stream, */*;q=0.1", True),
        ("application/json, text/event-stream;q=0.5", False),
        ("text/event-stream;q=0", False),
        ("text/event-stream;q=abc", False),  # werkzeug drops an entry it cannot read
    ],
)
def test_only_an_explicit_event_stream_accept_streams(accept, streams):
    headers = {"Accept": accept} if accept is not None else None
    assert wants_event_stream(make_request("GET", headers=headers)) is streams


@given(st.text(st.characters(max_codepoint=0xFF, exclude_characters="\r\n"), max_size=80))
def test_any_accept_header_is_a_yes_or_a_no(accept):
    assert wants_event_stream(make_request("GET", headers={"Accept": accept})) in (True, False)


# --- the controller: refusals as JSON, before the stream -------------------------------------
class Harness:
    def __init__(
        self,
        *records: GenerationRecord,
        require_auth: bool = False,
        stream: StatusStream | None = None,
    ) -> None:
        self.clock = FakeTime()
        self.generations = FakeGenerations(*records)
        wall = ManualClock(NOW)
        service = GenerationService(
            CatalogService(FakeCatalog(Catalog(styles=[], colors=[], sizes=[])), wall),
            self.generations,
            FakeQueue(),
            wall,
            max_in_flight=10,
        )
        self.slots = FakeSlots()
        stream_slots = ConcurrencySlots(
            self.slots, wall, kind="stream", limit=4, lease=timedelta(minutes=2)
        )
        waits = ConcurrencySlots(FakeSlots(), wall, kind="wait", limit=4, lease=timedelta(1))
        self.controller = GenerationController(
            service,
            UserAuthorizer(require_auth, verify),
            None,  # type: ignore[arg-type]
            waits=waits,
            accounts=FakeAccounts(["arda", "havanur"]),
            streams=stream_slots,
            status_stream=stream
            or StatusStream(
                StreamTimings(max_seconds=3), sleep=self.clock.sleep, monotonic=self.clock.monotonic
            ),
        )
        self.handler = endpoint(["GET", "POST"])(self.controller.status)

    def get(self, request_id: str = "r1", **headers: str):
        query = {"generationRequestId": request_id}
        return self.handler(make_request("GET", query=query, headers=SSE | headers))


def verify(token: str) -> dict[str, Any]:
    if token.startswith("token-"):
        return {"uid": token.removeprefix("token-")}
    raise TokenRejected("InvalidIdTokenError")


def bearer(uid: str) -> dict[str, str]:
    return {"Authorization": f"Bearer token-{uid}"}


def assert_json_error(response, status: int, error: str) -> dict[str, Any]:
    assert response.status_code == status
    assert response.mimetype == "application/json"
    body = json.loads(response.get_data())
    assert (body["success"], body["error"]) == (False, error)
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    return body


def test_the_stream_answer_and_its_headers():
    harness = Harness(record(GenerationStatus.COMPLETED))
    response = harness.get()
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/event-stream")
    assert response.headers["Cache-Control"] == "no-cache"
    assert response.headers["X-Accel-Buffering"] == "no"
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert response.is_streamed
    blocks = parse([response.get_data(as_text=True)])
    assert blocks[0] == {"retry": "3000"} and statuses(blocks) == ["completed"]
    assert harness.slots.calls == []  # a terminal request takes no slot


def test_a_terminal_request_the_client_has_seen_is_204_so_event_source_stops():
    done = record(GenerationStatus.FAILED)
    harness = Harness(done)
    [seen] = [b["id"] for b in parse([harness.get().get_data(as_text=True)]) if "id" in b]
    response = harness.get(**{"Last-Event-ID": seen})
    assert response.status_code == 204 and response.get_data() == b""


def test_without_the_accept_header_the_answer_is_the_plain_json():
    harness = Harness(record(GenerationStatus.QUEUED))
    response = harness.get(Accept="application/json")
    assert response.mimetype == "application/json"
    assert json.loads(response.get_data())["status"] == "queued"


def test_unknown_request_is_404_json():
    assert_json_error(Harness().get("nope"), 404, "generation_not_found")


def test_another_users_request_is_404_json_like_an_unknown_one():
    harness = Harness(record(GenerationStatus.QUEUED, owner="havanur"), require_auth=True)
    assert_json_error(harness.get(**bearer("arda")), 404, "generation_not_found")
    assert harness.slots.calls == []


def test_a_signed_in_caller_without_an_account_is_404_account_not_found():
    harness = Harness(record(GenerationStatus.QUEUED, owner="havanur"), require_auth=True)
    assert_json_error(harness.get(**bearer("ghost")), 404, "account_not_found")


@pytest.mark.parametrize(
    ("headers", "error"),
    [({}, "missing_token"), ({"Authorization": "Bearer bad"}, "invalid_token")],
)
def test_bad_or_missing_credentials_are_401_json(headers, error):
    harness = Harness(record(GenerationStatus.QUEUED), require_auth=True)
    assert_json_error(harness.get(**headers), 401, error)


def test_a_missing_request_id_is_400_json():
    harness = Harness()
    response = harness.handler(make_request("GET", headers=SSE))
    assert_json_error(response, 400, "validation_failed")


def test_a_fifth_stream_is_429_json_with_retry_after_and_a_slot_frees_on_close():
    harness = Harness(record(GenerationStatus.QUEUED))
    open_streams = [harness.get() for _ in range(4)]
    assert all(r.status_code == 200 for r in open_streams)
    assert harness.slots.held("arda") == 4
    body = assert_json_error(harness.get(), 429, "too_many_streams")
    assert body["error_type"] == "too_many_streams" and body["maxStreams"] == 4
    refused = harness.get()
    assert refused.headers["Retry-After"] == "10"
    open_streams[0].close()  # never iterated: the server's close() still gives the slot back
    assert harness.slots.held("arda") == 3
    fifth = harness.get()
    assert fifth.status_code == 200
    fifth.get_data()  # runs to its (shortened) end
    assert harness.slots.held("arda") == 3


def test_a_stream_that_ends_gives_its_slot_back_once():
    harness = Harness(record(GenerationStatus.QUEUED))
    response = harness.get()
    assert harness.slots.held("arda") == 1
    assert statuses(parse([response.get_data(as_text=True)])) == ["queued"]
    response.close()
    assert harness.slots.held("arda") == 0
    assert [c for c in harness.slots.calls if c[0] == "release"] == [("release", "arda")]


def test_slots_count_per_user_the_callers_uid():
    harness = Harness(
        record(GenerationStatus.QUEUED), record(GenerationStatus.QUEUED, "r2", owner="havanur")
    )
    for _ in range(4):
        assert harness.get().status_code == 200
    assert harness.get("r2").status_code == 200  # another owner (anonymous: the owner counts)
    assert harness.slots.held("havanur") == 1


def test_a_failing_slot_store_is_503_json_not_a_stream():
    harness = Harness(record(GenerationStatus.QUEUED))
    harness.slots.take_error = ConnectionError("firestore went away")
    assert_json_error(harness.get(), 503, "unavailable")


def test_browsers_may_send_last_event_id():
    allowed = [h.strip() for h in CORS_HEADERS["Access-Control-Allow-Headers"].split(",")]
    assert "Last-Event-ID" in allowed


# --- the timeout covers a stream --------------------------------------------------------------
# The read before it, taking a slot, the whole stream with one last read, giving it back.
LONGEST_STREAM = (
    RPC_DEADLINE_SECONDS
    + TAKE_SECONDS
    + capacity.STREAM_MAX_SECONDS
    + RPC_DEADLINE_SECONDS
    + RELEASE_SECONDS
)


def test_the_timeout_covers_the_longest_stream_with_margin():
    assert capacity.STREAM_MAX_SECONDS == 120
    assert capacity.WAITING["timeout_sec"] >= LONGEST_STREAM + 20
    assert StreamTimings().max_seconds == capacity.STREAM_MAX_SECONDS
    assert StreamTimings().keepalive_seconds == 15


def test_a_stream_lease_outlives_any_stream_that_holds_it():
    assert capacity.STREAM_LEASE_SECONDS >= capacity.WAITING["timeout_sec"] > LONGEST_STREAM
    assert capacity.MAX_STREAMS_PER_USER == 4


# --- a real server: a client that goes away frees its slot ------------------------------------
def test_a_client_that_disconnects_frees_its_slot_on_a_real_server():
    """werkzeug's server, as gunicorn does, closes the body when a write to a client that went
    away fails: the next keepalive finds out and the slot is given back."""
    # real time, quick keepalives
    stream = StatusStream(StreamTimings(max_seconds=30, keepalive_seconds=0.05))
    harness = Harness(record(GenerationStatus.QUEUED), stream=stream)
    app = Flask("stream-test")
    app.add_url_rule("/", view_func=lambda: harness.handler(request), methods=["GET"])
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/?generationRequestId=r1"
        response = requests.get(url, headers=SSE, stream=True, timeout=5)
        lines = response.iter_lines(decode_unicode=True)
        assert next(lines) == "retry: 3000"
        assert next(line for line in lines if line.startswith("data:"))
        assert harness.slots.held("arda") == 1
        response.close()  # the client goes away mid-stream
        give_up = time.monotonic() + 5
        while harness.slots.held("arda") and time.monotonic() < give_up:
            time.sleep(0.02)
        assert harness.slots.held("arda") == 0
    finally:
        server.shutdown()
