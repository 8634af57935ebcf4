"""The SSRF-safe sender (core/webhook_http.py) against real sockets on 127.0.0.1, with the
resolver faked: it connects to the address it checked (never re-resolving), refuses a host any
of whose addresses is not allowed, follows no redirect, stops at its deadline, reads a bounded
answer, and verifies TLS against the host name it was given."""

from __future__ import annotations

import datetime as dt
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from core.webhook_http import (
    TIMEOUT,
    TLS_FAILURE,
    UNREACHABLE,
    PinnedWebhookSender,
    WebhookResponse,
)
from core.webhook_urls import EMULATOR, PRODUCTION, WebhookUrlRefused
from tests.support.webhook_receiver import running_receiver


class Resolver:
    """A DNS that answers from a table and remembers what it was asked."""

    def __init__(self, table: dict[str, list[str]]) -> None:
        self.table = table
        self.asked: list[str] = []

    def __call__(self, host: str, port: int) -> list[str]:
        self.asked.append(host)
        if host not in self.table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return self.table[host]


def test_the_connection_goes_to_the_checked_address_with_the_name_in_host():
    """The receiver listens on 127.0.0.2 only, where the system's `localhost` (127.0.0.1)
    cannot reach it: the request arrives through the address the resolver answered, and names
    the host it was meant for."""
    with running_receiver("127.0.0.2") as receiver:
        resolver = Resolver({"api.localhost": ["127.0.0.2"]})
        sender = PinnedWebhookSender(EMULATOR, resolver)
        url = f"http://api.localhost:{receiver.port}/in?x=1"
        response = sender.post(url, b'{"a":1}', {"webhook-id": "msg_1"})
        assert (response.status_code, response.error) == (200, None)
        [request] = receiver.requests
        assert request.path == "/in?x=1" and request.body == b'{"a":1}'
        assert request.headers["host"] == f"api.localhost:{receiver.port}"
        assert request.headers["content-type"] == "application/json"
        assert request.headers["webhook-id"] == "msg_1"
        assert resolver.asked == ["api.localhost"]  # resolved once


@pytest.mark.parametrize(
    ("answers", "reason"),
    [
        (["10.0.0.5"], "a private address"),
        (["169.254.169.254"], "link-local"),
        (["8.8.8.8", "192.168.1.1"], "a private address"),  # every address must be allowed
        (["::ffff:127.0.0.1"], "embeds"),
        (["fe80::1%eth0"], "link-local"),
        (["127.0.0.1"], "a loopback address"),  # in production
    ],
)
def test_a_host_resolving_to_a_refused_address_is_refused_before_connecting(answers, reason):
    resolver = Resolver({"hooks.example.com": answers})
    sender = PinnedWebhookSender(PRODUCTION, resolver)
    response = sender.post("https://hooks.example.com/x", b"{}", {})
    assert (response.status_code, response.error) == (None, UNREACHABLE)
    assert reason in (response.detail or "")  # for the logs only
    assert not any(a in (response.detail or "") for a in answers)


def test_a_name_that_does_not_resolve_and_one_resolving_to_10_0_0_1_read_the_same():
    """The owner cannot probe which internal names exist: one category for both, and for a
    public address that refuses the connection."""
    resolver = Resolver({"internal.example.com": ["10.0.0.1"]})
    sender = PinnedWebhookSender(PRODUCTION, resolver)
    private = sender.post("https://internal.example.com/x", b"{}", {})
    missing = sender.post("https://nx.example.com/x", b"{}", {})
    assert (private.status_code, private.error) == (missing.status_code, missing.error)
    assert private.error == UNREACHABLE
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    refused = PinnedWebhookSender(EMULATOR).post(f"http://127.0.0.1:{port}/", b"{}", {})
    assert refused.error == UNREACHABLE


def test_on_the_emulator_a_name_must_resolve_to_loopback_only():
    resolver = Resolver({"localhost": ["127.0.0.1", "10.0.0.1"]})
    mixed = PinnedWebhookSender(EMULATOR, resolver).post("http://localhost:9/x", b"{}", {})
    assert mixed.error == UNREACHABLE and "private" in (mixed.detail or "")
    with pytest.raises(WebhookUrlRefused, match="https"):
        PinnedWebhookSender(EMULATOR, Resolver({"localhost": ["127.0.0.1"]})).post(
            "http://hooks.example.com:9/x", b"{}", {}
        )


def test_a_literal_address_is_not_resolved_and_still_checked():
    resolver = Resolver({})
    with pytest.raises(WebhookUrlRefused, match="private"):
        PinnedWebhookSender(PRODUCTION, resolver).post("https://10.1.1.1/x", b"{}", {})
    assert resolver.asked == []


def test_an_unknown_host_is_an_answer_without_a_status_code():
    response = PinnedWebhookSender(PRODUCTION, Resolver({})).post("https://nx.example/x", b"", {})
    assert (response.status_code, response.error) == (None, UNREACHABLE)
    assert "could not resolve nx.example" in (response.detail or "")


class SlowResolver(Resolver):
    """A DNS that takes `delay` seconds to answer."""

    def __init__(self, table: dict[str, list[str]], delay: float) -> None:
        super().__init__(table)
        self.delay = delay

    def __call__(self, host: str, port: int) -> list[str]:
        time.sleep(self.delay)
        return super().__call__(host, port)


def test_the_lookup_counts_inside_the_attempts_deadline():
    with running_receiver() as receiver:
        slow = SlowResolver({"localhost": ["127.0.0.1"]}, delay=3.0)
        sender = PinnedWebhookSender(EMULATOR, slow, timeout=0.5)
        started = time.monotonic()
        response = sender.post(f"http://localhost:{receiver.port}/x", b"{}", {})
        elapsed = time.monotonic() - started
        assert (response.status_code, response.error) == (None, TIMEOUT)
        assert elapsed < 1.5  # the deadline, not the resolver's 3 s
        time.sleep(0.1)
        assert receiver.requests == []


def test_a_slow_lookup_leaves_less_time_for_the_exchange():
    """0.3 s of lookup, then a receiver that never answers: cut 0.6 s after the start."""
    with raw_server(silent) as port:
        slow = SlowResolver({"localhost": ["127.0.0.1"]}, delay=0.3)
        started = time.monotonic()
        response = PinnedWebhookSender(EMULATOR, slow, timeout=0.6).post(
            f"http://localhost:{port}/", b"{}", {}
        )
        elapsed = time.monotonic() - started
    assert response.error == TIMEOUT
    assert 0.55 < elapsed < 1.2


def test_a_lookup_just_within_the_deadline_still_delivers():
    with running_receiver() as receiver:
        slow = SlowResolver({"localhost": ["127.0.0.1"]}, delay=0.2)
        response = PinnedWebhookSender(EMULATOR, slow, timeout=5).post(
            f"http://localhost:{receiver.port}/x", b"{}", {}
        )
        assert response == WebhookResponse(200)


def test_a_redirect_is_returned_not_followed():
    with running_receiver() as receiver:
        receiver.script = [302]
        receiver.redirect_to = receiver.url("/elsewhere")
        response = PinnedWebhookSender(EMULATOR).post(receiver.url("/hook"), b"{}", {})
        assert response.status_code == 302
        time.sleep(0.2)
        assert [r.path for r in receiver.requests] == ["/hook"]


def test_a_refused_connection_is_an_answer_without_a_status_code():
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    response = PinnedWebhookSender(EMULATOR).post(f"http://127.0.0.1:{port}/", b"{}", {})
    assert (response.status_code, response.error) == (None, UNREACHABLE)
    assert "ConnectionRefusedError" in (response.detail or "")


@contextmanager
def raw_server(behaviour) -> Iterator[int]:
    """A TCP server on 127.0.0.1 whose connections `behaviour(conn)` handles (in a thread)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=behaviour, args=(conn, stop), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        listener.close()


def read_request(conn: socket.socket) -> bytes:
    """The whole request (headers and Content-Length body), so that closing resets nothing."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        (
            int(line.split(b":")[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        ),
        0,
    )
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


def drip_headers(conn: socket.socket, stop: threading.Event) -> None:
    """Send a status line, then one header byte every 50 ms, never finishing."""
    with conn:
        read_request(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\nX-Slow: ")
        while not stop.is_set():
            try:
                conn.sendall(b"a")
            except OSError:
                return
            time.sleep(0.05)


def endless_body(conn: socket.socket, stop: threading.Event) -> None:
    """Answer 200 with a body that never ends."""
    with conn:
        read_request(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000000000\r\n\r\n")
        chunk = b"x" * 65536
        while not stop.is_set():
            try:
                conn.sendall(chunk)
            except OSError:
                return


def silent(conn: socket.socket, stop: threading.Event) -> None:
    with conn:
        stop.wait(10)


@pytest.mark.parametrize("behaviour", [silent, drip_headers])
def test_the_whole_exchange_is_cut_at_the_deadline(behaviour):
    with raw_server(behaviour) as port:
        sender = PinnedWebhookSender(EMULATOR, timeout=0.5)
        started = time.monotonic()
        response = sender.post(f"http://127.0.0.1:{port}/", b"{}", {})
        elapsed = time.monotonic() - started
    assert (response.status_code, response.error) == (None, TIMEOUT)
    assert elapsed < 2.0


def test_the_answer_is_read_only_up_to_the_limit():
    with raw_server(endless_body) as port:
        started = time.monotonic()
        response = PinnedWebhookSender(EMULATOR, timeout=5).post(
            f"http://127.0.0.1:{port}/", b"", {}
        )
        assert response.status_code == 200
        assert time.monotonic() - started < 2.0  # it did not read the gigabyte


# --- TLS: the certificate is checked against the host name, not the address -----------------
def _certificate(
    subject: str, issuer_key, issuer_name, key, *, ca: bool = False
) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
            critical=False,
        )
    )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    else:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(subject)]), critical=False
        )
    return builder.sign(issuer_key, hashes.SHA256())


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> dict[str, Path]:
    """A throwaway CA and a server certificate for `hooks.test` it signed."""
    folder = tmp_path_factory.mktemp("pki")
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test CA")])
    ca = _certificate("Test CA", ca_key, ca_name, ca_key, ca=True)
    server_key = ec.generate_private_key(ec.SECP256R1())
    server = _certificate("hooks.test", ca_key, ca_name, server_key)
    paths = {"ca": folder / "ca.pem", "cert": folder / "cert.pem", "key": folder / "key.pem"}
    paths["ca"].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths["cert"].write_bytes(server.public_bytes(serialization.Encoding.PEM))
    paths["key"].write_bytes(
        server_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return paths


@contextmanager
def tls_server(pki: dict[str, Path]) -> Iterator[tuple[int, list[str | None]]]:
    """An HTTPS server on 127.0.0.1 answering 200; the SNI names it was asked for."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki["cert"], pki["key"])
    names: list[str | None] = []
    context.sni_callback = lambda sock, name, ctx: names.append(name)

    def answer(conn: socket.socket, stop: threading.Event) -> None:
        try:
            with context.wrap_socket(conn, server_side=True) as tls:
                read_request(tls)
                tls.sendall(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n")
        except (ssl.SSLError, OSError):
            pass

    with raw_server(answer) as port:
        yield port, names


def client_context(pki: dict[str, Path]) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(pki["ca"]))


def test_https_goes_to_the_checked_address_and_verifies_the_host_name(pki):
    with tls_server(pki) as (port, names):
        sender = PinnedWebhookSender(
            EMULATOR, Resolver({"hooks.test": ["127.0.0.1"]}), ssl_context=client_context(pki)
        )
        response = sender.post(f"https://hooks.test:{port}/x", b"{}", {})
        assert (response.status_code, response.error) == (204, None)
        assert names == ["hooks.test"]


def test_a_certificate_for_another_name_is_refused(pki):
    with tls_server(pki) as (port, _):
        sender = PinnedWebhookSender(
            EMULATOR, Resolver({"other.test": ["127.0.0.1"]}), ssl_context=client_context(pki)
        )
        response = sender.post(f"https://other.test:{port}/x", b"{}", {})
        assert (response.status_code, response.error) == (None, TLS_FAILURE)
        assert "other.test" in (response.detail or "")


def test_an_untrusted_certificate_is_refused(pki):
    with tls_server(pki) as (port, _):
        sender = PinnedWebhookSender(EMULATOR, Resolver({"hooks.test": ["127.0.0.1"]}))
        response = sender.post(f"https://hooks.test:{port}/x", b"{}", {})
        assert (response.status_code, response.error) == (None, TLS_FAILURE)


def test_every_checked_address_is_tried_in_turn():
    """Nothing listens on 127.0.0.3: the connection falls through to the next checked address."""
    with running_receiver() as receiver:
        resolver = Resolver({"localhost": ["127.0.0.3", "127.0.0.1"]})
        sender = PinnedWebhookSender(EMULATOR, resolver)
        response = sender.post(f"http://localhost:{receiver.port}/x", b"{}", {})
        assert response.status_code == 200 and len(receiver.requests) == 1
