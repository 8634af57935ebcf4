"""Defaults for hand-built request records in tests: override only what a test is about."""

from __future__ import annotations

REQUEST_DEFAULTS = {
    "status": "completed",
    "model": "Model A",
    "style": "anime",
    "color": "neon",
    "size": "512x512",
}


def request_options(**overrides: str) -> dict[str, str]:
    unknown = overrides.keys() - REQUEST_DEFAULTS.keys()
    if unknown:
        raise TypeError(f"unknown request options: {sorted(unknown)}")
    return REQUEST_DEFAULTS | overrides
