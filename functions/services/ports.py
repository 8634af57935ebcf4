"""What the services need from the outside: adapters live in core/ and repositories/ (wired by
container.py), fakes in tests/support/fakes.py. Services never import repositories/."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from core.payments import CheckoutSession
    from core.webhook_http import WebhookResponse
    from schemas.documents import (
        ApiKeyRecord,
        Catalog,
        CreditPackRecord,
        GenerationOutcome,
        GenerationRecord,
        GenerationStatus,
        GrantRecord,
        RequestRecord,
        TransactionRecord,
        UserRecord,
        WebhookDelivery,
        WebhookState,
    )
    from schemas.report import StoredDay, WeeklyReport
    from schemas.store import (
        ApiKeyLimits,
        Booked,
        GrantBooking,
        IdempotencyClaim,
        OpenedAccount,
        Replay,
        SeededUser,
        SlotLease,
        StaleDelivery,
        StoredImage,
        StoredRequest,
        StuckCandidate,
    )


class GenerationQueue(Protocol):
    def enqueue(self, generation_request_id: str) -> None:
        """Schedule the worker for this request. Raises on failure; duplicates are harmless."""

    def cancel(self, generation_request_id: str) -> None:
        """Unschedule it if it has not started; best effort, never raises."""


class WebhookQueue(Protocol):
    def enqueue(self, generation_request_id: str) -> None:
        """Schedule the delivery of this request's webhook event. Raises on failure; a
        duplicate is harmless (one task per request)."""


class WebhookSender(Protocol):
    def post(self, url: str, body: bytes, headers: dict[str, str]) -> WebhookResponse:
        """POST one attempt; the receiver's status code, or why there was none (a host that
        resolves to a refused address included). Raises WebhookUrlRefused when the URL itself
        is not allowed."""


class TaskInspector(Protocol):
    def task_exists(self, generation_request_id: str) -> bool | None:
        """Whether the request's worker task is still in the queue (pending or being retried);
        None when that cannot be told (the queue did not answer)."""


class ImageStore(Protocol):
    def save(self, path: str, png: bytes, token: str) -> str:
        """Store `png` at `path` (overwriting the same bytes is harmless); its download URL,
        which carries `token`. Raises on failure."""

    def delete(self, path: str) -> None:
        """Remove the object at `path` if it exists; best effort, never raises."""

    def remove(self, path: str) -> bool:
        """Remove the object at `path`: True when it existed, False when there was none.
        Raises when the store could not be asked (deleteAccount must not skip a picture)."""


class UserStore(Protocol):
    """Users and their ledger, read as they are (no rule sits between them and the caller)."""

    def get(self, user_id: str) -> UserRecord | None: ...

    def list_all(self) -> list[UserRecord]: ...

    def transactions_page(
        self, user_id: str, limit: int, cursor: str | None
    ) -> tuple[list[TransactionRecord], str | None]:
        """Newest first; the cursor is the id of the last transaction of the previous page."""


class ReportStore(Protocol):
    """Streams of report inputs (half-open `[start, end)` ranges) and the stored reports."""

    def requests_created(self, start: datetime, end: datetime) -> Iterable[RequestRecord]: ...

    def transactions_booked(
        self, start: datetime, end: datetime
    ) -> Iterable[TransactionRecord]: ...

    def users_created(self, start: datetime, end: datetime) -> Iterable[UserRecord]: ...

    def rollups(self, days: Sequence[date], with_users: Collection[date]) -> dict[date, StoredDay]:
        """The stored rollups of `days` (a missing day is absent), with their per-user entries
        for the days in `with_users`."""

    def save_rollup(self, header: dict[str, Any], users: list[dict[str, Any]]) -> None:
        """Replace the rollup of `header["date"]` whole (header and user shards)."""

    def save(self, report: WeeklyReport) -> None: ...

    def get(self, report_id: str) -> dict[str, Any] | None: ...

    def latest(self) -> dict[str, Any] | None: ...

    def list_summaries(self, limit: int) -> list[dict[str, Any]]: ...


class IdempotencyAnswers(Protocol):
    def done(self, claim: IdempotencyClaim) -> None:
        """The task is enqueued: the accepted answer stands for the key."""

    def failed(self, claim: IdempotencyClaim, status_code: int, response: dict[str, Any]) -> None:
        """Enqueueing failed and the charge was refunded: this answer is the key's for good."""


class GenerationReader(Protocol):
    def get(self, request_id: str) -> GenerationRecord | None: ...


class GenerationStore(GenerationReader, Protocol):
    """Requests and every money-moving write: each write is one transaction."""

    @property
    def idempotency(self) -> IdempotencyAnswers: ...

    def user_exists(self, user_id: str) -> bool: ...

    def list_for_user(self, user_id: str, limit: int) -> list[GenerationRecord]: ...

    def queued_ahead(self, request_id: str, created_at: datetime, limit: int) -> int:
        """How many queued requests (every user's) were created before this one (ties: by id),
        counting at most `limit`."""

    def charge_and_create(
        self,
        queued: GenerationRecord,
        clock: Callable[[], datetime],
        claim: IdempotencyClaim | None = None,
        *,
        max_in_flight: int,
        max_pending_webhooks: int,
        cancel_after: timedelta | None = None,
    ) -> GenerationRecord | Replay:
        """Charge and store `queued` (stamped with `clock()`, its deadline `cancel_after` from
        then), or replay the claim's answer."""

    def start_processing(
        self, request_id: str, now: datetime, image_token: str
    ) -> GenerationRecord | None:
        """queued|processing -> processing (keeps an earlier token); None when terminal. Raises
        MalformedRecord."""

    def settle(
        self,
        request_id: str,
        outcome: GenerationOutcome,
        now: datetime,
        *,
        from_statuses: Collection[GenerationStatus],
        updated_before: datetime | None = None,
    ) -> GenerationRecord | None:
        """Complete, or fail/cancel and refund, once; None (nothing written) unless in
        `from_statuses` and untouched since `updated_before`. Raises MalformedRecord."""

    def find_stuck(
        self, statuses: Collection[str], updated_before: datetime
    ) -> list[StuckCandidate]: ...

    def mark_deleted(self, request_id: str, now: datetime) -> GenerationRecord | None:
        """Terminal and not yet deleted: remove its prompt and picture fields, mark it deleted.
        The request as it was before (None when missing); in flight: unchanged."""

    def find_past_deadline(self, statuses: Collection[str], now: datetime) -> list[str]:
        """Ids of requests in `statuses` whose deadline (`cancel_at`) is not after `now`."""

    def quarantine(self, request_id: str, reason: str, now: datetime) -> bool:
        """Set a request that cannot be settled aside; False when it was not in flight."""


class CatalogStore(Protocol):
    def active_catalog(self) -> Catalog: ...


class AccountReader(Protocol):
    def get(self, user_id: str) -> UserRecord | None: ...


class AccountStore(Protocol):
    def open(self, new_user: UserRecord, welcome: TransactionRecord | None) -> OpenedAccount:
        """Create `new_user` unless it exists; book `welcome` once if the stored user is
        `welcome_due` (clearing it). One transaction."""
        ...


class CreditLedger(Protocol):
    def book(self, entry: TransactionRecord) -> Booked:
        """Books `entry` once by its id (a repeat returns the stored one, created False); a
        debit stops at a zero balance and records the rest as `shortfall`."""
        ...


class PurchaseLedger(CreditLedger, Protocol):
    """The ledger as Stripe purchases and refunds use it (repositories/credits.py)."""

    def find_purchase(self, payment_intent: str) -> TransactionRecord | None: ...

    def take_back(
        self, bought: TransactionRecord, plan: Callable[[int, int], TransactionRecord | None]
    ) -> Booked | None:
        """In one transaction: `plan(credits taken back from bought so far, money refunded so
        far)` -> the entry to book (as `book` does), or None to book nothing."""
        ...


class CreditPackReader(Protocol):
    def credit_pack(self, pack_id: str) -> CreditPackRecord | None:
        """The pack as stored now, active or not."""
        ...


class CheckoutGateway(Protocol):
    def create_session(self, params: dict[str, Any]) -> CheckoutSession:
        """A Stripe Checkout Session from Stripe's create parameters. Raises a 503 AppError
        when Stripe refuses or cannot be reached."""
        ...


class GrantLedger(Protocol):
    def book_grant(self, grant: GrantRecord) -> GrantBooking:
        """Claims the grantId and books its entry and balance in one atomic commit; a grantId
        used before books nothing and returns the stored grant (created False). NotFoundError
        `account_not_found` for a user without an account."""
        ...


class ApiKeyStore(Protocol):
    def create(self, record: ApiKeyRecord, limits: ApiKeyLimits) -> ApiKeyRecord:
        """The record as stored; TooManyApiKeysError at `max_active` unexpired active keys,
        TooManyApiKeysCreatedError at `max_created` keys created in the window."""

    def list_for_owner(self, user_id: str, limit: int) -> list[ApiKeyRecord]: ...

    def revoke(
        self, user_id: str, key_id: str, clock: Callable[[], datetime], retention: timedelta
    ) -> ApiKeyRecord | None:
        """Revoke the owner's key (idempotent), to be deleted `retention` later; None when the
        owner has no such key."""

    def resolve(
        self, key_hash: str, now: datetime, touch_interval: timedelta
    ) -> ApiKeyRecord | None:
        """The unrevoked key with this hash, or None; records the use of an unexpired one."""


class SlotStore(Protocol):
    """Leases on each owner's numbered concurrency slots of one kind (waits, streams), shared by
    every process and instance."""

    def take(self, owner: str, limit: int, now: datetime, expires_at: datetime) -> SlotLease | None:
        """A lease on one of `owner`'s slots 0..limit-1 that is free or whose lease expired
        before `now`, valid until `expires_at`; None when all are held. Raises when the store
        cannot be asked in time."""

    def release(self, lease: SlotLease) -> None:
        """Free the slot, unless another holder took the lease over since."""


class WebhookSecretStore(Protocol):
    def get(self, user_id: str) -> str | None: ...

    def create(self, user_id: str, secret: str, now: datetime) -> str:
        """Store `secret` unless the user has one already; the secret that is stored."""

    def replace(self, user_id: str, secret: str, now: datetime) -> None: ...


class WebhookDeliveryStore(Protocol):
    def record_attempt(
        self,
        request_id: str,
        now: datetime,
        *,
        state: WebhookState,
        status_code: int | None,
        error: str | None,
    ) -> WebhookDelivery | None:
        """Count one attempt and move to `state`; None when no longer `pending`. Ending the
        delivery gives its owner's webhook slot back."""

    def find_stale(self, updated_before: datetime) -> list[StaleDelivery]: ...


class SeedStore(Protocol):
    """Writes only documents the seeder owns (marked `seeded`)."""

    def replace_owned(self, collection: str, documents: dict[str, dict[str, Any]]) -> int: ...

    def replace_user(
        self,
        user_id: str,
        user: dict[str, Any],
        requests: dict[str, dict[str, Any]],
        transactions: dict[str, dict[str, Any]],
    ) -> SeededUser | None:
        """Reseed one user, or None when a user with that id is not the seeder's."""

    def forget_rollups(self) -> int: ...

    def seeded_at(self) -> datetime | None:
        """When the seed state was written (its reference entries' `created_at`), or None."""

    def completed_without_image(self) -> list[GenerationRecord]:
        """The seeded completed requests that have no stored image."""

    def attach_images(self, images: Mapping[str, StoredImage]) -> int:
        """Record each request's stored image (by request id); how many were recorded."""


# --- deleteAccount and exportAccountData -------------------------------------------------------
class AccountDataStore(Protocol):
    """Everything stored for one uid (repositories/account_data.py); every write idempotent."""

    def profile(self, user_id: str) -> UserRecord | None:
        """users/{uid} as stored, deleted or not."""

    def begin_deletion(self, user_id: str, now: datetime) -> UserRecord | None:
        """Mark the account `deleting_at` (no new charge from then on); None when missing."""

    def in_flight_ids(self, user_id: str) -> list[str]: ...

    def requests(self, user_id: str) -> Iterable[StoredRequest]:
        """Every request of the user (read in pages)."""

    def scrub_request(self, request_id: str, now: datetime) -> None:
        """Empty the prompt and null the picture and webhook URL fields."""

    def ledger(self, user_id: str) -> Iterable[TransactionRecord]:
        """The whole ledger, oldest first (read in pages)."""

    def delete_webhook_secret(self, user_id: str) -> None: ...

    def finish_deletion(self, user_id: str, now: datetime) -> None:
        """Empty name and e-mail, `is_active: false`, `deleted_at` (the first run's)."""


class AuthUsers(Protocol):
    def delete_user(self, user_id: str) -> None:
        """Delete the Firebase Auth user; one that does not exist is fine."""
