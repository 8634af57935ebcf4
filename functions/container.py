"""Composition root: builds every dependency once per process, on first use (never at import).

Tests build their own `Container` with fakes or emulator clients through the constructor.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from functools import cache, cached_property
from typing import Any

import firebase_admin
from firebase_admin import auth
from google.cloud import firestore

from controllers.account_controller import AccountController
from controllers.admin_controller import AdminController
from controllers.auth import AdminGuard, UserAuthorizer
from controllers.catalog_controller import CatalogController
from controllers.generation_controller import GenerationController
from controllers.report_controller import ReportController
from controllers.worker_controller import WorkerController
from core.clock import Clock, SystemClock
from core.config import Settings, load_settings
from core.firestore_client import build_firestore_client, project_id
from core.task_queue import CloudTasksGenerationQueue
from repositories.catalog import CatalogRepository
from repositories.generations import GenerationRepository
from repositories.reports import ReportRepository
from repositories.seed import SeedRepository
from repositories.users import UserRepository
from services.account_service import AccountService
from services.catalog_service import CatalogService
from services.generation_service import GenerationService
from services.model_simulator import ModelSimulator
from services.ports import GenerationQueue
from services.report_service import ReportService
from services.seed_service import SeedService
from services.worker_service import GenerationWorker


@dataclass
class Container:
    settings: Settings
    db: firestore.Client
    queue: GenerationQueue
    clock: Clock = field(default_factory=SystemClock)
    rng: random.Random = field(default_factory=random.Random)
    verify_token: Any = None  # (token) -> claims; defaults to firebase_admin.auth

    @cached_property
    def generations(self) -> GenerationRepository:
        return GenerationRepository(self.db)

    @cached_property
    def simulator(self) -> ModelSimulator:
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
        return UserAuthorizer(self.settings.require_auth, self.verify_token or _verify_id_token)

    @cached_property
    def admin_guard(self) -> AdminGuard:
        return AdminGuard(self.settings.on_emulator, self.settings.admin_api_key)

    @cached_property
    def generation_controller(self) -> GenerationController:
        service = GenerationService(
            CatalogRepository(self.db), self.generations, self.queue, self.clock
        )
        return GenerationController(service, self.user_auth)

    @cached_property
    def account_controller(self) -> AccountController:
        return AccountController(
            AccountService(UserRepository(self.db)), self.user_auth, self.admin_guard
        )

    @cached_property
    def catalog_controller(self) -> CatalogController:
        return CatalogController(CatalogService(CatalogRepository(self.db)))

    @cached_property
    def worker_controller(self) -> WorkerController:
        worker = GenerationWorker(self.generations, self.simulator, self.clock)
        return WorkerController(worker, self.settings.generation_timeout_seconds)

    @cached_property
    def admin_controller(self) -> AdminController:
        return AdminController(SeedService(SeedRepository(self.db), self.clock), self.admin_guard)

    @cached_property
    def report_controller(self) -> ReportController:
        service = ReportService(ReportRepository(self.db), self.clock)
        return ReportController(service, self.admin_guard)


def firebase_app() -> firebase_admin.App:
    try:
        return firebase_admin.get_app()
    except ValueError:
        return firebase_admin.initialize_app(options={"projectId": project_id()})


def _verify_id_token(token: str) -> dict[str, Any]:
    claims: dict[str, Any] = auth.verify_id_token(token, app=firebase_app())
    # Against the Auth emulator firebase-admin checks neither signature nor expiry; keep the
    # expiry check there too (in production google-auth has already enforced it).
    if float(claims.get("exp", 0)) <= time.time():
        raise auth.ExpiredIdTokenError("Token expired", cause=None)
    return claims


@cache
def container() -> Container:
    """The process-wide container used by main.py."""
    return Container(
        settings=load_settings(),
        db=build_firestore_client(),
        queue=CloudTasksGenerationQueue(firebase_app()),
    )
