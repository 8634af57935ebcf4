"""The webhook URL policy (core/webhook_urls.py): what may be a target, in production and on the
emulator, however the host is spelled."""

from __future__ import annotations

import ipaddress

import pytest

from core.webhook_urls import (
    EMULATOR,
    MAX_URL_LENGTH,
    PRODUCTION,
    WebhookUrlRefused,
    address_refusal,
    embedded_ipv4,
    parse_webhook_url,
)


def refused(url: str, policy=PRODUCTION) -> str:
    with pytest.raises(WebhookUrlRefused) as error:
        parse_webhook_url(url, policy)
    return str(error.value)


@pytest.mark.parametrize(
    ("url", "host", "port", "target", "host_header"),
    [
        ("https://hooks.example.com/imagen", "hooks.example.com", 443, "/imagen", None),
        ("https://hooks.example.com", "hooks.example.com", 443, "/", None),
        (
            "HTTPS://Hooks.EXAMPLE.com:8443/a?b=1&c=%20",
            "hooks.example.com",
            8443,
            "/a?b=1&c=%20",
            None,
        ),
        ("https://hooks.example.com./x", "hooks.example.com", 443, "/x", None),  # FQDN dot
        ("https://bücher.example/x", "xn--bcher-kva.example", 443, "/x", None),  # IDN
        ("https://8.8.8.8/x", "8.8.8.8", 443, "/x", None),
        ("https://[2606:4700::1111]:444/x", "2606:4700::1111", 444, "/x", "[2606:4700::1111]:444"),
        ("https://hooks.example.com:443/", "hooks.example.com", 443, "/", "hooks.example.com"),
    ],
)
def test_public_https_urls_are_accepted(url, host, port, target, host_header):
    parsed = parse_webhook_url(url, PRODUCTION)
    assert (parsed.scheme, parsed.host, parsed.port, parsed.target) == ("https", host, port, target)
    if host_header is not None:
        assert parsed.host_header == host_header


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://hooks.example.com/", "must use https"),
        ("ftp://hooks.example.com/", "absolute https:// URL"),
        ("https:hooks.example.com/x", "absolute https:// URL"),
        ("//hooks.example.com/x", "absolute https:// URL"),
        ("hooks.example.com", "absolute https:// URL"),
        ("javascript:alert(1)", "absolute https:// URL"),
        ("", "absolute https:// URL"),
        ("https:///x", "must name a host"),
        ("https://user:pass@hooks.example.com/", "user name or password"),
        ("https://hooks.example.com@127.0.0.1/", "user name or password"),
        ("https://evil.example\\@127.0.0.1/", "backslash"),
        ("https://hooks.example.com/#frag", "fragment"),
        ("https://hooks.example.com/a b", "spaces or control characters"),
        ("https://hooks.example.com/\x00", "spaces or control characters"),
        (" https://hooks.example.com/", "spaces or control characters"),
        ("https://hooks.example.com:0/", "invalid port"),
        ("https://hooks.example.com:65536/", "invalid port"),
        ("https://hooks.example.com:8o/", "invalid port"),
        ("https://hooks.example.com:\uff11\uff12/", "invalid port"),  # full-width digits
        ("https://%31%32%37.0.0.1/", "percent-encode"),
        ("https://hooks_example.com/", "invalid host name"),
        ("https://a..example.com/", "invalid host name"),
        ("https://hooks.example.com../", "invalid host name"),
        ("https://" + "a" * 64 + ".example/", "invalid host name"),
        ("https://[::1/", "not a valid URL"),
        ("https://[fe80::1%25eth0]/", "IPv6 zone"),
        ("https://::1/", "IPv6 address that is not in brackets"),
        ("https://hooks.example.com/ü", "percent-encode characters outside ASCII"),
        ("https://hooks.example/" + "a" * MAX_URL_LENGTH, f"at most {MAX_URL_LENGTH}"),
    ],
)
def test_bad_syntax_and_schemes_are_refused(url, reason):
    assert reason in refused(url)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        # loopback, in every spelling a URL parser accepts
        ("https://127.0.0.1/", "loopback"),
        ("https://127.255.1.2/", "loopback"),
        ("https://2130706433/", "loopback"),  # decimal
        ("https://0x7f000001/", "loopback"),  # hex
        ("https://0x7F.1/", "loopback"),
        ("https://0177.0.0.1/", "loopback"),  # octal
        ("https://127.1/", "loopback"),  # short form
        ("https://127.0.0.1./", "loopback"),  # trailing dot
        ("https://\uff11\uff12\uff17.\uff10.\uff10.\uff11/", "loopback"),  # full-width digits
        ("https://127\u30020\u30020\u30021/", "loopback"),  # ideographic full stops
        ("https://[::1]/", "loopback"),
        ("https://localhost/", "loopback"),
        ("https://LOCALHOST./", "loopback"),
        ("https://api.localhost/", "loopback"),
        # IPv6 forms that embed a refused IPv4 address
        ("https://[::ffff:127.0.0.1]/", "embeds a non-public IPv4"),
        ("https://[::ffff:7f00:1]/", "embeds a non-public IPv4"),
        ("https://[::ffff:169.254.169.254]/", "embeds a non-public IPv4"),
        ("https://[::127.0.0.1]/", "embeds a non-public IPv4"),  # IPv4-compatible
        ("https://[64:ff9b::a00:1]/", "embeds a non-public IPv4"),  # NAT64 of 10.0.0.1
        ("https://[2002:c0a8:101::1]/", "embeds a non-public IPv4"),  # 6to4 of 192.168.1.1
        # the other refused ranges
        ("https://169.254.169.254/latest/meta-data/", "link-local"),  # cloud metadata
        ("https://0xa9fea9fe/", "link-local"),  # the same, spelled in hex
        ("https://[fe80::1]/", "link-local"),
        ("https://10.0.0.1/", "private"),
        ("https://172.16.5.4/", "private"),
        ("https://192.168.1.1/", "private"),
        ("https://[fc00::1]/", "private"),
        ("https://[fd12:3456::1]/", "private"),
        ("https://100.64.0.1/", "not public"),  # shared address space (CGNAT)
        ("https://192.0.2.1/", "private"),  # documentation
        ("https://[2001:db8::1]/", "private"),  # documentation
        ("https://224.0.0.1/", "multicast"),
        ("https://[ff02::1]/", "multicast"),
        ("https://240.0.0.1/", "private"),  # reserved for future use
        ("https://255.255.255.255/", "private"),  # broadcast
        ("https://0.0.0.0/", "unspecified"),
        ("https://0/", "unspecified"),
        ("https://[::]/", "unspecified"),
        ("https://[fec0::1]/", "site-local"),
    ],
)
def test_literal_addresses_in_refused_ranges_are_refused(url, reason):
    assert reason in refused(url)


@pytest.mark.parametrize(
    "url",
    [
        "https://1.2.3.4.5/",  # five parts
        "https://256.0.0.1/",  # a part over 255
        "https://1.2.3.256/",
        "https://4294967296/",  # over 32 bits
        "https://08.0.0.1/",  # not octal
        "https://0xg.0.0.1/",
        "https://example.123/",  # ends in a number, so it must be an address
    ],
)
def test_malformed_ipv4_is_refused(url):
    assert "invalid IPv4 address" in refused(url)


@pytest.mark.parametrize(
    "url", ["https://134744072/", "https://0x8.0x8.0x8.0x8/", "https://8.8.2056/"]
)
def test_a_public_address_must_still_be_written_in_dotted_decimal_form(url):
    assert "dotted-decimal" in refused(url)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8123/hook",
        "http://127.0.0.1./hook",
        "http://localhost:8123/hook",
        "http://[::1]:8123/hook",
        "https://127.0.0.1/hook",
        "https://localhost/hook",
    ],
)
def test_the_emulator_allows_loopback_targets_and_plain_http_to_them(url):
    parsed = parse_webhook_url(url, EMULATOR)
    assert parsed.host in ("127.0.0.1", "localhost", "::1")
    assert "loopback" in refused(url, PRODUCTION) or "https" in refused(url, PRODUCTION)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://hooks.example.com/", "must use https"),  # http only for loopback
        ("http://8.8.8.8/", "must use https"),
        ("https://169.254.169.254/", "link-local"),
        ("https://10.1.2.3/", "private"),
        ("https://[::ffff:127.0.0.1]/", "embeds"),  # loopback only as 127/8, ::1 or localhost
        ("http://2130706433/", "dotted-decimal"),
    ],
)
def test_the_emulator_still_refuses_everything_but_loopback(url, reason):
    assert reason in refused(url, EMULATOR)


def test_embedded_ipv4_addresses_are_found():
    def embedded(text):
        return [str(a) for a in embedded_ipv4(ipaddress.IPv6Address(text))]

    assert embedded("::ffff:10.0.0.1") == ["10.0.0.1"]
    assert embedded("::10.0.0.1") == ["10.0.0.1"]
    assert embedded("64:ff9b::808:808") == ["8.8.8.8"]
    assert embedded("2002:808:808::1") == ["8.8.8.8"]
    assert "192.0.2.45" in embedded("2001:0:4136:e378:8000:63bf:3fff:fdd2")  # Teredo client
    assert embedded("2606:4700::1111") == []
    assert embedded("::1") == [] and embedded("::") == []


METADATA = "a link-local address (such as the cloud metadata service)"


@pytest.mark.parametrize(
    ("address", "production", "emulator"),
    [
        ("8.8.8.8", None, None),
        ("2606:4700::1111", None, None),
        ("64:ff9b::808:808", "a reserved address", "a reserved address"),  # NAT64 of public
        ("127.0.0.1", "a loopback address", None),
        ("::1", "a loopback address", None),
        ("169.254.169.254", METADATA, METADATA),
        ("10.0.0.1", "a private address", "a private address"),
    ],
)
def test_address_refusal_per_policy(address, production, emulator):
    ip = ipaddress.ip_address(address)
    assert address_refusal(ip, PRODUCTION) == production
    assert address_refusal(ip, EMULATOR) == emulator
