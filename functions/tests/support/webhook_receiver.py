"""A real HTTP receiver for webhook tests: a server thread on 127.0.0.1 that records every
request it gets and answers from a script (status codes, in order; 200 once it runs out)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def webhook_id(self) -> str:
        return self.headers["webhook-id"]


class Receiver:
    def __init__(self, server: ThreadingHTTPServer) -> None:
        self._server = server
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self.requests: list[Received] = []
        self.script: list[int] = []  # status codes to answer, in order; then 200
        self.redirect_to: str | None = None  # answer 3xx with this Location

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def host(self) -> str:
        return str(self._server.server_address[0])

    def url(self, path: str = "/hook") -> str:
        return f"http://{self.host}:{self.port}{path}"

    def record(self, received: Received) -> int:
        with self._lock:
            self.requests.append(received)
            self._arrived.notify_all()
            return self.script.pop(0) if self.script else 200

    def wait_for(self, count: int, timeout: float = 30.0) -> list[Received]:
        """The first `count` requests, waiting up to `timeout` seconds for them."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while len(self.requests) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"{len(self.requests)} of {count} requests arrived")
                self._arrived.wait(remaining)
            return list(self.requests[:count])

    def for_path(self, path: str) -> list[Received]:
        with self._lock:
            return [r for r in self.requests if r.path == path]


def _handler(receiver_box: list[Receiver]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            receiver = receiver_box[0]
            status = receiver.record(
                Received(
                    "POST",
                    self.path,
                    {k.lower(): v for k, v in self.headers.items()},
                    body,
                )
            )
            self.send_response(status)
            if 300 <= status < 400 and receiver.redirect_to:
                self.send_header("Location", receiver.redirect_to)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@contextmanager
def running_receiver(host: str = "127.0.0.1") -> Iterator[Receiver]:
    box: list[Receiver] = []
    server = ThreadingHTTPServer((host, 0), _handler(box))
    server.daemon_threads = True
    box.append(Receiver(server))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield box[0]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


# Computed at each read from the clock (retention): no part of a signed event, which every
# attempt sends unchanged.
READ_TIME_FIELDS = frozenset({"imageExpiresAt", "imageExpired", "deleted"})


def as_event_data(status: dict[str, Any]) -> dict[str, Any]:
    """What a webhook event's `data` holds of a getGenerationStatus body: all of it but the
    delivery state (`webhook`) and the read-time fields."""
    return {k: v for k, v in status.items() if k != "webhook" and k not in READ_TIME_FIELDS}
