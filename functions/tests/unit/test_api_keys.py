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
from controllers.http import validate
from controllers.webhook_controller import WebhookController
from core import api_keys
from core.errors import (
    BackendUnavailableError,
    ForbiddenError,
    NotFoundError,
    TooManyApiKeysCreatedError,
    TooManyApiKeysError,
    UnauthenticatedError,
    ValidationError,
)
from core.settings import Settings
from schemas.documents import ApiKeyRecord
from schemas.requests import CreateApiKeyRequest
from services.api_key_service import (
    CREATION_WINDOW,
    MAX_ACTIVE_KEYS,
    MAX_CREATED_KEYS,
    RETENTION,
    TOUCH_INTERVAL,
    ApiKeyRejected,
    ApiKeyService,
)
from services.webhook_service import WebhookSecrets
from tests.support.fakes import FakeAccounts, FakeApiKeys, FakeSecrets, ManualClock, record_logs
from tests.support.http import _APP, call, make_request

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
    assert svc.owner_of(created.key).user_id == "arda"


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
    assert svc.owner_of(created.key).user_id == "arda"
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
    assert svc.owner_of(created.key).user_id == "arda"  # still active


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
    assert auth.authenticate(with_key(key), scope="read") == "arda"
    with pytest.raises(ForbiddenError):
        auth.require_owner(auth.authenticate(with_key(key), scope="generate"), "havanur")


@pytest.mark.parametrize("required", [False, True])
def test_a_bad_key_is_a_401_in_both_modes(required, monkeypatch):
    logs = record_logs(monkeypatch, auth_controller)
    svc = service(FakeApiKeys())
    key = svc.create("arda", "ci").key
    for bad in (key[:-1], api_keys.generate()):
        with pytest.raises(UnauthenticatedError) as refused:
            authorizer(svc, required).authenticate(with_key(bad), scope="read")
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
        authorizer(svc).authenticate(with_key(key), scope="read")


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
        ):
            status, body = call(handler, method, headers=headers, query={"userId": "arda"})
            assert (status, body["error"]) == (401, "invalid_api_key"), body
            assert broken not in repr(body)
    assert db.touched == []


# --- managing the account needs an ID token ------------------------------------------------------
MANAGEMENT = {
    "createAccount": (main.createAccount, "POST", None),
    "createApiKey": (main.createApiKey, "POST", {"name": "minted"}),
    "listApiKeys": (main.listApiKeys, "GET", None),
    "revokeApiKey": (main.revokeApiKey, "POST", {"keyId": "key_x"}),
    "getWebhookSecret": (main.getWebhookSecret, "GET", None),
    "rotateWebhookSecret": (main.rotateWebhookSecret, "POST", None),
}


@pytest.mark.parametrize("required", [False, True])
@pytest.mark.parametrize("name", list(MANAGEMENT))
def test_a_key_cannot_manage_the_account(monkeypatch, required, name):
    """Through the real wiring: any key, valid or not, is a 403 `id_token_required` on every
    management function, decided without one Firestore call."""
    db = Untouchable()
    built = Container(
        Settings(on_emulator=True, require_auth=required),
        db=db,  # type: ignore[arg-type]
        queue=SimpleNamespace(),  # type: ignore[arg-type]
        account_active=lambda uid: pytest.fail("account looked up"),
    )
    monkeypatch.setattr(main, "container", lambda: built)
    handler, method, body = MANAGEMENT[name]
    for key in (api_keys.generate(), api_keys.generate()[:-1]):
        status, answer = call(
            handler, method, headers={"Authorization": f"Bearer {key}"}, json_body=body
        )
        assert (status, answer["error_type"], answer["error"]) == (
            403,
            "forbidden",
            "id_token_required",
        ), answer
        assert "ID token" in answer["message"] and key not in repr(answer)
    assert db.touched == []


def test_identify_takes_an_id_token_only():
    def arda(token: str) -> dict[str, Any]:
        if token != "token-of-arda":
            raise TokenRejected("InvalidIdTokenError")
        return {"uid": "arda"}

    svc = service(FakeApiKeys())
    key = svc.create("arda", "ci").key
    auth = UserAuthorizer(False, arda, key_resolver(svc))
    assert auth.identify(with_key("token-of-arda")) == "arda"
    with pytest.raises(ForbiddenError) as refused:
        auth.identify(with_key(key))
    assert refused.value.error == "id_token_required"
    with pytest.raises(UnauthenticatedError) as missing:
        auth.identify(make_request("GET"))
    assert missing.value.error == "missing_token"


# --- scopes ------------------------------------------------------------------------------------
def test_keys_get_both_scopes_unless_told():
    svc = service(FakeApiKeys())
    assert svc.create("arda", "all").record.scopes == ["generate", "read"]
    assert svc.create("arda", "r", ["read"]).record.scopes == ["read"]
    assert svc.create("arda", "both", ["read", "generate"]).record.scopes == ["generate", "read"]
    stored_before_scopes = {
        "key_id": "key_old",
        "user_id": "arda",
        "name": "old",
        "prefix": "fsk_x",
        "created_at": NOW,
    }
    old = ApiKeyRecord.model_validate({"id": "h"} | stored_before_scopes)
    assert old.scopes == ["generate", "read"] and old.expires_at is None
    assert "scopes" in old.document()


@pytest.mark.parametrize(
    ("scopes", "allowed", "refused"),
    [(["read"], "read", "generate"), (["generate"], "generate", "read")],
)
def test_a_key_without_the_scope_is_a_403_naming_it(scopes, allowed, refused, monkeypatch):
    logs = record_logs(monkeypatch, auth_controller)
    svc = service(FakeApiKeys())
    key = svc.create("arda", "ci", scopes).key
    for required in (False, True):
        auth = authorizer(svc, required)
        assert auth.authenticate(with_key(key), scope=allowed) == "arda"
        with pytest.raises(ForbiddenError) as forbidden:
            auth.authenticate(with_key(key), scope=refused)
        assert forbidden.value.error == "insufficient_scope"
        assert f"'{refused}' scope" in forbidden.value.message
        assert forbidden.value.extra == {"requiredScope": refused}
    assert key[4:-1] not in repr(logs)


def test_an_id_token_has_every_scope():
    auth = UserAuthorizer(True, lambda token: {"uid": "arda"}, key_resolver(service(FakeApiKeys())))
    for scope in api_keys.SCOPES:
        assert auth.authenticate(with_key("a.jwt.token"), scope=scope) == "arda"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"scopes": []}, "scopes"),
        ({"scopes": ["admin"]}, "scopes.0"),
        ({"scopes": ["read", "read"]}, "scopes"),
        ({"scopes": ["read", "generate", "read"]}, "scopes"),
        ({"scopes": "read"}, "scopes"),
        ({"scopes": None}, "scopes"),
        ({"scopes": ["READ"]}, "scopes.0"),
        ({"expiresInDays": 0}, "expiresInDays"),
        ({"expiresInDays": 366}, "expiresInDays"),
        ({"expiresInDays": "30"}, "expiresInDays"),
        ({"expiresInDays": 1.5}, "expiresInDays"),
        ({"expiresInDays": True}, "expiresInDays"),
        ({"expiresInDays": -1}, "expiresInDays"),
    ],
)
def test_create_validates_scopes_and_expiry(body, field):
    with pytest.raises(ValidationError) as refused:
        validate(CreateApiKeyRequest, {"name": "ci"} | body)
    assert refused.value.details is not None
    assert [d.field for d in refused.value.details] == [field]


def test_create_defaults():
    parsed = validate(CreateApiKeyRequest, {"name": "ci"})
    assert (parsed.scopes, parsed.expiresInDays) == (["generate", "read"], None)
    parsed = validate(CreateApiKeyRequest, {"name": "ci", "scopes": ["read"], "expiresInDays": 365})
    assert (parsed.scopes, parsed.expiresInDays) == (["read"], 365)


# --- expiry and retention --------------------------------------------------------------------
def test_an_expired_key_is_a_401_of_its_own():
    clock = ManualClock(NOW)
    svc = ApiKeyService(FakeApiKeys(), clock)
    created = svc.create("arda", "ci", expires_in_days=7)
    assert created.record.expires_at == NOW + timedelta(days=7)
    assert created.record.delete_at == NOW + timedelta(days=37)  # TTL: 30 days after expiry
    auth = authorizer(svc, True)
    clock.advance(timedelta(days=7) - timedelta(seconds=1))
    assert auth.authenticate(with_key(created.key), scope="read") == "arda"
    clock.advance(timedelta(seconds=1))
    with pytest.raises(ApiKeyRejected, match=api_keys.EXPIRED):
        svc.owner_of(created.key)
    with pytest.raises(UnauthenticatedError) as expired:
        auth.authenticate(with_key(created.key), scope="read")
    assert expired.value.error == "api_key_expired" and "expired" in expired.value.message
    assert svc.create("arda", "forever").record.expires_at is None


def test_a_revoked_key_is_deleted_30_days_later():
    clock = ManualClock(NOW)
    svc = ApiKeyService(FakeApiKeys(), clock)
    lasting = svc.create("arda", "lasting")
    assert lasting.record.delete_at is None  # a usable key is never deleted
    clock.advance(timedelta(hours=1))
    revoked = svc.revoke("arda", lasting.record.key_id)
    assert (
        revoked.delete_at == NOW + timedelta(hours=1) + RETENTION == revoked.revoked_at + RETENTION
    )
    soon = svc.create("arda", "soon", expires_in_days=1)
    assert svc.revoke("arda", soon.record.key_id).delete_at == clock.now() + RETENTION
    lapsed = svc.create("arda", "lapsed", expires_in_days=1)
    clock.advance(timedelta(days=3))  # revoked two days after it expired
    revoked = svc.revoke("arda", lapsed.record.key_id)
    assert revoked.delete_at == lapsed.record.delete_at  # the earlier of the two
    assert timedelta(days=30) == RETENTION


# --- the creation bound ------------------------------------------------------------------------
def test_creating_keys_is_bounded_per_window():
    clock = ManualClock(NOW)
    svc = ApiKeyService(FakeApiKeys(), clock, max_created=3)
    for _ in range(3):
        created = svc.create("arda", "loop")
        svc.revoke("arda", created.record.key_id)
        clock.advance(timedelta(days=1))
    with pytest.raises(TooManyApiKeysCreatedError) as refused:
        svc.create("arda", "one more")
    assert refused.value.status == 429
    assert refused.value.retry_after == int(timedelta(days=27).total_seconds())
    svc.create("havanur", "another user's bound is its own")
    clock.advance(timedelta(days=27))
    svc.create("arda", "the oldest left the window")
    assert (100, timedelta(days=30)) == (MAX_CREATED_KEYS, CREATION_WINDOW)


# --- an account is needed ----------------------------------------------------------------------
def test_create_needs_an_account():
    store = FakeApiKeys()
    svc = ApiKeyService(store, ManualClock(NOW), accounts=FakeAccounts({"arda"}))
    svc.create("arda", "ci")
    with pytest.raises(NotFoundError) as missing:
        svc.create("ghost", "ci")
    assert missing.value.error == "account_not_found"
    assert "users/ghost" in missing.value.message
    assert "createAccount" in missing.value.message
    assert store.calls == ["create"]


@pytest.mark.parametrize("handler", ["secret", "rotate_secret"])
def test_the_webhook_secret_needs_an_account(handler):
    secrets = FakeSecrets()
    auth = UserAuthorizer(False, lambda token: {"uid": token.removeprefix("token-of-")})
    controller = WebhookController(
        WebhookSecrets(secrets, ManualClock(NOW)),
        None,  # type: ignore[arg-type]
        auth,
        FakeAccounts({"arda"}),
    )
    method = "GET" if handler == "secret" else "POST"

    def respond(uid: str) -> tuple[int, Any]:
        request = make_request(method, headers={"Authorization": f"Bearer token-of-{uid}"})
        with _APP.app_context():
            try:
                response = getattr(controller, handler)(request)
            except NotFoundError as missing:
                return 404, missing
        return response.status_code, response

    assert respond("arda")[0] == 200
    status, missing = respond("ghost")
    assert (status, missing.error) == (404, "account_not_found")
    assert "users/ghost" in missing.message
    assert secrets.get("ghost") is None


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
