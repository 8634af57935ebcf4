"""In-memory stand-ins for the clock and the ports of services/ports.py, shared by the unit tests.

Each keeps the rule of the adapter it replaces that the services rely on (a settle applies once,
a delivery is recorded only while pending...) and logs what it was asked. The typed assignments
at the end make mypy check every fake against its protocol, so they cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import ModuleType
from typing import Any

import pytest

from core.clock import Clock
from core.errors import (
    InsufficientCreditsError,
    NotFoundError,
    TooManyApiKeysCreatedError,
    TooManyApiKeysError,
    TooManyInFlightError,
    TooManyPendingWebhooksError,
)
from core.image_storage import download_url
from core.webhook_http import WebhookResponse
from core.webhook_signing import event_id
from schemas import ledger
from schemas.documents import (
    IN_FLIGHT,
    ApiKeyRecord,
    Catalog,
    CreditPackRecord,
    GenerationOutcome,
    GenerationRecord,
    GenerationStatus,
    GrantRecord,
    TransactionRecord,
    UserRecord,
    WebhookDelivery,
    WebhookState,
)
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
from services.ports import (
    AccountReader,
    AccountStore,
    ApiKeyStore,
    CatalogStore,
    CreditPackReader,
    GenerationQueue,
    GenerationStore,
    GrantLedger,
    ImageStore,
    PurchaseLedger,
    ReportStore,
    SeedStore,
    SlotStore,
    TaskInspector,
    WebhookDeliveryStore,
    WebhookQueue,
    WebhookSecretStore,
    WebhookSender,
)
from tests.support.memory_reports import MemoryReportStore
from tests.support.records import status_record

type Logged = tuple[str, str, dict[str, Any]]  # (level, message, fields)


def record_logs(monkeypatch: pytest.MonkeyPatch, module: ModuleType) -> list[Logged]:
    """Replace the `info`, `warn` and `error` that `module` imported (those it did) by
    recorders; what they logged."""
    logged: list[Logged] = []
    for level in ("info", "warn", "error"):
        if not hasattr(module, level):
            continue

        def log(message: str, _level: str = level, **fields: Any) -> None:
            logged.append((_level, message, fields))

        monkeypatch.setattr(module, level, log)
    return logged


class ManualClock:
    """Stands still until a test sets `current` or calls `advance`."""

    def __init__(self, now: datetime) -> None:
        self.current = now

    def now(self) -> datetime:
        return self.current

    def advance(self, delta: timedelta) -> None:
        self.current += delta


class FakeTime:
    """monotonic() and sleep() on a clock that only sleep() moves (polls and streams)."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds > 0
        self.sleeps.append(seconds)
        self.now += seconds


# --- queues ------------------------------------------------------------------------------------
class FakeQueue:
    """A task queue (generation or webhook): `enqueued` and `cancelled` ids, in order. Every
    enqueue raises `error` when one is given, and ids in `failing` raise; `on_enqueue` runs
    first (e.g. a worker taking the task before the queue's answer is lost)."""

    def __init__(
        self,
        error: Exception | None = None,
        *,
        failing: Collection[str] = (),
        on_enqueue: Callable[[str], Any] | None = None,
    ) -> None:
        self.error = error
        self.failing = failing
        self.on_enqueue = on_enqueue
        self.enqueued: list[str] = []
        self.cancelled: list[str] = []

    def enqueue(self, generation_request_id: str) -> None:
        if self.on_enqueue is not None:
            self.on_enqueue(generation_request_id)
        if self.error is not None:
            raise self.error
        if generation_request_id in self.failing:
            raise RuntimeError("Cloud Tasks unavailable")
        self.enqueued.append(generation_request_id)

    def cancel(self, generation_request_id: str) -> None:
        self.cancelled.append(generation_request_id)


class FakeTasks:
    """Whether each request's task still exists (None: the queue cannot tell)."""

    def __init__(self, answers: dict[str, bool | None]) -> None:
        self.answers = answers

    def task_exists(self, generation_request_id: str) -> bool | None:
        return self.answers[generation_request_id]


# --- generation requests -----------------------------------------------------------------------
class FakeIdempotency:
    """The answers stored per key (`answers`, by claim doc id) and what the service reported."""

    def __init__(self) -> None:
        self.answers: dict[str, Replay] = {}
        self.done_claims: list[IdempotencyClaim] = []
        self.failures: list[tuple[IdempotencyClaim, int, dict[str, Any]]] = []

    def done(self, claim: IdempotencyClaim) -> None:
        self.done_claims.append(claim)

    def failed(self, claim: IdempotencyClaim, status_code: int, response: dict[str, Any]) -> None:
        self.failures.append((claim, status_code, response))
        self.answers[claim.doc_id] = Replay(status_code, response)


@dataclass(frozen=True)
class Charge:
    queued: GenerationRecord
    clock: Callable[[], datetime]
    claim: IdempotencyClaim | None
    max_in_flight: int
    max_pending_webhooks: int
    cancel_after: timedelta | None = None


@dataclass(frozen=True)
class Settle:
    request_id: str
    outcome: GenerationOutcome
    from_statuses: Collection[GenerationStatus]
    updated_before: datetime | None


class FakeGenerations:
    """Requests by id and their owners' balances (`users`), with the repository's guards: a
    charge checks the owner, balance and the in-flight and pending-webhook caps; a settle
    applies once, from `from_statuses`, refunds a failure or cancel and marks a webhook event
    due. `settle_errors` makes settle raise for an id; `events` logs "settle" (shared with
    FakeImages for order)."""

    def __init__(
        self,
        *records: GenerationRecord,
        users: dict[str, int] | None = None,
        events: list[str] | None = None,
    ) -> None:
        self.records = {record.id: record for record in records}
        self.users = dict(users or {})
        self.events = events if events is not None else []
        self.idempotency = FakeIdempotency()
        self.charges: list[Charge] = []
        self.user_lookups: list[str] = []
        self.settles: list[Settle] = []  # every call
        self.settled: list[tuple[str, GenerationOutcome]] = []  # the ones that applied
        self.settle_errors: dict[str, Exception] = {}
        self.quarantined: list[str] = []
        self.queue_counts: list[tuple[str, int]] = []  # queued_ahead calls: (id, limit)
        self.queue_count_error: Exception | None = None  # makes queued_ahead raise

    def put(self, record: GenerationRecord) -> None:
        """Store `record` as it is (what another writer would leave)."""
        self.records[record.id] = record

    def get(self, request_id: str) -> GenerationRecord | None:
        return self.records.get(request_id)

    def user_exists(self, user_id: str) -> bool:
        self.user_lookups.append(user_id)
        return user_id in self.users

    def list_for_user(self, user_id: str, limit: int) -> list[GenerationRecord]:
        mine = [r for r in self.records.values() if r.user_id == user_id]
        return sorted(mine, key=lambda r: r.created_at, reverse=True)[:limit]

    def queued_ahead(self, request_id: str, created_at: datetime, limit: int) -> int:
        self.queue_counts.append((request_id, limit))
        if self.queue_count_error is not None:
            raise self.queue_count_error
        key = (created_at, request_id)
        queued = [r for r in self.records.values() if r.status is GenerationStatus.QUEUED]
        return min(sum((r.created_at, r.id) < key for r in queued), limit)

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
        self.charges.append(
            Charge(queued, clock, claim, max_in_flight, max_pending_webhooks, cancel_after)
        )
        if claim is not None and claim.doc_id in self.idempotency.answers:
            return self.idempotency.answers[claim.doc_id]
        owner, cost = queued.user_id, queued.credits_deducted
        if owner not in self.users:
            raise NotFoundError(f"User not found: {owner}", error="user_not_found")
        if self.users[owner] < cost:
            raise InsufficientCreditsError("Insufficient credits", error="insufficient_credits")
        mine = [r for r in self.records.values() if r.user_id == owner]
        if sum(r.status in IN_FLIGHT for r in mine) >= max_in_flight:
            raise TooManyInFlightError("Too many in flight", error="too_many_in_flight")
        if queued.webhook_url is not None and (
            sum(self.webhook_pending(r) for r in mine) >= max_pending_webhooks
        ):
            raise TooManyPendingWebhooksError(error="too_many_pending_webhooks")
        now = clock()
        record = queued.model_copy(update={"created_at": now, "updated_at": now})
        if cancel_after is not None:
            record = record.model_copy(update={"cancel_at": now + cancel_after})
        self.users[owner] -= cost
        self.records[record.id] = record
        if claim is not None:
            self.idempotency.answers[claim.doc_id] = Replay(202, claim.accepted)
        return record

    def webhook_pending(self, record: GenerationRecord) -> bool:
        """Holds a slot of its owner's undelivered webhook events."""
        if record.webhook_url is None or record.id in self.quarantined:
            return False
        return record.webhook is None or record.webhook.state == "pending"

    def start_processing(
        self, request_id: str, now: datetime, image_token: str
    ) -> GenerationRecord | None:
        record = self.records.get(request_id)
        if record is None or record.status not in IN_FLIGHT:
            return None
        started = record.model_copy(
            update={
                "status": GenerationStatus.PROCESSING,
                "attempts": record.attempts + 1,
                "updated_at": now,
                "image_token": record.image_token or image_token,
            }
        )
        self.records[request_id] = started
        return started

    def settle(
        self,
        request_id: str,
        outcome: GenerationOutcome,
        now: datetime,
        *,
        from_statuses: Collection[GenerationStatus],
        updated_before: datetime | None = None,
    ) -> GenerationRecord | None:
        self.events.append("settle")
        self.settles.append(Settle(request_id, outcome, from_statuses, updated_before))
        if request_id in self.settle_errors:
            raise self.settle_errors[request_id]
        record = self.records.get(request_id)
        if record is None or record.status not in from_statuses:
            return None
        if updated_before is not None and record.updated_at >= updated_before:
            return None
        changes: dict[str, Any] = {
            "status": outcome.status,
            "image_url": outcome.image_url,
            "image_path": outcome.image_path,
            "error_message": outcome.error_message,
            "updated_at": now,
            "completed_at": now,
        }
        if outcome.cancelled:
            changes["cancel_reason"] = outcome.cancel_reason or "user"
        if record.webhook_url is not None:
            changes["webhook"] = WebhookDelivery(
                state="pending", event_id=event_id(record.id), updated_at=now
            )
        if not outcome.succeeded and record.user_id in self.users:
            self.users[record.user_id] += record.credits_deducted
        self.records[request_id] = settled = record.model_copy(update=changes)
        self.settled.append((request_id, outcome))
        return settled

    def find_stuck(
        self, statuses: Collection[str], updated_before: datetime
    ) -> list[StuckCandidate]:
        return [
            StuckCandidate(r.id, r.status.value, r.updated_at)
            for r in self.records.values()
            if r.status in statuses
            and r.updated_at < updated_before
            and r.id not in self.quarantined
        ]

    def mark_deleted(self, request_id: str, now: datetime) -> GenerationRecord | None:
        self.events.append("mark_deleted")
        record = self.records.get(request_id)
        if record is None or not record.status.is_terminal or record.deleted:
            return record
        self.records[request_id] = record.model_copy(
            update={
                "deleted": True,
                "deleted_at": now,
                "updated_at": now,
                "prompt": "",
                "image_url": None,
                "image_path": None,
                "image_token": None,
            }
        )
        return record

    def find_past_deadline(self, statuses: Collection[str], now: datetime) -> list[str]:
        return [
            r.id
            for r in self.records.values()
            if r.status in statuses and r.cancel_at is not None and r.cancel_at <= now
        ]

    def quarantine(self, request_id: str, reason: str, now: datetime) -> bool:
        record = self.records.get(request_id)
        if record is None or record.status not in IN_FLIGHT or request_id in self.quarantined:
            return False
        self.quarantined.append(request_id)
        return True


# --- webhooks ----------------------------------------------------------------------------------
class ScriptedRequests(FakeGenerations):
    """A request document whose status changes at given (fake) times; None: it is gone. Each
    status is stored as updated `at` seconds after `created_at`."""

    def __init__(
        self,
        clock: FakeTime,
        changes: dict[float, GenerationStatus | None],
        created_at: datetime,
    ) -> None:
        super().__init__()
        self._clock = clock
        self._changes = sorted(changes.items())
        self._created_at = created_at
        self.reads: list[float] = []

    def get(self, request_id: str) -> GenerationRecord | None:
        self.reads.append(self._clock.now)
        at, status = [(at, s) for at, s in self._changes if at <= self._clock.now][-1]
        if status is None:
            return None
        updated_at = self._created_at + timedelta(seconds=at)
        return status_record(status, self._created_at, request_id, updated_at=updated_at)


class FakeDeliveries:
    """The webhook delivery state of the requests held by a FakeGenerations."""

    def __init__(self, generations: FakeGenerations) -> None:
        self._records = generations.records
        self.asked: list[datetime] = []  # the cutoffs find_stale was given

    def record_attempt(
        self,
        request_id: str,
        now: datetime,
        *,
        state: WebhookState,
        status_code: int | None,
        error: str | None,
    ) -> WebhookDelivery | None:
        record = self._records.get(request_id)
        current = record.webhook if record is not None else None
        if record is None or current is None or current.state != "pending":
            return None
        updated = current.model_copy(
            update={
                "state": state,
                "attempts": current.attempts + 1,
                "last_status_code": status_code,
                "last_error": error,
                "updated_at": now,
            }
        )
        self._records[request_id] = record.model_copy(update={"webhook": updated})
        return updated

    def find_stale(self, updated_before: datetime) -> list[StaleDelivery]:
        self.asked.append(updated_before)
        return [
            StaleDelivery(r.id, r.webhook.attempts, r.webhook.updated_at)
            for r in self._records.values()
            if r.webhook is not None
            and r.webhook.state == "pending"
            and r.webhook.updated_at < updated_before
        ]


class FakeSecrets:
    """Signing secrets by user id; the first one stored for a user wins, as with create()."""

    def __init__(self) -> None:
        self.by_user: dict[str, str] = {}

    def get(self, user_id: str) -> str | None:
        return self.by_user.get(user_id)

    def create(self, user_id: str, secret: str, now: datetime) -> str:
        return self.by_user.setdefault(user_id, secret)

    def replace(self, user_id: str, secret: str, now: datetime) -> None:
        self.by_user[user_id] = secret


class FakeSender:
    """Answers each POST with the next of `answers` (an exception is raised); `sent` logs them."""

    def __init__(self, *answers: WebhookResponse | Exception) -> None:
        self.answers = list(answers)
        self.sent: list[tuple[str, bytes, dict[str, str]]] = []

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> WebhookResponse:
        self.sent.append((url, body, headers))
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


# --- images, catalog, API keys, seeding ----------------------------------------------------------
class FakeImages:
    """Saved (path, png, token) and deleted paths; `fail` makes every save raise. `events` logs
    "save" and "delete" (shared with FakeGenerations for order)."""

    def __init__(self, fail: bool = False, events: list[str] | None = None) -> None:
        self.fail = fail
        self.events = events if events is not None else []
        self.saved: list[tuple[str, bytes, str]] = []
        self.deleted: list[str] = []

    def save(self, path: str, png: bytes, token: str) -> str:
        self.events.append("save")
        if self.fail:
            raise ConnectionError("storage unreachable")
        self.saved.append((path, png, token))
        return download_url("https://storage.test/v0", "bucket", path, token)

    def delete(self, path: str) -> None:
        self.events.append("delete")
        self.deleted.append(path)

    def remove(self, path: str) -> bool:
        """True when `path` was saved and not removed yet."""
        self.events.append("remove")
        if self.fail:
            raise ConnectionError("storage unreachable")
        stored = any(saved[0] == path for saved in self.saved) and path not in self.deleted
        self.deleted.append(path)
        return stored


class FakeCatalog:
    """The stored catalog (`catalog`, replaceable) and how many times it was read."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.reads = 0
        self.retired_packs: list[CreditPackRecord] = []

    def active_catalog(self) -> Catalog:
        self.reads += 1
        return self.catalog

    def credit_pack(self, pack_id: str) -> CreditPackRecord | None:
        """Active packs and those in `retired_packs` (no longer on sale)."""
        packs = [*self.catalog.credit_packs, *self.retired_packs]
        return next((p for p in packs if p.id == pack_id), None)


class FakeApiKeys:
    """What repositories/api_keys.py does, in memory (the race-free limits are emulator tests);
    `calls` logs the method names."""

    def __init__(self) -> None:
        self.records: dict[str, ApiKeyRecord] = {}
        self.calls: list[str] = []

    def create(self, record: ApiKeyRecord, limits: ApiKeyLimits) -> ApiKeyRecord:
        self.calls.append("create")
        now = record.created_at
        mine = [r for r in self.records.values() if r.user_id == record.user_id]
        if len([r for r in mine if r.active and not r.expired(now)]) >= limits.max_active:
            raise TooManyApiKeysError(error="too_many_api_keys")
        recent = [r.created_at for r in mine if r.created_at > now - limits.window]
        if len(recent) >= limits.max_created:
            wait = int((min(recent) + limits.window - now).total_seconds())
            raise TooManyApiKeysCreatedError("too many", retry_after=wait, extra={})
        self.records[record.id] = record
        return record

    def list_for_owner(self, user_id: str, limit: int) -> list[ApiKeyRecord]:
        self.calls.append("list")
        return [r for r in self.records.values() if r.user_id == user_id][:limit]

    def revoke(
        self, user_id: str, key_id: str, clock: Callable[[], datetime], retention: timedelta
    ) -> ApiKeyRecord | None:
        self.calls.append("revoke")
        for record in self.records.values():
            if record.user_id == user_id and record.key_id == key_id:
                if record.active:
                    now = clock()
                    delete_at = min(d for d in (now + retention, record.delete_at) if d)
                    record = record.model_copy(update={"revoked_at": now, "delete_at": delete_at})
                    self.records[record.id] = record
                return record
        return None

    def resolve(
        self, key_hash: str, now: datetime, touch_interval: timedelta
    ) -> ApiKeyRecord | None:
        self.calls.append("resolve")
        record = self.records.get(key_hash)
        return record if record is not None and record.active else None


class FakeAccounts:
    """The `users/{uid}` documents that exist: one per uid in `uids`."""

    def __init__(self, uids: Iterable[str]) -> None:
        self.uids = set(uids)

    def get(self, user_id: str) -> UserRecord | None:
        return UserRecord(id=user_id) if user_id in self.uids else None


class FakeAccountStore:
    """What repositories/accounts.py does, in memory: users by uid and their welcome entries."""

    def __init__(self, users: Iterable[UserRecord] = ()) -> None:
        self.users = {u.id: u for u in users}
        self.entries: dict[str, TransactionRecord] = {}  # welcome entries by uid

    def open(self, new_user: UserRecord, welcome: TransactionRecord | None) -> OpenedAccount:
        created = new_user.id not in self.users
        user = self.users.setdefault(new_user.id, new_user)
        granted = welcome is not None and user.welcome_due and new_user.id not in self.entries
        if welcome is not None and granted:
            self.entries[new_user.id] = welcome
            user = user.model_copy(
                update={"current_credits": user.current_credits + welcome.credits}
                | {"welcome_due": False}
            )
            self.users[user.id] = user
        return OpenedAccount(user, created=created, welcome_granted=user.id in self.entries)


class FakeLedger:
    """What repositories/credits.py does, in memory: balances by uid and entries by id."""

    def __init__(self, balances: Mapping[str, int]) -> None:
        self.balances = dict(balances)
        self.entries: dict[str, TransactionRecord] = {}
        self.grants: dict[str, GrantRecord] = {}

    def book(self, entry: TransactionRecord) -> Booked:
        if entry.user_id not in self.balances:
            raise NotFoundError(f"No account for uid {entry.user_id}", error="account_not_found")
        balance = self.balances[entry.user_id]
        key = f"{entry.user_id}/{entry.id}"
        if key in self.entries:
            return Booked(self.entries[key], created=False, balance=balance)
        if entry.signed_credits < 0 and entry.credits > balance:
            entry = entry.model_copy(
                update={"credits": balance, "shortfall": entry.credits - balance}
            )
        self.balances[entry.user_id] = balance + entry.signed_credits
        self.entries[key] = entry
        return Booked(entry, created=True, balance=self.balances[entry.user_id])

    def find_purchase(self, payment_intent: str) -> TransactionRecord | None:
        return next(
            (
                e
                for e in self.entries.values()
                if e.type == "purchase" and e.payment_intent == payment_intent
            ),
            None,
        )

    def take_back(
        self, bought: TransactionRecord, plan: Callable[[int, int], TransactionRecord | None]
    ) -> Booked | None:
        if bought.user_id not in self.balances:
            raise NotFoundError(f"No account for uid {bought.user_id}", error="account_not_found")
        earlier = [
            e
            for e in self.entries.values()
            if e.user_id == bought.user_id
            and e.type == "purchase_refund"
            and e.session_id == bought.session_id
        ]
        entry = plan(
            sum(e.credits + (e.shortfall or 0) for e in earlier),
            sum(e.amount or 0 for e in earlier),
        )
        return None if entry is None else self.book(entry)

    def book_grant(self, grant: GrantRecord) -> GrantBooking:
        """A grantId is claimed once across all users, with its entry, as credits.py does."""
        stored = self.grants.get(grant.id)
        if stored is not None:
            return GrantBooking(stored, created=False, balance=self.balances[stored.user_id])
        booked = self.book(ledger.grant(grant))
        self.grants[grant.id] = grant
        return GrantBooking(grant, created=True, balance=booked.balance)


class FakeSlots:
    """What repositories/slots.py does, in memory (its races are emulator tests): one lease per
    (owner, slot), an expired one taken over, a release that frees only its own lease. Set
    `take_error` or `release_error` to make those raise; `calls` logs (method, owner)."""

    def __init__(self) -> None:
        self.leases: dict[tuple[str, int], SlotLease] = {}
        self.expiry: dict[tuple[str, int], datetime] = {}
        self.calls: list[tuple[str, str]] = []
        self.take_error: Exception | None = None
        self.release_error: Exception | None = None
        self._writes = 0

    def take(self, owner: str, limit: int, now: datetime, expires_at: datetime) -> SlotLease | None:
        self.calls.append(("take", owner))
        if self.take_error is not None:
            raise self.take_error
        for slot in range(limit):
            if (owner, slot) not in self.leases or self.expiry[owner, slot] <= now:
                self._writes += 1  # a version of its own, like a write's update time
                lease = SlotLease(owner, slot, now + timedelta(microseconds=self._writes))
                self.leases[owner, slot], self.expiry[owner, slot] = lease, expires_at
                return lease
        return None

    def release(self, lease: SlotLease) -> None:
        self.calls.append(("release", lease.owner))
        if self.release_error is not None:
            raise self.release_error
        if self.leases.get((lease.owner, lease.slot)) == lease:
            del self.leases[lease.owner, lease.slot]

    def held(self, owner: str) -> int:
        return sum(1 for who, _ in self.leases if who == owner)


class FakeSeedStore:
    """Owns every id except those in `foreign` (documents the seeder did not write); `calls`
    logs "replace_user" and "forget_rollups" in order."""

    def __init__(self, foreign: Iterable[str] = ()) -> None:
        self.foreign = set(foreign)
        self.users: dict[str, tuple[dict[str, Any], dict[str, Any], dict[str, Any]]] = {}
        self.reference: dict[str, dict[str, dict[str, Any]]] = {}
        self.calls: list[str] = []
        # What the first-run methods read: seeded requests by id and when the seed ran.
        self.requests: dict[str, GenerationRecord] = {}
        self.seeded_time: datetime | None = None

    def replace_owned(self, collection: str, documents: dict[str, dict[str, Any]]) -> int:
        self.reference[collection] = documents
        return len([d for d in documents if d not in self.foreign])

    def replace_user(
        self,
        user_id: str,
        user: dict[str, Any],
        requests: dict[str, dict[str, Any]],
        transactions: dict[str, dict[str, Any]],
    ) -> SeededUser | None:
        if user_id in self.foreign:
            return None
        self.users[user_id] = (user, requests, transactions)
        self.calls.append("replace_user")
        return SeededUser(len(requests), len(transactions), 0)

    def forget_rollups(self) -> int:
        self.calls.append("forget_rollups")
        return 0

    def seeded_at(self) -> datetime | None:
        return self.seeded_time

    def completed_without_image(self) -> list[GenerationRecord]:
        return [
            r
            for r in self.requests.values()
            if r.status is GenerationStatus.COMPLETED and r.image_url is None
        ]

    def attach_images(self, images: Mapping[str, StoredImage]) -> int:
        self.calls.append("attach_images")
        for request_id, image in images.items():
            stored = {"image_url": image.url, "image_path": image.path, "image_token": image.token}
            self.requests[request_id] = self.requests[request_id].model_copy(update=stored)
        return len(images)


# mypy checks each fake against the protocol it stands in for.
_clock: Clock = ManualClock(datetime.min)
_generation_queue: GenerationQueue = FakeQueue()
_webhook_queue: WebhookQueue = FakeQueue()
_tasks: TaskInspector = FakeTasks({})
_generations: GenerationStore = FakeGenerations()
_deliveries: WebhookDeliveryStore = FakeDeliveries(FakeGenerations())
_secrets: WebhookSecretStore = FakeSecrets()
_sender: WebhookSender = FakeSender()
_images: ImageStore = FakeImages()
_catalog: CatalogStore = FakeCatalog(Catalog(styles=[], colors=[], sizes=[]))
_api_keys: ApiKeyStore = FakeApiKeys()
_accounts: AccountReader = FakeAccounts(())
_ledger: PurchaseLedger = FakeLedger({})
_packs: CreditPackReader = FakeCatalog(Catalog(styles=[], colors=[], sizes=[]))
_account_store: AccountStore = FakeAccountStore()
_grants: GrantLedger = FakeLedger({})
_seed: SeedStore = FakeSeedStore()
_slots: SlotStore = FakeSlots()
_reports: ReportStore = MemoryReportStore()


# --- deleteAccount and exportAccountData -------------------------------------------------------
class FakeAccountData:
    """What repositories/account_data.py does, over a FakeGenerations' records and UserRecords;
    `secrets` holds the webhook secrets; `calls` logs the steps in order."""

    def __init__(self, generations: FakeGenerations, *users: UserRecord) -> None:
        self.generations = generations
        self.users = {user.id: user for user in users}
        self.secrets: set[str] = set()
        self.ledgers: dict[str, list[TransactionRecord]] = {}
        self.scrubbed: set[str] = set()
        self.calls: list[str] = []

    def profile(self, user_id: str) -> UserRecord | None:
        return self.users.get(user_id)

    def begin_deletion(self, user_id: str, now: datetime) -> UserRecord | None:
        self.calls.append("begin")
        user = self.users.get(user_id)
        if user is not None and user.deleting_at is None:
            user = self.users[user_id] = user.model_copy(update={"deleting_at": now})
        return user

    def in_flight_ids(self, user_id: str) -> list[str]:
        records = self.generations.records.values()
        return [r.id for r in records if r.user_id == user_id and r.status in IN_FLIGHT]

    def requests(self, user_id: str) -> Iterable[StoredRequest]:
        for record in list(self.generations.records.values()):
            if record.user_id == user_id:
                pending = record.webhook is not None and record.webhook.state == "pending"
                yield StoredRequest(
                    record.id, record, record.image_path, pending, record.id in self.scrubbed
                )

    def scrub_request(self, request_id: str, now: datetime) -> None:
        self.calls.append(f"scrub {request_id}")
        record = self.generations.records[request_id]
        self.generations.records[request_id] = record.model_copy(
            update={"prompt": "", "image_url": None, "image_path": None, "webhook_url": None}
        )
        self.scrubbed.add(request_id)

    def ledger(self, user_id: str) -> Iterable[TransactionRecord]:
        return list(self.ledgers.get(user_id, []))

    def delete_webhook_secret(self, user_id: str) -> None:
        self.calls.append("secret")
        self.secrets.discard(user_id)

    def finish_deletion(self, user_id: str, now: datetime) -> None:
        self.calls.append("finish")
        user = self.users[user_id]
        self.users[user_id] = user.model_copy(
            update={
                "name": "",
                "email": "",
                "is_active": False,
                "deleted_at": user.deleted_at or now,
            }
        )


class FakeAuthUsers:
    """Firebase Auth users by uid; `fail` makes delete_user raise (a run stopped before it)."""

    def __init__(self, *uids: str) -> None:
        self.uids = set(uids)
        self.fail = False

    def delete_user(self, user_id: str) -> None:
        if self.fail:
            raise ConnectionError("auth backend unreachable")
        self.uids.discard(user_id)
