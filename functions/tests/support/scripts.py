"""Import one of the repository's scripts/ (they are not a package) as a module for a test."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

SCRIPTS = Path(__file__).resolve().parents[3] / "scripts"


def load_script(path: str) -> ModuleType:
    """`path` is relative to scripts/ and without `.py`, e.g. "stack/env_local"."""
    name = Path(path).name
    spec = importlib.util.spec_from_file_location(name, SCRIPTS / f"{path}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
