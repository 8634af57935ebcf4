"""Personal API keys: `fsk_` + random base62 + a CRC32 checksum (as GitHub builds tokens).

The checksum refuses a mistyped key before any database read; it is no defence against guessing
(the random part is). No dots, so a key is never shaped like a JWT. Only `key_hash(key)` is
stored; the key itself is shown once.
"""

from __future__ import annotations

import hashlib
import secrets
import string
import zlib
from typing import Literal, get_args

PREFIX = "fsk_"
ALPHABET = string.digits + string.ascii_uppercase + string.ascii_lowercase  # base62
RANDOM_LENGTH = 30  # 30 x log2(62) = 178.6 bits
CHECKSUM_LENGTH = 6  # 62**6 > 2**32: room for every CRC32
KEY_LENGTH = len(PREFIX) + RANDOM_LENGTH + CHECKSUM_LENGTH
# What a listing shows of a key: the prefix and 6 random characters (the rest stays secret).
DISPLAY_LENGTH = len(PREFIX) + 6
ELLIPSIS = "\u2026"
KEY_ID_PREFIX = "key_"
KEY_ID_LENGTH = 16
_BASE62 = frozenset(ALPHABET)

# What a key may do, chosen when it is created: `generate` creates and cancels requests, `read`
# reads statuses, listings and credits. An ID token may do everything.
Scope = Literal["generate", "read"]
SCOPES: tuple[Scope, ...] = get_args(Scope)
# Why a stored, unrevoked key is refused once its expiry has passed (a 401 of its own).
EXPIRED = "api_key_expired"


def is_api_key(credential: str) -> bool:
    """Whether a bearer credential claims to be an API key (ID tokens are JWTs: never `fsk_`)."""
    return credential.startswith(PREFIX)


def generate() -> str:
    """A new key: `fsk_` + 30 random base62 characters + their 6-character checksum."""
    random_part = _random_base62(RANDOM_LENGTH)
    return f"{PREFIX}{random_part}{_checksum(random_part)}"


def checksum_ok(key: str) -> bool:
    """Whether `key` is well formed (prefix, length, alphabet) and its checksum matches: a
    mistyped, truncated or padded key fails here, without any lookup."""
    if len(key) != KEY_LENGTH or not key.startswith(PREFIX):
        return False
    body = key[len(PREFIX) :]
    if not set(body) <= _BASE62:
        return False
    random_part, checksum = body[:RANDOM_LENGTH], body[RANDOM_LENGTH:]
    return secrets.compare_digest(_checksum(random_part), checksum)


def key_hash(key: str) -> str:
    """SHA-256 of the key, hex: the id of its stored record. A fast hash is enough: the key
    carries 178 random bits, so there is nothing to brute-force from the hash."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def display_prefix(key: str) -> str:
    """What the owner sees in a listing to recognise a key, e.g. `fsk_3kT9aQ…`."""
    return key[:DISPLAY_LENGTH] + ELLIPSIS


def new_key_id() -> str:
    """The public id of a key (for listing and revoking it); says nothing about the key."""
    return KEY_ID_PREFIX + _random_base62(KEY_ID_LENGTH)


def _random_base62(length: int) -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(length))


def _checksum(random_part: str) -> str:
    value = zlib.crc32(random_part.encode("ascii"))
    digits = []
    for _ in range(CHECKSUM_LENGTH):
        value, digit = divmod(value, len(ALPHABET))
        digits.append(ALPHABET[digit])
    return "".join(reversed(digits))
