"""Personal API keys: create (shown once), list, revoke, and who a presented key belongs to."""

from __future__ import annotations

from collections.abc import Callable, Collection
from datetime import timedelta
from typing import TYPE_CHECKING, NamedTuple

from core import api_keys
from core.api_keys import SCOPES, Scope
from core.errors import NotFoundError
from schemas.documents import ApiKeyRecord
from schemas.store import ApiKeyLimits
from services.accounts import require_account

if TYPE_CHECKING:
    from core.clock import Clock
    from services.ports import AccountReader, ApiKeyStore

# At most this many keys of one user are active (unrevoked, unexpired) at once (one more: 409).
MAX_ACTIVE_KEYS = 10
# At most this many keys of one user are created in CREATION_WINDOW (one more: 429).
MAX_CREATED_KEYS = 100
CREATION_WINDOW = timedelta(days=30)
# A revoked or expired key is deleted this long after (a TTL policy on `delete_at`).
RETENTION = timedelta(days=30)
# `last_used_at` is written at most once per this interval per key, never on every call.
TOUCH_INTERVAL = timedelta(seconds=60)
# A listing shows the newest keys, active and revoked, up to this many.
MAX_LISTED_KEYS = 100


# Whether the account `uid` exists and is not disabled; raises when that cannot be told.
AccountCheck = Callable[[str], bool]


class ApiKeyRejected(Exception):
    """The presented key is malformed, unknown, revoked, or its owner's account is gone."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class CreatedKey(NamedTuple):
    key: str  # the secret: answered once, never stored
    record: ApiKeyRecord


class ApiKeyService:
    def __init__(
        self,
        store: ApiKeyStore,
        clock: Clock,
        account_active: AccountCheck | None = None,
        *,
        accounts: AccountReader | None = None,
        max_active: int = MAX_ACTIVE_KEYS,
        max_created: int = MAX_CREATED_KEYS,
    ) -> None:
        self._store = store
        self._clock = clock
        self._account_active = account_active
        self._accounts = accounts
        self._limits = ApiKeyLimits(max_active, max_created, CREATION_WINDOW)

    def create(
        self,
        user_id: str,
        name: str,
        scopes: Collection[Scope] = SCOPES,
        expires_in_days: int | None = None,
    ) -> CreatedKey:
        """A new key of an existing account (404 `account_not_found` otherwise) that may do
        `scopes` and, with `expires_in_days`, stops working that many days from now."""
        if self._accounts is not None:
            require_account(self._accounts, user_id)
        key = api_keys.generate()
        now = self._clock.now()
        expires_at = now + timedelta(days=expires_in_days) if expires_in_days else None
        record = ApiKeyRecord(
            id=api_keys.key_hash(key),
            key_id=api_keys.new_key_id(),
            user_id=user_id,
            name=name,
            prefix=api_keys.display_prefix(key),
            created_at=now,
            scopes=[scope for scope in SCOPES if scope in scopes],
            expires_at=expires_at,
            delete_at=expires_at + RETENTION if expires_at else None,
        )
        return CreatedKey(key, self._store.create(record, self._limits))

    def list_for_owner(self, user_id: str) -> list[ApiKeyRecord]:
        return self._store.list_for_owner(user_id, MAX_LISTED_KEYS)

    def revoke(self, user_id: str, key_id: str) -> ApiKeyRecord:
        """Revoke at once (the next call with the key is refused); repeating it answers the
        same. Another user's key answers exactly like an unknown one."""
        record = self._store.revoke(user_id, key_id, self._clock.now, RETENTION)
        if record is None:
            raise NotFoundError(f"API key not found: {key_id}", error="api_key_not_found")
        return record

    def owner_of(self, key: str) -> ApiKeyRecord:
        """The stored key a presented one is, for its owner and scopes: a bad checksum is
        refused without a lookup, then the key must be stored, not revoked, not expired
        (`api_keys.EXPIRED`), and its owner's account active."""
        if not api_keys.checksum_ok(key):
            raise ApiKeyRejected("malformed_api_key")
        now = self._clock.now()
        record = self._store.resolve(api_keys.key_hash(key), now, TOUCH_INTERVAL)
        if record is None:
            raise ApiKeyRejected("unknown_or_revoked_api_key")
        if record.expired(now):
            raise ApiKeyRejected(api_keys.EXPIRED)
        if self._account_active is not None and not self._account_active(record.user_id):
            raise ApiKeyRejected("owner_account_disabled")
        return record
