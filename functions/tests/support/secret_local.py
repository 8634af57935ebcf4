"""The secrets the Functions emulator serves with: functions/.secret.local, written by
scripts/stack/env_local.py (one NAME=value a line)."""

from __future__ import annotations

from pathlib import Path

SECRET_LOCAL = Path(__file__).resolve().parents[2] / ".secret.local"


def local_secret(name: str) -> str:
    """The value of `name` in functions/.secret.local ("" when absent)."""
    if not SECRET_LOCAL.exists():
        return ""
    for line in SECRET_LOCAL.read_text().splitlines():
        key, _, value = line.partition("=")
        if key.strip() == name:
            return value.strip()
    return ""
