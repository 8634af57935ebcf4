"""POST a webhook event to the address that was checked (SSRF-safe delivery).

The host is resolved once, every address must pass the URL policy, and the connection goes to a
checked address, so DNS rebinding cannot move it; TLS still verifies the host name. No redirects,
no environment proxies, a deadline on the whole exchange and a cap on the answer read.
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
from dataclasses import dataclass
from typing import Any

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

# (host, port) -> the addresses it resolves to, as socket.getaddrinfo would list them.
Resolver = Callable[[str, int], Sequence[str]]


def system_resolver(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


@dataclass(frozen=True)
class WebhookResponse:
    """How one attempt ended: the receiver's status code, or why there was none."""

    status_code: int | None
    error: str | None = None


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
        """Raises WebhookUrlRefused when the URL or an address its host resolves to is not
        allowed; every other failure is an answer without a status code."""
        target = parse_webhook_url(url, self._policy)
        try:
            addresses = self._addresses(target)
        except OSError:
            return WebhookResponse(None, f"could not resolve {target.host}")
        deadline = time.monotonic() + self._timeout
        try:
            return self._exchange(target, addresses, body, headers, deadline)
        except (OSError, http.client.HTTPException) as error:  # ssl errors are OSErrors
            return WebhookResponse(None, self._failure(error, target, deadline))

    def _failure(self, error: Exception, target: WebhookTarget, deadline: float) -> str:
        if isinstance(error, TimeoutError) or time.monotonic() >= deadline:
            return f"no answer within {self._timeout:g} s"
        if isinstance(error, ssl.SSLCertVerificationError):
            return f"the TLS certificate is not valid for {target.host}"
        if isinstance(error, ssl.SSLError):
            return "the TLS handshake failed"
        if isinstance(error, ConnectionRefusedError):
            return "the connection was refused"
        return f"the connection failed ({type(error).__name__})"

    def _addresses(self, target: WebhookTarget) -> list[IPAddress]:
        """Every address of the host, each one allowed; a literal address is its own."""
        if target.address is not None:
            return [target.address]  # checked when the URL was parsed
        addresses = [
            ipaddress.ip_address(a.split("%", 1)[0])
            for a in self._resolve(target.host, target.port)
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
        target: WebhookTarget,
        addresses: list[IPAddress],
        body: bytes,
        headers: dict[str, str],
        deadline: float,
    ) -> WebhookResponse:
        raw = self._connect(addresses, target.port, deadline)
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


def _cut(sock: Any, cut: threading.Event) -> None:
    cut.set()
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
