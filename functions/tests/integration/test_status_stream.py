"""Status streams over real HTTP: getGenerationStatus with `Accept: text/event-stream` on the
Functions emulator, read incrementally as a client reads it.

The requests are created in-process on a container whose RecordingQueue delivers nothing, so
they stay queued until a test moves them: the repository's claim (processing), then the worker
or a cancel (terminal). The function serving the stream runs in the emulator's own processes
and sees each change through Firestore, as in production. Keepalives and the 120 s end are
unit tests with shortened timings (tests/unit/test_status_stream.py).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import pytest
import requests
from google.cloud import firestore

import main
from container import Container
from core.clock import SystemClock
from repositories.firestore_helpers import STREAM_LEASES
from tests.integration.conftest import FUNCTIONS_BASE, request_body
from tests.support.auth_emulator import OTHER, OWNER, bearer
from tests.support.http import make_request

HOSTING_BASE = os.environ.get("HOSTING_BASE_URL", "http://127.0.0.1:8888")
SSE = {"Accept": "text/event-stream"}

pytestmark = pytest.mark.skipif(
    not os.environ.get("CLOUD_TASKS_EMULATOR_HOST"), reason="needs the full emulator suite"
)


class Stream:
    """One open stream, read block by block (a block ends with a blank line)."""

    def __init__(self, response: requests.Response) -> None:
        self.response = response
        self._lines: Iterator[str] = response.iter_lines(decode_unicode=True)

    def next_block(self) -> dict[str, Any]:
        """The next block: {"retry"}, {"comment"} or {"event", "id", "data"}; {} at the end."""
        fields: dict[str, Any] = {}
        for line in self._lines:
            if line == "":
                if fields:
                    return fields
                continue
            name, _, value = line.partition(":")
            if name == "":
                fields["comment"] = value.strip()
            else:
                fields[name] = json.loads(value) if name == "data" else value.strip()
        return fields

    def next_event(self) -> dict[str, Any]:
        while True:
            block = self.next_block()
            if not block or "event" in block:
                return block

    def close(self) -> None:
        self.response.close()


def open_stream(request_id: str, base: str = FUNCTIONS_BASE, **headers: str) -> requests.Response:
    return requests.get(
        f"{base}/getGenerationStatus",
        params={"generationRequestId": request_id},
        headers=SSE | headers,
        stream=True,
        timeout=(10, 30),  # 30 s between bytes: longer than a keepalive interval
    )


def stream_of(request_id: str, **headers: str) -> Stream:
    response = open_stream(request_id, **headers)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("text/event-stream")
    assert response.headers["Cache-Control"] == "no-cache"
    assert response.headers["X-Accel-Buffering"] == "no"
    return Stream(response)


def create(user_id: str = OWNER) -> str:
    """A queued request, created in-process (nothing delivers its task)."""
    handler = main.createGenerationRequest
    response = handler(make_request("POST", json_body=request_body(user_id, size="512x512")))
    assert response.status_code == 202, response.get_data()
    return str(response.get_json()["generationRequestId"])


def cancel(request_id: str) -> None:
    body = {"generationRequestId": request_id}
    response = main.cancelGenerationRequest(make_request("POST", json_body=body))
    assert response.status_code == 200, response.get_data()


def stream_leases(db: firestore.Client) -> int:
    return sum(1 for _ in db.collection(STREAM_LEASES).stream())


def wait_for_leases(db: firestore.Client, count: int, timeout: float = 15.0) -> None:
    give_up = time.monotonic() + timeout
    while stream_leases(db) != count:
        assert time.monotonic() < give_up, f"{stream_leases(db)} stream leases, not {count}"
        time.sleep(0.1)


def test_a_queued_requests_stream_shows_each_change_then_ends(db, make_container, tokens):
    container: Container = make_container()
    request_id = create()
    stream = stream_of(request_id, **bearer(tokens[OWNER]))
    try:
        assert stream.next_block() == {"retry": "3000"}
        queued = stream.next_event()
        assert queued["event"] == "status" and queued["data"]["status"] == "queued"
        assert queued["data"]["generationRequestId"] == request_id
        assert queued["id"].startswith("queued-")
        wait_for_leases(db, 1)

        assert container.generations.start_processing(request_id, SystemClock().now(), "t")
        processing = stream.next_event()
        assert processing["data"]["status"] == "processing"

        container.worker_controller.handle_task({"generationRequestId": request_id})
        completed = stream.next_event()
        assert completed["data"]["status"] == "completed" and completed["data"]["imageUrl"]
        assert stream.next_block() == {}  # the stream ended after the terminal event
        assert len({queued["id"], processing["id"], completed["id"]}) == 3
    finally:
        stream.close()
    wait_for_leases(db, 0)  # its slot was given back


def test_last_event_id_skips_what_the_client_has_seen(db, make_container, tokens):
    make_container()
    request_id = create()
    auth = bearer(tokens[OWNER])
    first = stream_of(request_id, **auth)
    seen = first.next_event()
    first.close()

    again = stream_of(request_id, **auth, **{"Last-Event-ID": seen["id"]})
    try:
        assert again.next_block() == {"retry": "3000"}
        cancel(request_id)  # the queued state is not sent again: the next event is the change
        cancelled = again.next_event()
        assert cancelled["data"]["status"] == "cancelled" and cancelled["id"] != seen["id"]
        assert again.next_block() == {}
    finally:
        again.close()

    # a terminal request the client has seen: 204, which tells an EventSource to stop
    done = open_stream(request_id, **auth, **{"Last-Event-ID": cancelled["id"]})
    assert done.status_code == 204 and done.content == b""
    # a malformed Last-Event-ID is ignored: the one terminal event, then the end
    odd = stream_of(request_id, **auth, **{"Last-Event-ID": "not-an-id\u00ff"})
    assert odd.next_event()["data"]["status"] == "cancelled" and odd.next_block() == {}


def test_a_fifth_open_stream_is_429_and_one_more_fits_once_one_ends(db, make_container, tokens):
    make_container()
    watched, ending = create(), create()
    auth = bearer(tokens[OWNER])
    with ExitStack() as open_streams:
        streams = [stream_of(watched, **auth) for _ in range(3)] + [stream_of(ending, **auth)]
        for stream in streams:
            open_streams.callback(stream.close)
            assert stream.next_event()["data"]["status"] == "queued"
        wait_for_leases(db, 4)

        refused = open_stream(watched, **auth)
        assert refused.status_code == 429
        assert refused.headers["Content-Type"] == "application/json"
        assert refused.headers["Retry-After"] == "10"
        body = refused.json()
        assert (body["success"], body["error"], body["maxStreams"]) == (
            False,
            "too_many_streams",
            4,
        )

        other = stream_of(create(OTHER), **bearer(tokens[OTHER]))  # another user's own slots
        open_streams.callback(other.close)
        assert other.next_event()["data"]["status"] == "queued"

        cancel(ending)  # the fourth stream sends its terminal event and ends
        assert streams[3].next_event()["data"]["status"] == "cancelled"
        assert streams[3].next_block() == {}
        wait_for_leases(db, 4)  # 3 of the owner's, 1 of the other user's

        fifth = stream_of(watched, **auth)
        open_streams.callback(fifth.close)
        assert fifth.next_event()["data"]["status"] == "queued"
        cancel(watched)  # ends the owner's four streams on it
        for stream in [*streams[:3], fifth]:
            assert stream.next_event()["data"]["status"] == "cancelled"
    wait_for_leases(db, 1)


@pytest.mark.parametrize("who", ["unknown", "another user's"])
def test_a_stream_of_an_unknown_or_another_users_request_is_404_json(make_container, tokens, who):
    make_container()
    request_id = create(OTHER) if who == "another user's" else "no-such-request"
    response = open_stream(request_id, **bearer(tokens[OWNER]))
    assert response.status_code == 404
    assert response.headers["Content-Type"] == "application/json"
    assert response.json()["error"] == "generation_not_found"


@pytest.mark.parametrize("token", ["not-a-token", "eyJhbGciOiJub25lIn0.e30."])
def test_bad_credentials_are_401_json_before_any_stream(make_container, token):
    make_container()
    response = open_stream(create(), Authorization=f"Bearer {token}")
    assert response.status_code == 401
    assert response.headers["Content-Type"] == "application/json"
    assert response.json()["error"] == "invalid_token"
    assert response.headers["Access-Control-Allow-Origin"] == "*"


def test_a_stream_through_the_hosting_rewrite(make_container):
    """/api/getGenerationStatus on the Hosting emulator: the first event arrives while the
    stream is still open (not buffered to the end), and ends after a terminal event."""
    make_container()
    request_id = create()
    response = open_stream(request_id, base=f"{HOSTING_BASE}/api")
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("text/event-stream")
    stream = Stream(response)
    try:
        assert stream.next_event()["data"]["status"] == "queued"  # while it is still open
        cancel(request_id)
        assert stream.next_event()["data"]["status"] == "cancelled"
        assert stream.next_block() == {}
    finally:
        stream.close()
