"""Personal API keys without a database: the key format and its checksum, the service's rules
(with an in-memory store), the resolver's wiring into UserAuthorizer, and AdminGuard."""

from __future__ import annotations

import hashlib
import string
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest

import main
from container import Container
from controllers import auth as auth_controller
from controllers.api_key_controller import key_resolver
from controllers.auth import AdminGuard, TokenRejected, UserAuthorizer
from core import api_keys
from core.config import Settings
from core.errors import (
    BackendUnavailableError,
    ForbiddenError,
    NotFoundError,
    TooManyApiKeysError,
    UnauthenticatedError,
)
from services.api_key_service import (
    MAX_ACTIVE_KEYS,
    TOUCH_INTERVAL,
    ApiKeyRejected,
    ApiKeyService,
)
from tests.support.fakes import FakeApiKeys, ManualClock, record_logs
from tests.support.http import call, make_request

NOW = datetime(2025, 8, 4, 12, 0, tzinfo=UTC)


# --- the key format --------------------------------------------------------------------------
def test_a_key_is_prefix_random_part_and_checksum():
    key = api_keys.generate()
    assert key.startswith("fsk_") and len(key) == api_keys.KEY_LENGTH == 40
    assert set(key[4:]) <= set(string.ascii_letters + string.digits)  # no dots: never a JWT
    assert api_keys.is_api_key(key) and api_keys.checksum_ok(key)


def test_keys_carry_at_least_128_random_bits():
    assert api_keys.RANDOM_LENGTH * 5.954 >= 128  # log2(62) = 5.954 bits per character
    keys = {api_keys.generate() for _ in range(2000)}
    assert len(keys) == 2000
    # every base62 character shows up at every position of the random part, in about equal
    # numbers (a broken generator, e.g. hex or a fixed prefix, would not)
    first = [k[4] for k in keys]
    assert set(first) == set(api_keys.ALPHABET)
    assert max(first.count(c) for c in api_keys.ALPHABET) < 80  # ~32 expected


def checksum_fixed(random_part: str) -> str:
    """A key whose checksum is right for `random_part` (what generate() would build)."""
    return api_keys.PREFIX + random_part + api_keys._checksum(random_part)


def test_every_single_character_typo_is_caught():
    key = api_keys.generate()
    for position in range(len(api_keys.PREFIX), len(key)):
        for replacement in api_keys.ALPHABET:
            if replacement != key[position]:
                typo = key[:position] + replacement + key[position + 1 :]
                assert not api_keys.checksum_ok(typo), typo


def test_swapped_neighbours_are_caught():
    key = api_keys.generate()
    for position in range(len(api_keys.PREFIX), len(key) - 1):
        swapped = key[:position] + key[position + 1] + key[position] + key[position + 2 :]
        if swapped != key:
            assert not api_keys.checksum_ok(swapped), swapped


@pytest.mark.parametrize(
    "mangle",
    [
        lambda k: k[:-1],  # truncated
        lambda k: k[:20],
        lambda k: k + "a",  # padded
        lambda k: k + " ",
        lambda k: " " + k,
        lambda k: "fsk-" + k[4:],  # wrong prefix
        lambda k: "FSK_" + k[4:],
        lambda k: k[:10] + "." + k[11:],  # a dot
        lambda k: k[:10] + "\u00e9" + k[11:],  # not base62
        lambda k: k[:-6] + "000000",  # a made-up checksum
        lambda k: "",
        lambda k: "fsk_",
    ],
)
def test_malformed_keys_fail_the_checksum(mangle: Callable[[str], str]):
    assert not api_keys.checksum_ok(mangle(api_keys.generate()))


def test_the_checksum_is_the_crc32_of_the_random_part():
    assert api_keys.checksum_ok(checksum_fixed("0" * 30))
    assert api_keys._checksum("0" * 30) != api_keys._checksum("0" * 29 + "1")
    assert len(api_keys._checksum("z" * 30)) == 6


def test_hash_and_display_prefix():
    key = api_keys.generate()
    assert api_keys.key_hash(key) == hashlib.sha256(key.encode()).hexdigest()
    shown = api_keys.display_prefix(key)
    assert shown == key[:10] + "\u2026" and key not in shown
    key_id = api_keys.new_key_id()
    assert key_id.startswith("key_") and len(key_id) == 20 and key[4:] not in key_id


# --- the service with an in-memory store ------------------------------------------------------
def service(store: FakeApiKeys, account_active: Any = None) -> ApiKeyService:
    return ApiKeyService(store, ManualClock(NOW), account_active)


def test_create_stores_the_hash_and_never_the_key():
    store = FakeApiKeys()
    created = service(store).create("arda", "ci")
    record = store.records[api_keys.key_hash(created.key)]
    assert record == created.record
    assert (record.user_id, record.name, record.created_at) == ("arda", "ci", NOW)
    assert record.prefix == created.key[:10] + "\u2026"
    assert created.key not in repr(record.document())
    assert created.key[10:] not in repr(record.document())


def test_the_limit_of_active_keys_is_passed_to_the_store():
    store = FakeApiKeys()
    svc = service(store)
    keys = [svc.create("arda", f"k{i}") for i in range(MAX_ACTIVE_KEYS)]
    with pytest.raises(TooManyApiKeysError):
        svc.create("arda", "one too many")
    svc.create("havanur", "another user has slots of its own")
    svc.revoke("arda", keys[0].record.key_id)
    svc.create("arda", "a freed slot")


def test_owner_of_a_stored_key():
    store = FakeApiKeys()
    svc = service(store)
    created = svc.create("arda", "ci")
    assert svc.owner_of(created.key) == "arda"


@pytest.mark.parametrize("mangle", [lambda k: k[:-1], lambda k: k[:-1] + "x", lambda k: k + "x"])
def test_a_broken_checksum_is_refused_without_a_lookup(mangle):
    store = FakeApiKeys()
    svc = service(store, account_active=lambda uid: pytest.fail("account looked up"))
    key = svc.create("arda", "ci").key
    store.calls.clear()
    broken = mangle(key)
    if broken[-1] == key[-1] and len(broken) == len(key):
        pytest.skip("the mangle happened to keep the key")
    with pytest.raises(ApiKeyRejected) as rejected:
        svc.owner_of(broken)
    assert rejected.value.reason == "malformed_api_key"
    assert store.calls == []


def test_unknown_and_revoked_keys_are_refused():
    store = FakeApiKeys()
    svc = service(store)
    with pytest.raises(ApiKeyRejected, match="unknown_or_revoked"):
        svc.owner_of(api_keys.generate())  # well formed, never stored
    created = svc.create("arda", "ci")
    assert svc.revoke("arda", created.record.key_id).revoked_at == NOW
    with pytest.raises(ApiKeyRejected, match="unknown_or_revoked"):
        svc.owner_of(created.key)


def test_a_key_of_a_disabled_or_deleted_account_is_refused():
    store = FakeApiKeys()
    active = {"arda": True}
    svc = service(store, account_active=lambda uid: active.get(uid, False))
    created = svc.create("arda", "ci")
    assert svc.owner_of(created.key) == "arda"
    active["arda"] = False
    with pytest.raises(ApiKeyRejected, match="owner_account_disabled"):
        svc.owner_of(created.key)


def test_revoking_someone_elses_or_an_unknown_key_is_not_found():
    store = FakeApiKeys()
    svc = service(store)
    created = svc.create("arda", "ci")
    for owner, key_id in (("havanur", created.record.key_id), ("arda", "key_unknown")):
        with pytest.raises(NotFoundError) as missing:
            svc.revoke(owner, key_id)
        assert missing.value.error == "api_key_not_found"
    assert svc.owner_of(created.key) == "arda"  # still active


def test_the_touch_interval_is_a_minute():
    assert timedelta(seconds=60) == TOUCH_INTERVAL


# --- the resolver inside UserAuthorizer --------------------------------------------------------
def no_tokens(token: str) -> dict[str, Any]:
    raise TokenRejected("InvalidIdTokenError")


def authorizer(svc: ApiKeyService, required: bool = False) -> UserAuthorizer:
    return UserAuthorizer(required, no_tokens, key_resolver(svc))


def with_key(key: str):
    return make_request("GET", headers={"Authorization": f"Bearer {key}"})


@pytest.mark.parametrize("required", [False, True])
def test_a_key_binds_its_owner_in_both_modes(required):
    svc = service(FakeApiKeys())
    key = svc.create("arda", "ci").key
    auth = authorizer(svc, required)
    assert auth.authenticate(with_key(key)) == "arda"
    with pytest.raises(ForbiddenError):
        auth.require_owner(auth.authenticate(with_key(key)), "havanur")
    with pytest.raises(UnauthenticatedError) as refused:
        auth.identify(with_key(key), allow_api_key=False)
    assert refused.value.error == "id_token_required"


@pytest.mark.parametrize("required", [False, True])
def test_a_bad_key_is_a_401_in_both_modes(required, monkeypatch):
    logs = record_logs(monkeypatch, auth_controller)
    svc = service(FakeApiKeys())
    key = svc.create("arda", "ci").key
    for bad in (key[:-1], api_keys.generate()):
        with pytest.raises(UnauthenticatedError) as refused:
            authorizer(svc, required).authenticate(with_key(bad))
        assert refused.value.error == "invalid_api_key"
        assert bad not in refused.value.message
    assert key[4:-1] not in repr(logs)
    reasons = [fields["reason"] for level, _, fields in logs if level == "warn"]
    assert reasons == ["malformed_api_key", "unknown_or_revoked_api_key"]


def test_an_unreachable_account_directory_is_a_503():
    def down(uid: str) -> bool:
        raise ConnectionError("auth backend unreachable")

    svc = service(FakeApiKeys(), account_active=down)
    key = svc.create("arda", "ci").key
    with pytest.raises(BackendUnavailableError):
        authorizer(svc).authenticate(with_key(key))


class Untouchable:
    """A Firestore client that must not be used: any attribute read is recorded and fails."""

    def __init__(self) -> None:
        self.touched: list[str] = []

    def __getattr__(self, name: str) -> Any:
        self.touched.append(name)
        raise AssertionError(f"the database was used: {name}")


@pytest.mark.parametrize("required", [False, True])
def test_a_broken_checksum_never_reaches_the_database(monkeypatch, required):
    """Through the real wiring (container, resolver, repository): a mistyped key is a 401
    `invalid_api_key` and not one Firestore call is made."""
    db = Untouchable()
    built = Container(
        Settings(on_emulator=True, require_auth=required),
        db=db,  # type: ignore[arg-type]
        queue=SimpleNamespace(),  # type: ignore[arg-type]
        account_active=lambda uid: pytest.fail("account looked up"),
    )
    monkeypatch.setattr(main, "container", lambda: built)
    key = api_keys.generate()
    for broken in (key[:-1], key[:-1] + ("a" if key[-1] != "a" else "b")):
        headers = {"Authorization": f"Bearer {broken}"}
        for handler, method in (
            (main.validate_user, "GET"),
            (main.getUserCredits, "GET"),
            (main.listGenerationRequests, "GET"),
            (main.getGenerationStatus, "GET"),
            (main.listApiKeys, "GET"),
        ):
            status, body = call(handler, method, headers=headers, query={"userId": "arda"})
            assert (status, body["error"]) == (401, "invalid_api_key"), body
            assert broken not in repr(body)
    assert db.touched == []


# --- admin functions ---------------------------------------------------------------------------
ADMIN_KEY = "k" * 32


def test_admin_guard_refuses_an_api_key_without_looking_at_it():
    seen: list[str] = []

    def admin_for_anything(token: str) -> dict[str, Any]:
        seen.append(token)
        return {"uid": "x", "admin": True}

    key = api_keys.generate()
    with pytest.raises(ForbiddenError):
        AdminGuard(ADMIN_KEY, admin_for_anything).authorize(with_key(key))
    assert seen == []


def test_admin_guard_refuses_an_api_key_equal_to_the_admin_key():
    """Even an admin key that happens to be shaped like a user key never matches one."""
    key = api_keys.generate()
    with pytest.raises(ForbiddenError):
        AdminGuard(key).authorize(with_key(key))
