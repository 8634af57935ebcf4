"""No import runs back up the layers.

main → controllers → services → repositories → schemas → core, with container.py as the
composition root; the emulator/ package adapts types of the layers and only container.py may
import it. Services reach the repositories only through services/ports.py. Every production
module's imports are read with `ast` (also imports inside functions and under `TYPE_CHECKING`)
and each one of ours must point at the module's own layer or one below it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

FUNCTIONS_DIR = Path(__file__).resolve().parents[2]

# What each layer may import from this codebase (its own layer included).
ALLOWED: dict[str, frozenset[str]] = {
    "core": frozenset({"core"}),
    "schemas": frozenset({"schemas", "core"}),
    "repositories": frozenset({"repositories", "schemas", "core"}),
    "services": frozenset({"services", "schemas", "core"}),
    "controllers": frozenset({"controllers", "services", "schemas", "core"}),
    "main": frozenset({"container", "controllers", "core"}),
    # Emulator workarounds, wired in only by container.py: nothing else may import them.
    "emulator": frozenset({"emulator", "controllers", "repositories", "schemas", "core"}),
    # The composition root wires everything together.
    "container": frozenset({"container", "main", "controllers", "services", "repositories"})
    | frozenset({"schemas", "core", "emulator"}),
}
OURS = frozenset(ALLOWED)


def layer_of(path: Path) -> str:
    """`controllers/http.py` → "controllers"; `main.py` → "main"."""
    relative = path.relative_to(FUNCTIONS_DIR)
    return relative.parts[0] if len(relative.parts) > 1 else relative.stem


def production_modules() -> list[Path]:
    modules = [FUNCTIONS_DIR / "main.py", FUNCTIONS_DIR / "container.py"]
    for package in sorted(OURS - {"main", "container"}):
        modules += sorted((FUNCTIONS_DIR / package).rglob("*.py"))
    return modules


def imported_layers(source: str, package: str) -> list[tuple[int, str]]:
    """(line, top-level name) of every import of ours in `source`; relative imports resolve
    against `package` (the importing module's dotted package)."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                names = [".".join([*base, node.module] if node.module else base)]
            else:
                names = [node.module or ""]
        else:
            continue
        for name in names:
            top = name.split(".")[0]
            if top in OURS:
                found.append((node.lineno, top))
    return found


def violations(path: Path) -> list[str]:
    layer = layer_of(path)
    package = ".".join(path.relative_to(FUNCTIONS_DIR).with_suffix("").parts[:-1]) or layer
    return [
        f"{path.relative_to(FUNCTIONS_DIR)}:{line} ({layer}) imports {target}"
        for line, target in imported_layers(path.read_text(encoding="utf-8"), package)
        if target not in ALLOWED[layer]
    ]


def test_every_layer_is_covered() -> None:
    """The walk finds the whole codebase, so an empty glob cannot make the next test pass."""
    modules = production_modules()
    assert {layer_of(p) for p in modules} == OURS
    assert len(modules) > 30


def test_no_import_runs_back_up_the_layers() -> None:
    found = [v for path in production_modules() for v in violations(path)]
    assert found == [], "imports against the layering:\n" + "\n".join(found)


@pytest.mark.parametrize(
    ("layer", "source", "bad"),
    [
        ("core", "from services.ports import GenerationQueue", ["services"]),
        ("core", "def f():\n    import repositories.users\n", ["repositories"]),
        ("schemas", "from repositories import users", ["repositories"]),
        ("repositories", "from services import ports", ["services"]),
        ("services", "from controllers.http import endpoint", ["controllers"]),
        ("services", "from repositories.generations import GenerationRepository", ["repositories"]),
        ("controllers", "from repositories.users import UserRepository", ["repositories"]),
        ("controllers", "import container", ["container"]),
        ("main", "from services.report_service import ReportService", ["services"]),
        ("main", "from container import container\nfrom core import config", []),
        ("main", "from emulator.admin import OpenAdminGuard", ["emulator"]),
        ("controllers", "from emulator.admin import OpenAdminGuard", ["emulator"]),
        ("repositories", "from emulator.host_lock import HostLocks", ["emulator"]),
        ("core", "import emulator.storage", ["emulator"]),
        ("emulator", "from services.ports import ImageStore", ["services"]),
        ("emulator", "from repositories.firestore_helpers import TransactionRunner", []),
        ("container", "from emulator.host_lock import HostLockedTransactions", []),
        ("services", "from google.cloud import firestore\nimport json", []),
    ],
)
def test_the_check_catches_an_upward_import(layer: str, source: str, bad: list[str]) -> None:
    flagged = [t for _, t in imported_layers(source, layer) if t not in ALLOWED[layer]]
    assert flagged == bad


def test_relative_imports_resolve_to_their_layer() -> None:
    """A relative import stays inside its top-level package (going above it fails at import)."""
    assert imported_layers("from ..window import WEEK", "services.reports") == [(1, "services")]
    assert imported_layers("from . import clock", "core") == [(1, "core")]
