"""A request's status as Server-Sent Events (`Accept: text/event-stream` on getGenerationStatus).

Changes are found by reading the request again with a backoff (0.25 s doubling to 2 s, back to
0.25 s after a change), through the same service read as the plain call; why not a Firestore
listener: docs/architecture.md, "Status streams".
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flask import Request, Response

from core import capacity
from core.errors import NotFoundError
from core.logging import info, log_exception

if TYPE_CHECKING:
    from schemas.documents import GenerationRecord

EVENT_STREAM = "text/event-stream"
LAST_EVENT_ID_HEADER = "Last-Event-ID"
KEEPALIVE = ": keepalive\n\n"
STREAM_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


@dataclass(frozen=True)
class StreamTimings:
    """How long a stream lasts, how often it proves it is alive, how often it reads."""

    max_seconds: float = capacity.STREAM_MAX_SECONDS
    keepalive_seconds: float = capacity.STREAM_KEEPALIVE_SECONDS
    retry_milliseconds: int = capacity.STREAM_RETRY_MILLISECONDS
    first_poll_seconds: float = 0.25
    max_poll_seconds: float = 2.0


def wants_event_stream(request: Request) -> bool:
    """Whether the client asked for the stream: `text/event-stream` named in Accept, at a
    quality above 0 and at least that of JSON (a plain or `*/*` Accept keeps the JSON answer)."""
    accept = request.accept_mimetypes
    named = [q for value, q in accept if value.lower().split(";")[0].strip() == EVENT_STREAM]
    return bool(named) and max(named) > 0 and max(named) >= accept.quality("application/json")


def last_event_id(request: Request) -> str | None:
    """The id the client saw last; any value that is not one of ours simply matches nothing."""
    return request.headers.get(LAST_EVENT_ID_HEADER)


def event_id(body: dict[str, Any]) -> str:
    """The id of a status body: its status and a digest of everything it says, so an equal id
    means the client has seen exactly this (the same on every instance and reconnect)."""
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return f"{body['status']}-{hashlib.sha256(text.encode()).hexdigest()[:16]}"


def status_event(body: dict[str, Any]) -> str:
    """One `status` event; JSON escapes line breaks, so the data is one line."""
    data = json.dumps(body, ensure_ascii=False)
    return f"event: status\nid: {event_id(body)}\ndata: {data}\n\n"


class StatusStream:
    def __init__(
        self,
        timings: StreamTimings = StreamTimings(),
        *,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.timings = timings
        self._sleep = sleep
        self._monotonic = monotonic

    def response(
        self,
        first: GenerationRecord,
        read: Callable[[], GenerationRecord],
        body_of: Callable[[GenerationRecord], dict[str, Any]],
        seen: str | None,
        release: Callable[[], None],
        first_body: dict[str, Any] | None = None,
    ) -> Response:
        """The streaming answer. `first` (and its body) was read before, so errors answered as
        JSON; `read` reads again, `release` gives back the stream's slot, however it ends."""
        events = self.events(first, read, body_of, seen, release, first_body)
        response = Response(events, mimetype=EVENT_STREAM, headers=STREAM_HEADERS)
        response.call_on_close(release)  # also when the body is never iterated
        return response

    def events(
        self,
        record: GenerationRecord,
        read: Callable[[], GenerationRecord],
        body_of: Callable[[GenerationRecord], dict[str, Any]],
        seen: str | None,
        release: Callable[[], None],
        first_body: dict[str, Any] | None = None,
    ) -> Iterator[str]:
        """`retry:`, then a `status` event now (unless `seen` is its id) and on every change, a
        keepalive comment when nothing was written for a while; ends after a terminal event or
        after `max_seconds`. Closing it (the client went away) gives the slot back."""
        t, now = self.timings, self._monotonic
        request_id = record.id
        try:
            yield f"retry: {t.retry_milliseconds}\n\n"
            started = last_write = now()
            end = started + t.max_seconds
            delay = t.first_poll_seconds
            body = body_of(record) if first_body is None else first_body
            while True:
                if event_id(body) != seen:
                    seen = event_id(body)
                    yield status_event(body)
                    last_write = now()
                    delay = t.first_poll_seconds
                if record.status.is_terminal:
                    return
                next_read = now() + delay
                delay = min(delay * 2, t.max_poll_seconds)
                while (moment := now()) < next_read:
                    if moment >= end:
                        return
                    if moment >= last_write + t.keepalive_seconds:
                        yield KEEPALIVE
                        last_write = moment
                    self._sleep(min(next_read, last_write + t.keepalive_seconds, end) - moment)
                if now() >= end:
                    return
                record = read()
                body = body_of(record)
        except GeneratorExit:
            info("status stream closed by the client", generationRequestId=request_id)
            raise
        except NotFoundError:
            info("status stream: the request is gone", generationRequestId=request_id)
        except Exception as exc:
            # Already streaming: no error answer is possible. End; the client reconnects.
            log_exception("status stream read failed", exc, generationRequestId=request_id)
        finally:
            release()
