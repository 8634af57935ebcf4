"""The webhook URL policy against SSRF (pure): checked when a request is created and again for
every resolved address at each delivery.

Only `https` to public unicast addresses (and, on the emulator, loopback over `http` too); an
IPv6 address that embeds a refused IPv4 one is refused. Hosts are read as a browser reads them
(UTS 46; legacy IPv4 forms such as `0x7f.1`, refused unless dotted-decimal), so that no spelling
sneaks an address past the check.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Literal, NamedTuple
from urllib.parse import urlsplit

import idna

MAX_URL_LENGTH = 2048
MAX_HOST_LENGTH = 253
DEFAULT_PORTS = {"http": 80, "https": 443}

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# 64:ff9b::/96, the NAT64 well-known prefix: the low 32 bits are the IPv4 destination.
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_HEX_NUMBER = re.compile(r"0[xX][0-9A-Fa-f]*")
_LOCALHOST = "localhost"


class WebhookUrlRefused(ValueError):
    """A webhook URL the policy refuses. The message is a reason for the URL's owner; it never
    names an address that a host name resolved to."""


class UrlPolicy(NamedTuple):
    """`allow_loopback`: loopback addresses (127.0.0.0/8, ::1, `localhost`) may be targets, and
    plain `http` to them. Only on the emulator; link-local and private ranges stay refused."""

    allow_loopback: bool = False


PRODUCTION = UrlPolicy()
EMULATOR = UrlPolicy(allow_loopback=True)


class WebhookTarget(NamedTuple):
    """A checked webhook URL, ready to connect to."""

    scheme: Literal["http", "https"]
    host: str  # ASCII: the IDNA form of a name (lower case, no trailing dot) or an address
    port: int
    target: str  # the request target: path and query, at least "/"
    address: IPAddress | None  # the host, when it is written as an address

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if isinstance(self.address, ipaddress.IPv6Address) else self.host
        return host if self.port == DEFAULT_PORTS[self.scheme] else f"{host}:{self.port}"

    @property
    def loopback_name(self) -> bool:
        """`localhost` or a name under it (RFC 6761: always loopback)."""
        return self.host == _LOCALHOST or self.host.endswith("." + _LOCALHOST)


def parse_webhook_url(raw: str, policy: UrlPolicy) -> WebhookTarget:
    """The URL as a target, or WebhookUrlRefused with the reason. Host names are not resolved
    here (see `address_refusal` for each resolved address)."""
    if len(raw) > MAX_URL_LENGTH:
        raise WebhookUrlRefused(f"must be at most {MAX_URL_LENGTH} characters")
    if any(ord(c) <= 0x20 or ord(c) == 0x7F for c in raw):
        raise WebhookUrlRefused("must not contain spaces or control characters")
    if "\\" in raw:
        raise WebhookUrlRefused("must not contain a backslash")
    if "#" in raw:
        raise WebhookUrlRefused("must not contain a fragment (#)")
    try:
        parts = urlsplit(raw)
    except ValueError:
        raise WebhookUrlRefused("is not a valid URL") from None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not raw.lower().startswith(f"{scheme}://"):
        raise WebhookUrlRefused("must be an absolute https:// URL")
    if not parts.netloc:
        raise WebhookUrlRefused("must name a host")
    if "@" in parts.netloc:
        raise WebhookUrlRefused("must not contain a user name or password")
    host_text, port = _split_host_port(parts.netloc, DEFAULT_PORTS[scheme])
    host, address = _parse_host(host_text, policy)
    request_target = parts.path or "/"
    if parts.query:
        request_target += "?" + parts.query
    if not request_target.isascii():
        raise WebhookUrlRefused("must percent-encode characters outside ASCII in its path")
    target = WebhookTarget(scheme, host, port, request_target, address)  # type: ignore[arg-type]
    if scheme == "http":
        loopback = target.loopback_name or (address is not None and address.is_loopback)
        if not (policy.allow_loopback and loopback):
            raise WebhookUrlRefused(
                "must use https (plain http only to a loopback address on the emulator)"
            )
    return target


def _split_host_port(netloc: str, default_port: int) -> tuple[str, int]:
    if netloc.startswith("["):
        end = netloc.find("]")
        if end < 0:
            raise WebhookUrlRefused("has an unterminated IPv6 address")
        host, rest = netloc[: end + 1], netloc[end + 1 :]
        if rest and not rest.startswith(":"):
            raise WebhookUrlRefused("is not a valid URL")
        port_text = rest[1:] if rest else ""
    else:
        host, _, port_text = netloc.partition(":")
        if ":" in port_text:
            raise WebhookUrlRefused("has an IPv6 address that is not in brackets")
    if port_text == "":
        return host, default_port
    if not port_text.isascii() or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise WebhookUrlRefused("has an invalid port")
    return host, int(port_text)


def _parse_host(text: str, policy: UrlPolicy) -> tuple[str, IPAddress | None]:
    """(ASCII host, its address when it is one)."""
    if not text:
        raise WebhookUrlRefused("must name a host")
    if "%" in text:
        raise WebhookUrlRefused("must not percent-encode its host or name an IPv6 zone")
    if text.startswith("["):
        try:
            v6 = ipaddress.IPv6Address(text[1:-1])
        except ValueError:
            raise WebhookUrlRefused("has an invalid IPv6 address") from None
        _refuse_address(v6, policy)
        return str(v6), v6
    try:
        ascii_host = idna.encode(text, uts46=True).decode("ascii").lower()
    except (idna.IDNAError, UnicodeError):
        raise WebhookUrlRefused("has an invalid host name") from None
    # One trailing dot (a fully qualified name) is the same host.
    host = ascii_host.removesuffix(".")
    if not host or host.endswith(".") or len(host) > MAX_HOST_LENGTH:
        raise WebhookUrlRefused("has an invalid host name")
    if _ends_in_number(host):
        v4 = _legacy_ipv4(host)
        _refuse_address(v4, policy)
        if host != str(v4):
            raise WebhookUrlRefused("must write an IPv4 address in dotted-decimal form (a.b.c.d)")
        return str(v4), v4
    if not policy.allow_loopback and (host == _LOCALHOST or host.endswith("." + _LOCALHOST)):
        raise WebhookUrlRefused("must not point at a loopback address")
    return host, None


def _ends_in_number(host: str) -> bool:
    last = host.split(".")[-1]
    return (last.isascii() and last.isdigit()) or bool(_HEX_NUMBER.fullmatch(last))


def _legacy_ipv4(host: str) -> ipaddress.IPv4Address:
    """An IPv4 address in any form a URL parser accepts: 1 to 4 parts, each decimal, octal
    (leading 0) or hex (0x); the last part fills the remaining bytes."""
    parts = host.split(".")
    if len(parts) > 4:
        raise WebhookUrlRefused("has an invalid IPv4 address")
    numbers = [_ipv4_number(part) for part in parts]
    if any(n > 255 for n in numbers[:-1]) or numbers[-1] >= 256 ** (5 - len(numbers)):
        raise WebhookUrlRefused("has an invalid IPv4 address")
    value = numbers[-1]
    for index, number in enumerate(numbers[:-1]):
        value += number * 256 ** (3 - index)
    return ipaddress.IPv4Address(value)


def _ipv4_number(part: str) -> int:
    try:
        if _HEX_NUMBER.fullmatch(part):
            return int(part[2:] or "0", 16)
        if not (part.isascii() and part.isdigit()):
            raise ValueError(part)
        if len(part) > 1 and part.startswith("0"):
            return int(part, 8)
        return int(part)
    except ValueError:
        raise WebhookUrlRefused("has an invalid IPv4 address") from None


def _refuse_address(address: IPAddress, policy: UrlPolicy) -> None:
    reason = address_refusal(address, policy)
    if reason is not None:
        raise WebhookUrlRefused(f"must not point at {reason}")


def address_refusal(address: IPAddress, policy: UrlPolicy) -> str | None:
    """Why the policy refuses to connect to `address` (a phrase, e.g. "a private address"), or
    None when it may."""
    if isinstance(address, ipaddress.IPv6Address):
        for embedded in embedded_ipv4(address):
            if address_refusal(embedded, PRODUCTION) is not None:
                return "an IPv6 address that embeds a non-public IPv4 address"
        if address.is_site_local:
            return "a site-local address"
    if address.is_loopback:
        return None if policy.allow_loopback else "a loopback address"
    if address.is_unspecified:
        return "the unspecified address"
    if address.is_link_local:
        return "a link-local address (such as the cloud metadata service)"
    if address.is_multicast:
        return "a multicast address"
    if address.is_private:
        return "a private address"
    if address.is_reserved:
        return "a reserved address"
    if not address.is_global:
        return "an address that is not public"
    return None


def embedded_ipv4(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address carries (and may be translated to on the way)."""
    found = []
    value = int(address)
    if address.ipv4_mapped is not None:
        found.append(address.ipv4_mapped)
    if value >> 32 == 0 and value > 1:  # IPv4-compatible ::a.b.c.d (deprecated)
        found.append(ipaddress.IPv4Address(value))
    if address in _NAT64:
        found.append(ipaddress.IPv4Address(value & 0xFFFFFFFF))
    if address.sixtofour is not None:
        found.append(address.sixtofour)
    if address.teredo is not None:
        found.extend(address.teredo)
    return found
