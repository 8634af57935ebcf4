"""The composition root: emulator workarounds are wired on the emulator and nowhere else."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from container import wire
from controllers.auth import AdminGuard
from core.errors import ForbiddenError
from core.image_storage import FIREBASE_DOWNLOAD_BASE
from core.settings import Settings
from core.task_queue import CloudTasksGenerationQueue, CloudTasksInspector
from emulator.admin import OpenAdminGuard
from emulator.consistent_reads import read_all_at_once
from emulator.host_lock import HostLockedTransactions
from emulator.task_queue import EmulatorGenerationQueue
from repositories.firestore_helpers import TransactionRunner, read_all
from tests.support.http import make_request

KEY = "k" * 32


def wired(on_emulator: bool, require_auth: bool = False):
    settings = Settings(on_emulator=on_emulator, require_auth=require_auth, admin_api_key=KEY)
    return wire(settings, db=SimpleNamespace(), app=SimpleNamespace())  # type: ignore[arg-type]


def all_repositories_run_with(container, runner) -> bool:
    """Every repository with transactions that can contend runs them with `runner`."""
    repositories = [container.generations, container.webhook_deliveries, container.api_keys]
    return all(r._transactions is runner for r in repositories)


def test_the_emulator_gets_its_workarounds():
    container = wired(on_emulator=True)
    assert type(container.task_queue) is EmulatorGenerationQueue
    assert isinstance(container.transactions, HostLockedTransactions)
    assert container.transactions.read_all is read_all_at_once
    assert all_repositories_run_with(container, container.transactions)
    assert isinstance(container.admin_guard, OpenAdminGuard)
    container.admin_guard.authorize(make_request("GET"))  # open
    assert container.task_inspector is None  # the Cloud Tasks emulator cannot be asked
    assert container.image_store._download_base == "http://127.0.0.1:9199/download/storage/v1"


def test_production_contains_none_of_them():
    container = wired(on_emulator=False)
    assert type(container.task_queue) is CloudTasksGenerationQueue
    assert type(container.transactions) is TransactionRunner
    assert container.transactions.read_all is read_all
    assert all_repositories_run_with(container, container.transactions)
    assert type(container.admin_guard) is AdminGuard
    with pytest.raises(ForbiddenError):
        container.admin_guard.authorize(make_request("GET"))
    assert isinstance(container.task_inspector, CloudTasksInspector)
    assert container.image_store._download_base == FIREBASE_DOWNLOAD_BASE


def test_auth_required_on_the_emulator_closes_the_admin_functions_as_deployed():
    """`REQUIRE_AUTH=true make dev`: production's guard, with the emulator's other workarounds."""
    container = wired(on_emulator=True, require_auth=True)
    assert type(container.task_queue) is EmulatorGenerationQueue
    assert type(container.admin_guard) is AdminGuard
    with pytest.raises(ForbiddenError):
        container.admin_guard.authorize(make_request("GET"))
    container.admin_guard.authorize(make_request("GET", headers={"Authorization": f"Bearer {KEY}"}))


class FailingQueue:
    def __init__(self, error: Exception) -> None:
        self.error = error

    def enqueue(self, body, options):
        raise self.error


@pytest.mark.parametrize("queue_type", [CloudTasksGenerationQueue, EmulatorGenerationQueue])
def test_only_the_emulator_queue_forgives_firebase_admins_name_parse_error(queue_type):
    queue = queue_type(SimpleNamespace())  # type: ignore[arg-type]
    queue.__dict__["_queue"] = FailingQueue(ValueError("Invalid resource name format."))
    if queue_type is EmulatorGenerationQueue:
        queue.enqueue("abc")  # the task was created; the answer was mis-read
    else:
        with pytest.raises(ValueError):
            queue.enqueue("abc")
    queue.__dict__["_queue"] = FailingQueue(ValueError("something else"))
    with pytest.raises(ValueError):
        queue.enqueue("abc")
