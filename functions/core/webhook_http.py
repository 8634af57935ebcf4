"""POST a webhook event to the address that was checked (SSRF-safe delivery).

The host is resolved once, every address must pass the URL policy, and the connection goes to a
checked address, so DNS rebinding cannot move it; TLS still verifies the host name. No redirects,
no environment proxies, one deadline on the whole attempt (the lookup included) and a cap on the
answer read. The owner learns only a category of failure (`ERRORS`); the precise reason, for
the logs, never reaches them.
"""

from __future__ import annotations

import contextlib
import http.client
import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

from core.webhook_urls import (
    IPAddress,
    UrlPolicy,
    WebhookTarget,
    WebhookUrlRefused,
    address_refusal,
    parse_webhook_url,
)

DELIVERY_TIMEOUT_SECONDS = 10.0
MAX_RESPONSE_BYTES = 4096
USER_AGENT = "Feraset-Imagen-Webhooks/1.0"

# What an attempt without a 2xx tells the owner (`webhook.lastError`). A name that does not
# resolve, one that resolves to a refused address and a refused connection all read the same.
UNREACHABLE = "address not allowed or unreachable"
TIMEOUT = "timeout"
TLS_FAILURE = "TLS failure"
NO_VALID_ANSWER = "no valid HTTP answer"
ERRORS = (UNREACHABLE, TIMEOUT, TLS_FAILURE, NO_VALID_ANSWER)


def http_status_error(status_code: int) -> str:
    """The category of an answer that is not a 2xx."""
    return f"HTTP {status_code}"


# (host, port) -> the addresses it resolves to, as socket.getaddrinfo would list them.
Resolver = Callable[[str, int], Sequence[str]]


def system_resolver(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


class WebhookResponse(NamedTuple):
    """How one attempt ended: the receiver's status code, or why there was none (`error`, one
    of ERRORS, for the owner; `detail`, the precise reason, for the logs only)."""

    status_code: int | None
    error: str | None = None
    detail: str | None = None


class PinnedWebhookSender:
    def __init__(
        self,
        policy: UrlPolicy,
        resolve: Resolver = system_resolver,
        *,
        timeout: float = DELIVERY_TIMEOUT_SECONDS,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self._policy = policy
        self._resolve = resolve
        self._timeout = timeout
        self._max_response_bytes = max_response_bytes
        self._ssl_context = ssl_context

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> WebhookResponse:
        """Raises WebhookUrlRefused when the URL itself is not allowed; every other failure,
        a host resolving to a refused address included, is an answer without a status code."""
        target = parse_webhook_url(url, self._policy)
        deadline = time.monotonic() + self._timeout
        try:
            addresses = self._addresses(target, deadline)
        except WebhookUrlRefused as refused:
            return WebhookResponse(None, UNREACHABLE, str(refused))
        except TimeoutError:
            return WebhookResponse(None, TIMEOUT, f"resolving {target.host} took too long")
        except OSError as error:
            return WebhookResponse(None, UNREACHABLE, f"could not resolve {target.host}: {error}")
        try:
            raw = self._connect(addresses, target.port, deadline)
        except OSError as error:
            return self._failure(error, deadline, UNREACHABLE)
        try:
            return self._exchange(raw, target, body, headers, deadline)
        except (OSError, http.client.HTTPException) as error:  # ssl errors are OSErrors
            return self._failure(error, deadline, NO_VALID_ANSWER)

    def _failure(self, error: Exception, deadline: float, otherwise: str) -> WebhookResponse:
        detail = f"{type(error).__name__}: {error}"
        if isinstance(error, TimeoutError) or time.monotonic() >= deadline:
            return WebhookResponse(None, TIMEOUT, f"no answer within {self._timeout:g} s")
        if isinstance(error, ssl.SSLError):
            return WebhookResponse(None, TLS_FAILURE, detail)
        return WebhookResponse(None, otherwise, detail)

    def _addresses(self, target: WebhookTarget, deadline: float) -> list[IPAddress]:
        """Every address of the host, each one allowed; a literal address is its own."""
        if target.address is not None:
            return [target.address]  # checked when the URL was parsed
        addresses = [
            ipaddress.ip_address(a.split("%", 1)[0])
            for a in _within(deadline, self._resolve, target.host, target.port)
        ]
        if not addresses:
            raise OSError("no addresses")
        for address in addresses:
            refusal = address_refusal(address, self._policy)
            if refusal is not None:
                raise WebhookUrlRefused(f"{target.host} resolves to {refusal}")
        if target.scheme == "http" and not all(a.is_loopback for a in addresses):
            raise WebhookUrlRefused("must use https (plain http only to a loopback address)")
        return addresses

    def _exchange(
        self,
        raw: socket.socket,
        target: WebhookTarget,
        body: bytes,
        headers: dict[str, str],
        deadline: float,
    ) -> WebhookResponse:
        # A duplicate of the socket lets a timer cut the exchange at the deadline, whatever
        # phase it is in, without touching the TLS object another thread is using.
        watchdog_socket = raw.dup()
        cut = threading.Event()
        timer = threading.Timer(max(deadline - time.monotonic(), 0), _cut, (watchdog_socket, cut))
        timer.daemon = True
        timer.start()
        sock: socket.socket = raw
        try:
            if target.scheme == "https":
                context = self._ssl_context or ssl.create_default_context()
                sock = context.wrap_socket(raw, server_hostname=target.host)
            connection = http.client.HTTPConnection(target.host, target.port)
            connection.sock = sock
            connection.request(
                "POST",
                target.target,
                body=body,
                headers={
                    "Host": target.host_header,
                    "User-Agent": USER_AGENT,
                    "Content-Type": "application/json",
                    "Content-Length": str(len(body)),
                    "Connection": "close",
                    **headers,
                },
            )
            response = connection.getresponse()
            response.read(self._max_response_bytes)  # at most this much, then hang up
            if cut.is_set():  # what was read may end anywhere: no answer
                raise TimeoutError
            return WebhookResponse(response.status)
        finally:
            timer.cancel()
            watchdog_socket.close()
            sock.close()
            raw.close()

    def _connect(self, addresses: list[IPAddress], port: int, deadline: float) -> socket.socket:
        """A connection to the first address that answers (all of them were checked)."""
        last_error: OSError = OSError("no addresses")
        for address in addresses:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            try:
                return socket.create_connection((str(address), port), timeout=remaining)
            except OSError as error:
                last_error = error
        raise last_error


def _within[T](deadline: float, call: Callable[..., T], *args: Any) -> T:
    """`call(*args)`, or TimeoutError once the deadline passes. It runs in a daemon thread: a
    lookup cannot be interrupted, but the attempt stops waiting for it."""
    results: list[T] = []
    errors: list[BaseException] = []
    done = threading.Event()

    def run() -> None:
        try:
            results.append(call(*args))
        except BaseException as error:  # handed to the caller
            errors.append(error)
        done.set()

    threading.Thread(target=run, name="webhook-resolve", daemon=True).start()
    if not done.wait(max(deadline - time.monotonic(), 0)):
        raise TimeoutError("the lookup did not finish in time")
    if errors:
        raise errors[0]
    return results[0]


def _cut(sock: Any, cut: threading.Event) -> None:
    cut.set()
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
