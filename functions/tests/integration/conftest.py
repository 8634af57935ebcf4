"""Integration fixtures: the real Firestore emulator (and, for e2e tests, the whole suite).

`make test` runs these inside `firebase emulators:exec`, which sets FIRESTORE_EMULATOR_HOST.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from google.cloud import firestore

import main
from container import Container, emulator_transactions
from core.clock import SystemClock
from core.firestore_client import build_firestore_client
from core.settings import Settings
from emulator.storage import emulator_images
from repositories.firestore_helpers import TransactionRunner
from repositories.seed import SeedRepository
from services.seeding.service import SeedService
from tests.support.auth_emulator import owner_and_other_tokens
from tests.support.ledger import assert_ledger_consistent

PROJECT = "feraset-imagen"
FUNCTIONS_BASE = os.environ.get(
    "FUNCTIONS_BASE_URL", f"http://127.0.0.1:5551/{PROJECT}/us-central1"
)


class RecordingQueue:
    """Stands in for Cloud Tasks where a test delivers the tasks itself."""

    def __init__(self) -> None:
        self.enqueued: list[str] = []
        self.cancelled: list[str] = []

    def enqueue(self, generation_request_id: str) -> None:
        self.enqueued.append(generation_request_id)

    def cancel(self, generation_request_id: str) -> None:
        self.cancelled.append(generation_request_id)


@pytest.fixture(scope="session")
def db() -> firestore.Client:
    if not os.environ.get("FIRESTORE_EMULATOR_HOST"):
        pytest.fail("integration tests need the emulators: run them through `make test`")
    return build_firestore_client()


def wipe_firestore() -> None:
    host = os.environ["FIRESTORE_EMULATOR_HOST"]
    url = f"http://{host}/emulator/v1/projects/{PROJECT}/databases/(default)/documents"
    for _ in range(50):  # 409 while a transaction from a finished test is still open
        response = requests.delete(url, timeout=30)
        if response.status_code != 409:
            break
        time.sleep(0.2)
    response.raise_for_status()


@pytest.fixture(autouse=True)
def seeded(db: firestore.Client) -> Iterator[None]:
    """Every test starts from the seed state and must leave the ledger consistent."""
    wipe_firestore()
    SeedService(SeedRepository(db), SystemClock()).seed(history=False)
    yield
    assert_ledger_consistent(db)


# Containers run transactions as on the emulator, with its host lock, unless a test says otherwise.
RUNNERS: dict[str, TransactionRunner] = {"default": emulator_transactions()}


@pytest.fixture(params=["host-lock", "no-host-lock"])
def host_lock(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a race twice: with the host-level lock, and without it (as in production, and
    between instances), so that the lock can never be what makes the guarantee hold."""
    if request.param == "no-host-lock":
        monkeypatch.setitem(RUNNERS, "default", emulator_transactions(host_lock=False))
    return str(request.param)


def settings_for_tests(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "failure_rates": {},
        "default_failure_rate": 0.0,
        "min_latency_seconds": 0.0,
        "max_latency_seconds": 0.0,
        "on_emulator": True,
        "require_auth": False,
        "seed_enabled": True,  # as in every emulator profile
        "max_in_flight_per_user": 1000,  # tests of the cap set their own
        "queued_timeout_seconds": 600,  # as the processing timeout, unless a test says otherwise
    }
    return Settings(**(values | overrides))


@pytest.fixture
def make_container(
    db: firestore.Client, monkeypatch: pytest.MonkeyPatch
) -> Callable[..., Container]:
    """Build a container on the emulator and route main.py's functions to it."""

    def build(
        queue: Any = None,
        seed: int = 7,
        tasks: Any = None,
        host_locks: bool | None = True,  # False or None: transactions without the host lock
        **settings: Any,
    ) -> Container:
        built = Container(
            settings=settings_for_tests(**settings),
            db=db,
            queue=queue if queue is not None else RecordingQueue(),
            rng=random.Random(seed),
            tasks=tasks,
            transactions=RUNNERS["default"]
            if host_locks
            else emulator_transactions(host_lock=False),
            images=emulator_images(),
        )
        monkeypatch.setattr(main, "container", lambda: built)
        return built

    return build


def add_user(db: firestore.Client, user_id: str, credits: int) -> None:
    now = SystemClock().now()
    db.collection("users").document(user_id).set(
        {
            "name": user_id,
            "email": f"{user_id}@example.com",
            "current_credits": credits,
            "initial_credits": credits,
            "total_images_generated": 0,
            "is_active": True,
            "created_at": now,
            "updated_at": now,
        }
    )


def request_body(user_id: str = "arda", **overrides: Any) -> dict[str, Any]:
    return {
        "userId": user_id,
        "model": "Model A",
        "style": "realistic",
        "color": "vibrant",
        "size": "1024x1024",
        "prompt": "A beautiful landscape",
    } | overrides


def transactions(db: firestore.Client, user_id: str) -> list[dict[str, Any]]:
    ref = db.collection("users").document(user_id).collection("transactions")
    return [snap.to_dict() or {} for snap in ref.stream()]


def balance(db: firestore.Client, user_id: str) -> int:
    return int(db.collection("users").document(user_id).get().get("current_credits"))


@pytest.fixture(scope="module")
def tokens() -> dict[str, str]:
    """ID tokens of OWNER and OTHER (tests.support.auth_emulator), fresh accounts per module."""
    return owner_and_other_tokens()
