"""deleteAccount and exportAccountData: a user's own data, handed out whole or removed for good.

Deletion is a fixed sequence of steps, each idempotent, the account marked `deleting_at` first
and the Firebase Auth user deleted last: a run stopped anywhere is finished by calling again
(with a fresh ID token, which exists until that last step). The ledger stays, keyed by uid.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from core.errors import AppError, DeletionIncompleteError, UnauthenticatedError
from core.logging import info, log_exception, warn
from schemas.documents import IN_FLIGHT, GenerationOutcome, TransactionRecord, UserRecord
from schemas.store import MalformedRecord, StoredRequest
from services.accounts import account_missing
from services.api_key_service import RETENTION

if TYPE_CHECKING:
    from core.clock import Clock
    from services.ports import (
        AccountDataStore,
        ApiKeyStore,
        AuthUsers,
        GenerationQueue,
        GenerationStore,
        ImageStore,
        WebhookDeliveryStore,
    )

# deleteAccount needs an ID token from a sign-in this recent (its `auth_time`).
RECENT_SIGN_IN = timedelta(minutes=5)
# Keys walked when revoking (a user creates at most 100 in 30 days; revoked ones go 30 days on).
MAX_KEYS_WALKED = 1000
# Why a deleted account's pending webhook events are stopped.
ACCOUNT_DELETED = "account_deleted"


def picture_path(user_id: str, request_id: str) -> str:
    """Where the worker stores a request's picture (services/image_paths.py)."""
    return f"generated/{user_id}/{request_id}.png"


@dataclass(frozen=True)
class DeletionResult:
    user_id: str
    cancelled_requests: int  # in-flight requests this call cancelled (and refunded)
    revoked_keys: int  # API keys this call revoked
    deleted_pictures: int  # pictures this call removed from Storage


@dataclass(frozen=True)
class AccountExport:
    user: UserRecord
    requests: list[StoredRequest]
    ledger: list[TransactionRecord]
    exported_at: datetime


class AccountDataService:
    def __init__(
        self,
        store: AccountDataStore,
        generations: GenerationStore,
        queue: GenerationQueue,
        keys: ApiKeyStore,
        deliveries: WebhookDeliveryStore,
        images: Callable[[], ImageStore],
        auth_users: AuthUsers,
        clock: Clock,
    ) -> None:
        self._store = store
        self._generations = generations
        self._queue = queue
        self._keys = keys
        self._deliveries = deliveries
        self._images = images  # opened on first use: only deletion needs Storage
        self._auth_users = auth_users
        self._clock = clock

    def require_recent_sign_in(self, auth_time: object) -> None:
        """401 `recent_sign_in_required` unless the token's sign-in (`auth_time`, seconds since
        the epoch) is at most RECENT_SIGN_IN old."""
        signed_in = _instant(auth_time)
        if signed_in is None or self._clock.now() - signed_in > RECENT_SIGN_IN:
            minutes = int(RECENT_SIGN_IN.total_seconds() // 60)
            raise UnauthenticatedError(
                f"Deleting the account needs a recent sign-in: sign in again (the ID token must "
                f"come from a sign-in within the last {minutes} minutes) and retry",
                error="recent_sign_in_required",
                extra={"maxSignInAgeSeconds": int(RECENT_SIGN_IN.total_seconds())},
            )

    def delete(self, user_id: str, auth_time: object) -> DeletionResult:
        """Delete the account in order; each step is safe to repeat. 404 `account_not_found`
        when users/{uid} does not exist."""
        self.require_recent_sign_in(auth_time)
        if self._store.begin_deletion(user_id, self._clock.now()) is None:
            raise account_missing(user_id)
        try:
            cancelled = self._cancel_in_flight(user_id)
            revoked = self._revoke_keys(user_id)
            pictures = self._remove_requests_data(user_id)
            self._store.delete_webhook_secret(user_id)
            self._store.finish_deletion(user_id, self._clock.now())
            self._auth_users.delete_user(user_id)  # last: until then a fresh token can resume
        except AppError:
            raise
        except Exception as exc:  # Storage, Auth or Firestore failed: a repeat finishes
            log_exception("account deletion stopped", exc, userId=user_id)
            raise DeletionIncompleteError(error="deletion_incomplete") from None
        info(
            "account deleted",
            userId=user_id,
            cancelledRequests=cancelled,
            revokedKeys=revoked,
            deletedPictures=pictures,
        )
        return DeletionResult(user_id, cancelled, revoked, pictures)

    def _cancel_in_flight(self, user_id: str) -> int:
        """Cancel and refund through the guarded settle, as cancelGenerationRequest does; no
        webhook event is scheduled (the account's events are stopped below)."""
        cancelled = 0
        for request_id in self._store.in_flight_ids(user_id):
            try:
                settled = self._generations.settle(
                    request_id,
                    GenerationOutcome(cancelled=True),
                    self._clock.now(),
                    from_statuses=IN_FLIGHT,
                )
            except MalformedRecord as malformed:  # the sweeper quarantines it
                warn("account deletion: request not cancelled", reason=str(malformed))
                continue
            if settled is not None:
                self._queue.cancel(request_id)  # best effort: a late task finds it settled
                cancelled += 1
        return cancelled

    def _revoke_keys(self, user_id: str) -> int:
        revoked = 0
        for key in self._keys.list_for_owner(user_id, MAX_KEYS_WALKED):
            if key.active and self._keys.revoke(user_id, key.key_id, self._clock.now, RETENTION):
                revoked += 1
        return revoked

    def _remove_requests_data(self, user_id: str) -> int:
        """Per request: stop its pending webhook event, remove its picture, then its prompt
        and picture fields (the marker that says it is done, so a repeat skips it)."""
        images = self._images()
        removed = 0
        for stored in self._store.requests(user_id):
            if stored.scrubbed:
                continue
            if stored.webhook_pending:
                self._deliveries.record_attempt(
                    stored.id,
                    self._clock.now(),
                    state="failed",
                    status_code=None,
                    error=ACCOUNT_DELETED,
                )
            paths = {picture_path(user_id, stored.id)}
            if stored.image_path:
                paths.add(stored.image_path)
            removed += sum(images.remove(path) for path in sorted(paths))
            self._store.scrub_request(stored.id, self._clock.now())
        return removed

    def export(self, user_id: str) -> AccountExport:
        """Everything stored for the account; 404 `account_not_found` without one (or once it
        is being deleted)."""
        user = self._store.profile(user_id)
        if user is None or user.closed:
            raise account_missing(user_id)
        return AccountExport(
            user,
            list(self._store.requests(user_id)),
            list(self._store.ledger(user_id)),
            self._clock.now(),
        )


def _instant(value: object) -> datetime | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError):
        return None
