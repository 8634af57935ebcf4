"""Each function imports only its own dependencies: main.py loads what its decorators need,
container.py what the called function's graph needs (Storage, Pillow, Cloud Tasks, Stripe only
where used). Checked in fresh interpreters (sys.modules of this one holds everything); the
times are `make bench`'s `cold_import` lines, not asserted here."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from container import wire
from core.firestore_client import build_firestore_client
from core.settings import Settings

FUNCTIONS_DIR = Path(__file__).resolve().parents[2]
# Never reached: building a graph makes no call, and a call would fail instead of going out.
ENVIRONMENT = {"FIRESTORE_EMULATOR_HOST": "127.0.0.1:9", "GCLOUD_PROJECT": "demo-lazy"}
HEAVY = ("PIL", "google.cloud.storage", "google.cloud.tasks_v2", "stripe")
# What main.py's entry points reach through the container, read from its source.
ENTRY_GRAPHS = sorted(
    set(re.findall(r"container\(\)\.(\w+)", (FUNCTIONS_DIR / "main.py").read_text())) - {"settings"}
)

PROBE = """
import json, sys
from types import SimpleNamespace

import main

graph, on_emulator = sys.argv[1], sys.argv[2] == "emulator"
if graph:
    from container import wire
    from core.firestore_client import build_firestore_client
    from core.settings import Settings

    built = wire(Settings(on_emulator=on_emulator), build_firestore_client(), SimpleNamespace())
    getattr(built, graph)
    if graph == "worker_controller":
        built.image_store._bucket  # its first upload opens the bucket
print(json.dumps(sorted(sys.modules)))
"""


def fresh(code: str, *args: str) -> Any:
    """What `code`, run in a fresh interpreter, prints as JSON."""
    done = subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=FUNCTIONS_DIR,
        env=os.environ | ENVIRONMENT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(done.stdout)


def loaded(graph: str = "", wiring: str = "emulator") -> set[str]:
    """The modules a fresh process holds after `import main` and building `graph`."""
    return set(fresh(PROBE, graph, wiring))


def ours(modules: set[str], *packages: str) -> set[str]:
    return {m for m in modules if m.split(".")[0] in packages}


def test_importing_main_loads_only_what_the_decorators_need():
    modules = loaded()
    assert not {*HEAVY, "pydantic", "container"} & modules
    assert ours(modules, "controllers") == {"controllers", "controllers.http"}
    assert not ours(modules, "services", "repositories", "schemas", "emulator")


@pytest.mark.parametrize("wiring", ["emulator", "production"])
def test_a_create_loads_neither_storage_nor_pillow_nor_tasks_nor_stripe(wiring):
    modules = loaded("generation_controller", wiring)
    assert not set(HEAVY) & modules
    assert not {"core.image_storage", "emulator.storage", "services.worker_service"} & modules
    assert "schemas.operator_requests" not in modules
    assert "controllers.generation_controller" in modules


def test_getusercredits_loads_no_other_controller():
    modules = loaded("account_controller")
    assert not {*HEAVY, "schemas.operator_requests"} & modules
    assert ours(modules, "controllers") == {
        "controllers",
        "controllers.account_controller",
        "controllers.api_key_controller",  # resolves API keys (user_auth)
        "controllers.auth",
        "controllers.http",
    }


def test_the_worker_loads_pillow_and_storage_but_not_stripe():
    modules = loaded("worker_controller")
    assert {"PIL", "services.image_renderer", "google.cloud.storage"} <= modules
    assert not {"stripe", "schemas.requests"} & modules  # its task payload: schemas.tasks
    assert ours(modules, "controllers") == {
        "controllers",
        "controllers.auth",  # the admin guard of its sweeper twin
        "controllers.http",
        "controllers.worker_controller",
    }


@pytest.mark.parametrize("on_emulator", [True, False])
@pytest.mark.parametrize("graph", ENTRY_GRAPHS)
def test_every_entry_point_builds_in_both_wirings(monkeypatch, graph, on_emulator):
    for name, value in ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    built = wire(Settings(on_emulator=on_emulator), build_firestore_client(), SimpleNamespace())  # type: ignore[arg-type]
    assert getattr(built, graph) is not None


def test_the_entry_points_graphs_are_read_from_main():
    assert {"generation_controller", "account_controller", "worker_controller"} <= set(ENTRY_GRAPHS)


MODELS_PROBE = """
import importlib, json, pkgutil
from pydantic import BaseModel
from core.models import Model

for package in ("core", "schemas", "services", "repositories", "controllers"):
    for module in pkgutil.walk_packages(importlib.import_module(package).__path__, package + "."):
        importlib.import_module(module.name)

def subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from subclasses(sub)

ours = [m for m in subclasses(BaseModel) if not m.__module__.startswith("pydantic")]
print(json.dumps({
    "models": sorted(m.__qualname__ for m in ours),
    "deferred": sorted(m.__qualname__ for m in ours if issubclass(m, Model)),
    "built": sorted(m.__qualname__ for m in ours if m.__pydantic_complete__),
}))
"""


def test_importing_every_module_builds_no_validator():
    """Every model derives from core.models.Model (`defer_build`): a function builds the
    validators of the models it uses, on first use, and no other."""
    found = fresh(MODELS_PROBE)
    assert {"Model", "Settings", "UserRecord", "WeeklyReport"} <= set(found["models"])
    assert found["deferred"] == found["models"]
    assert found["built"] == []


def test_the_deployed_environment_skips_pydantic_plugin_discovery():
    """pydantic otherwise scans every installed package's entry points on the first model
    build of each cold start."""
    deployed = (FUNCTIONS_DIR / ".env.feraset-imagen").read_text().splitlines()
    assert "PYDANTIC_DISABLE_PLUGINS=__all__" in deployed
