"""Write functions/.env.local (the Functions emulator's param values) for one profile.

The emulator gives .env.local precedence over the process environment and appends every
param it resolved from a default to it, so the file is generated per run instead of tracked:
`dev` for `make dev`, `test` for the integration tests, `bench` for the benchmarks, `load`
for the load test.

Any declared param (see functions/core/config.py) set in this process's environment overrides
the profile, e.g. `SEED_ENABLED=false REQUIRE_AUTH=true make dev`; the secrets (ADMIN_API_KEY,
STRIPE_WEBHOOK_SECRET, STRIPE_SECRET_KEY) go to functions/.secret.local instead, which keeps
its values across runs and gets fresh ones where they are missing.
"""

from __future__ import annotations

import base64
import os
import secrets
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

FUNCTIONS = Path(__file__).resolve().parents[2] / "functions"
sys.path.insert(0, str(FUNCTIONS))
from core import config  # noqa: E402  (the declared params: one list, in one place)
from emulator.storage import DEFAULT_HOST as STORAGE_HOST  # noqa: E402
from firebase_functions import params  # noqa: E402

ENV_LOCAL = FUNCTIONS / ".env.local"
# The emulator resolves declared secrets from this file (else it asks Secret Manager, offline).
SECRET_LOCAL = FUNCTIONS / ".secret.local"
# Admin functions take a key at least this long (on the emulator when auth is required).
MIN_ADMIN_KEY_LENGTH = 32
# Every secret the functions declare gets a value in .secret.local: one that is missing there
# makes the emulator ask Secret Manager, over the network.
LOCAL_SECRETS = ("ADMIN_API_KEY", "STRIPE_WEBHOOK_SECRET", "STRIPE_SECRET_KEY")
# Not a Stripe key (core/payments.py: is_secret_key), so payments stay off locally.
STRIPE_KEY_PLACEHOLDER = "not-configured"

# Every emulator profile: seeding is allowed (it is off in production by default), and Cloud
# Storage is the in-memory emulator that emulators.py starts.
EMULATOR_DEFAULTS: dict[str, str] = {
    "SEED_ENABLED": "true",
    "STORAGE_EMULATOR_HOST": STORAGE_HOST,
}

PROFILES: dict[str, dict[str, str]] = {
    # Realistic emulator behaviour: 1-5 s model latency, 5 % failures.
    "dev": {
        "GENERATION_FAILURE_RATE": "0.05",
        "MODEL_MIN_LATENCY_SECONDS": "1",
        "MODEL_MAX_LATENCY_SECONDS": "5",
        # A failed webhook is retried after 5 s, then 10, 20, 40, 60 s (not over hours).
        "WEBHOOK_MAX_ATTEMPTS": "6",
        "WEBHOOK_MIN_BACKOFF_SECONDS": "5",
        "WEBHOOK_MAX_BACKOFF_SECONDS": "60",
    },
    # Deterministic end-to-end tests: Model A always succeeds, Model B always fails, no latency.
    "test": {
        "GENERATION_FAILURE_RATE": "0",
        "MODEL_A_FAILURE_RATE": "0",
        "MODEL_B_FAILURE_RATE": "1",
        "MODEL_MIN_LATENCY_SECONDS": "0",
        "MODEL_MAX_LATENCY_SECONDS": "0",
        "TASK_MIN_BACKOFF_SECONDS": "1",
        "TASK_MAX_BACKOFF_SECONDS": "2",
        "TASK_MAX_DISPATCHES_PER_SECOND": "500",
        "TASK_MAX_CONCURRENT_DISPATCHES": "50",
        # Webhook retries within seconds: 1 s, then 2 s; four attempts.
        "WEBHOOK_MAX_ATTEMPTS": "4",
        "WEBHOOK_MIN_BACKOFF_SECONDS": "1",
        "WEBHOOK_MAX_BACKOFF_SECONDS": "2",
    },
    # Our own overhead: no model latency, default failure rate, no dispatch rate limit; each
    # bench client submits its whole share before any finishes, so the fair-use cap is lifted.
    # The queue keeps production's 10 dispatches in flight: the Functions emulator starts a
    # Python process per concurrent call, so 50 in flight on two cores measures process
    # start-up, not the worker (docs/performance.md, "make bench").
    "bench": {
        "MAX_IN_FLIGHT_PER_USER": "1000",
        "GENERATION_FAILURE_RATE": "0.05",
        "MODEL_MIN_LATENCY_SECONDS": "0",
        "MODEL_MAX_LATENCY_SECONDS": "0",
        "TASK_MAX_DISPATCHES_PER_SECOND": "500",
    },
    # scripts/perf/load.py: no model latency, 20 % model failures (refunds), no dispatch rate limit;
    # production's 10 dispatches in flight, as in "bench".
    "load": {
        "MAX_IN_FLIGHT_PER_USER": "1000",
        "GENERATION_FAILURE_RATE": "0.2",
        "MODEL_MIN_LATENCY_SECONDS": "0",
        "MODEL_MAX_LATENCY_SECONDS": "0",
        "TASK_MAX_DISPATCHES_PER_SECOND": "500",
    },
}


Declared = params.Param[Any] | params.SecretParam


def declared_params() -> dict[str, Declared]:
    """Name -> declaration of every param core.config declares (secrets included)."""
    return {
        value.name: value
        for value in vars(config).values()
        if isinstance(value, params.Param | params.SecretParam)
    }


def check_value(param: Declared, raw: str) -> str:
    """The environment's value for `param`, or exit with a clear message when it cannot parse."""
    if isinstance(param, params.BoolParam) and raw.strip().lower() not in ("true", "false"):
        sys.exit(f"env_local: {param.name} must be true or false, got {raw!r}")
    if isinstance(param, params.IntParam):
        try:
            int(raw)
        except ValueError:
            sys.exit(f"env_local: {param.name} must be an integer, got {raw!r}")
    return raw


def profile_values(profile: str, environ: Mapping[str, str]) -> dict[str, str]:
    """The profile's values, overridden by any declared (non-secret) param in `environ`."""
    values = EMULATOR_DEFAULTS | PROFILES[profile]
    for name, param in declared_params().items():
        if name in environ and not isinstance(param, params.SecretParam):
            values[name] = check_value(param, environ[name])
    return values


def read_secrets() -> dict[str, str]:
    """functions/.secret.local as name -> value (empty when there is none)."""
    if not SECRET_LOCAL.exists():
        return {}
    lines = SECRET_LOCAL.read_text().splitlines()
    pairs = (line.partition("=") for line in lines if "=" in line and not line.startswith("#"))
    return {name.strip(): value.strip() for name, _, value in pairs}


def _kept(name: str, value: str) -> bool:
    """Whether an existing .secret.local value is good enough to keep."""
    if name == "ADMIN_API_KEY":
        return len(value) >= MIN_ADMIN_KEY_LENGTH
    if name == "STRIPE_WEBHOOK_SECRET":
        return value.startswith("whsec_") and len(value) > len("whsec_")
    return value != ""


def _fresh(name: str) -> str:
    if name == "ADMIN_API_KEY":
        # The admin credential of the local stack when auth is required (REQUIRE_AUTH=true).
        return f"emulator-only-{secrets.token_hex(16)}"
    if name == "STRIPE_WEBHOOK_SECRET":
        # What scripts/stripe_event.py and the tests sign Stripe events with.
        return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
    # STRIPE_SECRET_KEY: no Stripe key (createCheckoutSession answers 503), yet a value, so
    # that the emulator does not ask Secret Manager (the network) for one.
    return STRIPE_KEY_PLACEHOLDER


def secret_values(environ: Mapping[str, str]) -> dict[str, str]:
    """Every secret the functions declare, for .secret.local: the environment's value when set,
    else the file's when good enough to keep, else a fresh one."""
    current = read_secrets()
    values = {}
    for name in LOCAL_SECRETS:
        if environ.get(name):
            values[name] = environ[name]
        elif _kept(name, current.get(name, "")):
            values[name] = current[name]
        else:
            values[name] = _fresh(name)
    return values


def admin_key() -> str:
    """The admin key the Functions emulator serves with (written by `write`)."""
    return read_secrets().get("ADMIN_API_KEY", "")


def write_secrets(environ: Mapping[str, str]) -> None:
    """Write functions/.secret.local when a value differs from what it holds."""
    values = secret_values(environ)
    if values != read_secrets():
        SECRET_LOCAL.write_text("".join(f"{name}={value}\n" for name, value in values.items()))


def write(profile: str, environ: Mapping[str, str]) -> None:
    """Write functions/.env.local (and .secret.local when needed) for `profile`."""
    if profile not in PROFILES:
        sys.exit(f"unknown profile {profile!r}; choose one of {', '.join(PROFILES)}")
    values = profile_values(profile, environ)
    lines = [f"# Generated by scripts/stack/env_local.py ({profile}); do not edit, do not commit."]
    lines += [f"{name}={value}" for name, value in values.items()]
    ENV_LOCAL.write_text("\n".join(lines) + "\n")
    write_secrets(environ)
    overridden = sorted(n for n in values if n in environ)
    if overridden:
        print(f"env_local: from the environment: {', '.join(overridden)}", file=sys.stderr)


if __name__ == "__main__":
    write(sys.argv[1] if len(sys.argv) > 1 else "dev", os.environ)
