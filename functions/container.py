"""Composition root: builds every dependency once per process, on first use (never at import).
Each property imports what it builds, so a function's cold start loads only its own graph.
Tests build their own `Container` with fakes or emulator clients."""

from __future__ import annotations

import contextlib
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cache, cached_property
from typing import TYPE_CHECKING, Any

import firebase_admin
from firebase_admin import auth

from core.clock import Clock, SystemClock
from core.errors import ConfigurationError
from core.firestore_client import build_firestore_client, project_id
from core.settings import Settings, load_settings
from repositories.firestore_helpers import TransactionRunner
from schemas.responses import QUEUE_POSITION_CAP

if TYPE_CHECKING:
    from google.cloud import firestore

    from controllers.account_controller import AccountController
    from controllers.account_data_controller import AccountDataController
    from controllers.admin_controller import AdminController
    from controllers.api_key_controller import ApiKeyController
    from controllers.auth import AdminGuard, UserAuthorizer
    from controllers.catalog_controller import CatalogController
    from controllers.event_stream import StreamTimings
    from controllers.generation_controller import GenerationController
    from controllers.grant_controller import GrantController
    from controllers.payments_controller import PaymentsController
    from controllers.report_controller import ReportController
    from controllers.webhook_controller import WebhookController
    from controllers.worker_controller import WorkerController
    from core.webhook_urls import UrlPolicy
    from repositories.api_keys import ApiKeyRepository
    from repositories.credits import CreditRepository
    from repositories.generations import GenerationRepository
    from repositories.users import UserRepository
    from repositories.webhooks import WebhookDeliveryRepository
    from services.accounts import AccountService
    from services.api_key_service import ApiKeyService
    from services.catalog_service import CatalogService
    from services.concurrency import ConcurrencySlots
    from services.model_simulator import ModelSimulator
    from services.ports import (
        CheckoutGateway,
        GenerationQueue,
        ImageStore,
        TaskInspector,
        WebhookQueue,
        WebhookSender,
    )
    from services.webhook_service import WebhookNotifier, WebhookSecrets


@dataclass(frozen=True)
class Adapters:
    """How wire() reaches the outside world; each adapter is made on first use, so a function
    imports only the clients it calls (Storage, Cloud Tasks)."""

    queue: Callable[[], GenerationQueue]
    webhooks: Callable[[], WebhookQueue]
    images: Callable[[], ImageStore]
    tasks: Callable[[], TaskInspector | None] = lambda: None


@dataclass
class Container:
    settings: Settings
    db: firestore.Client
    queue: GenerationQueue | None = None  # None: the adapters' (tests give theirs)
    clock: Clock = field(default_factory=SystemClock)
    rng: random.Random = field(default_factory=random.Random)
    verify_token: Any = None  # (token) -> claims; defaults to firebase_admin.auth
    account_active: Any = None  # (uid) -> may its API keys act; defaults to firebase_admin.auth
    tasks: TaskInspector | None = None  # None: the adapters' (None on the emulator)
    # Runs the repositories' transactions; the emulator's holds its host lock.
    transactions: TransactionRunner = field(default_factory=TransactionRunner)
    images: ImageStore | None = None  # where generated PNGs go; None: the adapters'
    webhooks: WebhookQueue | None = None  # None: the adapters' (without: no events scheduled)
    webhook_sender: WebhookSender | None = None  # defaults to the policy's SSRF-safe sender
    # API keys a user may create per 30 days; None: MAX_CREATED_KEYS (tests set fewer).
    max_api_keys_created: int | None = None
    # How Stripe's API is reached (a stripe.HTTPClient); None: the library's default, the
    # network. Tests give a recording client, the one stand-in for Stripe.
    stripe_http_client: Any = None
    # deleteAccount's last step; defaults to firebase_admin.auth (an AuthUsers).
    auth_users: Any = None
    # How long a status stream lasts, keeps alive and reads (tests shorten them).
    stream_timings: StreamTimings | None = None  # None: StreamTimings()
    queue_position_cap: int = QUEUE_POSITION_CAP  # `queuePosition` counts up to it (tests: fewer)
    # What wire() reaches the outside world with, where no adapter above is given.
    adapters: Adapters | None = None

    # --- the adapters: made on first use, then kept in their fields ---------------------------
    @property
    def task_queue(self) -> GenerationQueue:
        if self.queue is None:
            if self.adapters is None:
                raise ConfigurationError("no generation queue is wired")
            self.queue = self.adapters.queue()
        return self.queue

    @property
    def image_store(self) -> ImageStore:
        """Raises ConfigurationError where none is wired: only the functions that store or
        remove pictures ask for it."""
        if self.images is None:
            if self.adapters is None:
                raise ConfigurationError("no image store is wired")
            self.images = self.adapters.images()
        return self.images

    @property
    def webhook_queue(self) -> WebhookQueue | None:
        if self.webhooks is None and self.adapters is not None:
            self.webhooks = self.adapters.webhooks()
        return self.webhooks

    @property
    def task_inspector(self) -> TaskInspector | None:
        """Asks the queue whether a request's task still exists; None where it cannot."""
        if self.tasks is None and self.adapters is not None:
            self.tasks = self.adapters.tasks()
        return self.tasks

    # --- repositories and services -----------------------------------------------------------
    @cached_property
    def generations(self) -> GenerationRepository:
        from repositories.generations import GenerationRepository

        return GenerationRepository(self.db, self.transactions)

    @cached_property
    def simulator(self) -> ModelSimulator:
        from services.model_simulator import ModelSimulator

        s = self.settings
        return ModelSimulator(
            s.failure_rates,
            s.default_failure_rate,
            s.min_latency_seconds,
            s.max_latency_seconds,
            rng=self.rng,
        )

    @cached_property
    def user_auth(self) -> UserAuthorizer:
        from controllers.api_key_controller import key_resolver
        from controllers.auth import UserAuthorizer

        return UserAuthorizer(
            self.settings.require_auth,
            self.verify_token or _verify_id_token,
            key_resolver(self.api_key_service),
        )

    @cached_property
    def api_keys(self) -> ApiKeyRepository:
        from repositories.api_keys import ApiKeyRepository

        return ApiKeyRepository(self.db, self.transactions)

    @cached_property
    def api_key_service(self) -> ApiKeyService:
        from services.api_key_service import MAX_CREATED_KEYS, ApiKeyService

        limit = self.max_api_keys_created
        return ApiKeyService(
            self.api_keys,
            self.clock,
            self.account_active or _account_active,
            accounts=self.users,
            max_created=MAX_CREATED_KEYS if limit is None else limit,
        )

    @cached_property
    def api_key_controller(self) -> ApiKeyController:
        from controllers.api_key_controller import ApiKeyController

        return ApiKeyController(self.api_key_service, self.user_auth)

    @cached_property
    def admin_guard(self) -> AdminGuard:
        """Open on the emulator unless auth is required there, as deployed."""
        if self.settings.on_emulator and not self.settings.require_auth:
            from emulator.admin import OpenAdminGuard

            return OpenAdminGuard()
        from controllers.auth import AdminGuard

        return AdminGuard(self.settings.admin_api_key, self.verify_token or _verify_id_token)

    @cached_property
    def catalog_service(self) -> CatalogService:
        """One per instance: its short-lived cache serves getCatalog and the accept path."""
        from repositories.catalog import CatalogRepository
        from services.catalog_service import CatalogService

        return CatalogService(CatalogRepository(self.db), self.clock)

    @cached_property
    def generation_controller(self) -> GenerationController:
        from controllers.event_stream import StatusStream, StreamTimings
        from controllers.generation_controller import GenerationController
        from services.generation_service import GenerationService

        service = GenerationService(
            self.catalog_service,
            self.generations,
            self.task_queue,
            self.clock,
            max_in_flight=self.settings.max_in_flight_per_user,
            max_pending_webhooks=self.settings.max_pending_webhooks_per_user,
            webhooks=self.webhook_notifier,
            images=lambda: self.image_store,
            retention=timedelta(days=self.settings.retention_days),
            queue_position_cap=self.queue_position_cap,
        )
        return GenerationController(
            service,
            self.user_auth,
            self.admin_guard,
            webhook_policy=self.webhook_policy,
            waits=self.wait_slots,
            accounts=self.users,
            streams=self.stream_slots,
            status_stream=StatusStream(self.stream_timings or StreamTimings()),
        )

    @cached_property
    def wait_slots(self) -> ConcurrencySlots:
        """`Prefer: wait` calls waiting at once per user, counted in Firestore (every instance)."""
        from core.capacity import WAIT_LEASE_SECONDS
        from repositories.firestore_helpers import WAIT_LEASES
        from repositories.slots import SlotRepository
        from services.concurrency import ConcurrencySlots

        return ConcurrencySlots(
            SlotRepository(self.db, WAIT_LEASES),
            self.clock,
            kind="wait",
            limit=self.settings.max_concurrent_waits_per_user,
            lease=timedelta(seconds=WAIT_LEASE_SECONDS),
        )

    @cached_property
    def stream_slots(self) -> ConcurrencySlots:
        """Status streams open at once per user, counted in Firestore (every instance)."""
        from core.capacity import MAX_STREAMS_PER_USER, STREAM_LEASE_SECONDS
        from repositories.firestore_helpers import STREAM_LEASES
        from repositories.slots import SlotRepository
        from services.concurrency import ConcurrencySlots

        return ConcurrencySlots(
            SlotRepository(self.db, STREAM_LEASES),
            self.clock,
            kind="stream",
            limit=MAX_STREAMS_PER_USER,
            lease=timedelta(seconds=STREAM_LEASE_SECONDS),
        )

    @cached_property
    def account_controller(self) -> AccountController:
        from controllers.account_controller import AccountController

        return AccountController(self.users, self.user_auth, self.admin_guard, self.account_service)

    @cached_property
    def account_service(self) -> AccountService:
        """createAccount: the user document and its welcome credits, one transaction."""
        from repositories.accounts import AccountRepository
        from services.accounts import AccountService

        return AccountService(
            AccountRepository(self.db, self.transactions),
            self.clock,
            welcome_credits=self.settings.welcome_credits,
        )

    @cached_property
    def users(self) -> UserRepository:
        from repositories.users import UserRepository

        return UserRepository(self.db)

    @cached_property
    def credits(self) -> CreditRepository:
        """Books credits that come from outside the money path (welcome, grants, purchases)."""
        from repositories.credits import CreditRepository

        return CreditRepository(self.db, self.transactions)

    @cached_property
    def checkout_gateway(self) -> CheckoutGateway | None:
        """None while STRIPE_SECRET_KEY holds no Stripe key (payments are off)."""
        from core.payments import StripeCheckout, is_secret_key

        key = self.settings.stripe_secret_key
        return StripeCheckout(key, self.stripe_http_client) if is_secret_key(key) else None

    @cached_property
    def payments_controller(self) -> PaymentsController:
        from controllers.payments_controller import PaymentsController
        from repositories.catalog import CatalogRepository
        from services.payments import PaymentService

        service = PaymentService(
            self.catalog_service,
            CatalogRepository(self.db),
            self.users,
            self.credits,
            self.clock,
            lambda: self.checkout_gateway,
            self.settings.checkout_return_url,
        )
        return PaymentsController(service, self.user_auth, self.settings.stripe_webhook_secret)

    @cached_property
    def grant_controller(self) -> GrantController:
        from controllers.grant_controller import GrantController
        from services.grant_service import GrantService

        return GrantController(GrantService(self.credits, self.clock), self.admin_guard)

    @cached_property
    def catalog_controller(self) -> CatalogController:
        from controllers.catalog_controller import CatalogController

        return CatalogController(self.catalog_service)

    @cached_property
    def worker_controller(self) -> WorkerController:
        from controllers.worker_controller import WorkerController
        from services.worker_service import GenerationWorker, StuckTimeouts

        s = self.settings
        worker = GenerationWorker(
            self.generations,
            self.simulator,
            self.image_store,
            self.clock,
            self.task_inspector,
            webhooks=self.webhook_notifier,
        )
        timeouts = StuckTimeouts(s.generation_timeout_seconds, s.queued_timeout_seconds)
        return WorkerController(worker, timeouts, self.admin_guard)

    @cached_property
    def webhook_policy(self) -> UrlPolicy:
        """Loopback targets (and http to them) only on the emulator."""
        from core.webhook_urls import EMULATOR, PRODUCTION

        return EMULATOR if self.settings.on_emulator else PRODUCTION

    @cached_property
    def webhook_deliveries(self) -> WebhookDeliveryRepository:
        from repositories.webhooks import WebhookDeliveryRepository

        return WebhookDeliveryRepository(self.db, self.transactions)

    @cached_property
    def webhook_notifier(self) -> WebhookNotifier | None:
        from services.webhook_service import WebhookNotifier, WebhookRescue

        queue = self.webhook_queue
        if queue is None:
            return None
        rescue = WebhookRescue.for_backoff(self.settings.webhook_max_backoff_seconds)
        return WebhookNotifier(queue, self.webhook_deliveries, rescue)

    @cached_property
    def webhook_secrets(self) -> WebhookSecrets:
        from repositories.webhooks import WebhookSecretRepository
        from services.webhook_service import WebhookSecrets

        return WebhookSecrets(WebhookSecretRepository(self.db), self.clock)

    @cached_property
    def webhook_controller(self) -> WebhookController:
        from controllers.webhook_controller import WebhookController
        from core.webhook_http import PinnedWebhookSender
        from services.webhook_service import WebhookDeliverer

        deliverer = WebhookDeliverer(
            self.generations,
            self.webhook_deliveries,
            self.webhook_secrets,
            self.webhook_sender or PinnedWebhookSender(self.webhook_policy),
            self.clock,
            max_attempts=self.settings.webhook_max_attempts,
        )
        return WebhookController(self.webhook_secrets, deliverer, self.user_auth, self.users)

    @cached_property
    def admin_controller(self) -> AdminController:
        from controllers.admin_controller import AdminController
        from repositories.seed import SeedRepository
        from services.seeding.service import SeedService

        return AdminController(
            SeedService(SeedRepository(self.db), self.clock),
            self.admin_guard,
            seed_enabled=self.settings.seed_enabled,
        )

    # --- deleteAccount and exportAccountData ------------------------------------------------
    @cached_property
    def account_data_controller(self) -> AccountDataController:
        from controllers.account_data_controller import AccountDataController
        from repositories.account_data import AccountDataRepository
        from services.account_data import AccountDataService

        service = AccountDataService(
            AccountDataRepository(self.db, self.transactions),
            self.generations,
            self.task_queue,
            self.api_keys,
            self.webhook_deliveries,
            lambda: self.image_store,
            self.auth_users or FirebaseAuthUsers(),
            self.clock,
        )
        return AccountDataController(service, self.user_auth)

    @cached_property
    def report_controller(self) -> ReportController:
        from controllers.report_controller import ReportController
        from repositories.reports import ReportRepository
        from services.report_service import ReportService

        service = ReportService(
            ReportRepository(self.db), self.clock, self.settings.anomaly_thresholds
        )
        return ReportController(service, self.admin_guard)


def firebase_app() -> firebase_admin.App:
    try:
        return firebase_admin.get_app()
    except ValueError:
        return firebase_admin.initialize_app(options={"projectId": project_id()})


# What means "this credential is no good" (401); anything else raised while verifying means the
# auth backend is unreachable.
_REJECTED = (
    auth.InvalidIdTokenError,  # also expired and revoked tokens (subclasses)
    auth.UserDisabledError,
    auth.UserNotFoundError,
    ValueError,  # malformed
)


def _verify_id_token(token: str) -> dict[str, Any]:
    """Verify signature, expiry and revocation (a disabled account's tokens fail at once)."""
    from controllers.auth import TokenRejected

    try:
        claims: dict[str, Any] = auth.verify_id_token(token, app=firebase_app(), check_revoked=True)
    except _REJECTED as error:
        raise TokenRejected(type(error).__name__) from None
    # Against the Auth emulator firebase-admin checks neither signature nor expiry.
    if float(claims.get("exp", 0)) <= time.time():
        raise TokenRejected("ExpiredIdTokenError")
    return claims


def _account_active(uid: str) -> bool:
    """Whether an API key's owner may still act: the account exists and is not disabled. Any
    other failure propagates (auth backend unreachable: 503)."""
    try:
        user = auth.get_user(uid, app=firebase_app())
    except auth.UserNotFoundError:
        return False
    return not user.disabled


class FirebaseAuthUsers:
    """Firebase Auth users, as deleteAccount removes them."""

    def delete_user(self, user_id: str) -> None:
        # A missing user was deleted by an earlier run, or never there.
        with contextlib.suppress(auth.UserNotFoundError):
            auth.delete_user(user_id, app=firebase_app())


@cache
def container() -> Container:
    """The process-wide container used by main.py."""
    return wire(load_settings(), build_firestore_client(), firebase_app())


def wire(settings: Settings, db: firestore.Client, app: firebase_admin.App) -> Container:
    """The one place production and the emulator differ: the emulator gets its workarounds
    (package emulator/), production the Cloud Tasks task lookup."""
    if settings.on_emulator:
        return Container(
            settings, db, transactions=emulator_transactions(), adapters=emulator_adapters(app)
        )
    return Container(settings, db, adapters=production_adapters(settings, app))


def emulator_transactions(*, host_lock: bool = True) -> TransactionRunner:
    """The emulator's runner: reads of several documents that hold together, as Firestore's do
    (emulator/consistent_reads.py), and the host lock (emulator/host_lock.py) unless a race
    test turns it off."""
    from emulator.consistent_reads import read_all_at_once

    if not host_lock:
        return TransactionRunner(read_all=read_all_at_once)
    from emulator.host_lock import HostLockedTransactions

    return HostLockedTransactions(read_all=read_all_at_once)


def emulator_adapters(app: firebase_admin.App) -> Adapters:
    def queue() -> GenerationQueue:
        from emulator.task_queue import EmulatorGenerationQueue

        return EmulatorGenerationQueue(app)

    def webhooks() -> WebhookQueue:
        from emulator.task_queue import EmulatorWebhookQueue

        return EmulatorWebhookQueue(app)

    def images() -> ImageStore:
        from emulator.storage import emulator_images

        return emulator_images()

    return Adapters(queue, webhooks, images)


def production_adapters(settings: Settings, app: firebase_admin.App) -> Adapters:
    def queue() -> GenerationQueue:
        from core.task_queue import CloudTasksGenerationQueue

        return CloudTasksGenerationQueue(app)

    def webhooks() -> WebhookQueue:
        from core.task_queue import CloudTasksWebhookQueue

        return CloudTasksWebhookQueue(app)

    def images() -> ImageStore:
        from core.image_storage import CloudStorageImages, default_bucket_name, firebase_bucket

        bucket = settings.image_bucket or default_bucket_name()
        return CloudStorageImages(lambda: firebase_bucket(app, bucket))

    def tasks() -> TaskInspector:
        from core.task_queue import CloudTasksInspector

        return CloudTasksInspector(project_id())

    return Adapters(queue, webhooks, images, tasks)
