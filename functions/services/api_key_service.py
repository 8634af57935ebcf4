"""Personal API keys: create (shown once), list, revoke, and who a presented key belongs to."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from core import api_keys
from core.clock import Clock
from core.errors import NotFoundError
from schemas.documents import ApiKeyRecord
from services.ports import ApiKeyStore

# At most this many keys of one user are active at once (one more answers 409).
MAX_ACTIVE_KEYS = 10
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


@dataclass(frozen=True)
class CreatedKey:
    key: str  # the secret: answered once, never stored
    record: ApiKeyRecord


class ApiKeyService:
    def __init__(
        self,
        store: ApiKeyStore,
        clock: Clock,
        account_active: AccountCheck | None = None,
        *,
        max_active: int = MAX_ACTIVE_KEYS,
    ) -> None:
        self._store = store
        self._clock = clock
        self._account_active = account_active
        self._max_active = max_active

    def create(self, user_id: str, name: str) -> CreatedKey:
        key = api_keys.generate()
        record = ApiKeyRecord(
            id=api_keys.key_hash(key),
            key_id=api_keys.new_key_id(),
            user_id=user_id,
            name=name,
            prefix=api_keys.display_prefix(key),
            created_at=self._clock.now(),
        )
        return CreatedKey(key, self._store.create(record, self._max_active))

    def list_for_owner(self, user_id: str) -> list[ApiKeyRecord]:
        return self._store.list_for_owner(user_id, MAX_LISTED_KEYS)

    def revoke(self, user_id: str, key_id: str) -> ApiKeyRecord:
        """Revoke at once (the next call with the key is refused); repeating it answers the
        same. Another user's key answers exactly like an unknown one."""
        record = self._store.revoke(user_id, key_id, self._clock.now)
        if record is None:
            raise NotFoundError(f"API key not found: {key_id}", error="api_key_not_found")
        return record

    def owner_of(self, key: str) -> str:
        """The uid a presented key acts for: a bad checksum is refused without a lookup, then
        the key must be stored, not revoked, and its owner's account active."""
        if not api_keys.checksum_ok(key):
            raise ApiKeyRejected("malformed_api_key")
        owner = self._store.resolve(api_keys.key_hash(key), self._clock.now(), TOUCH_INTERVAL)
        if owner is None:
            raise ApiKeyRejected("unknown_or_revoked_api_key")
        if self._account_active is not None and not self._account_active(owner):
            raise ApiKeyRejected("owner_account_disabled")
        return owner
