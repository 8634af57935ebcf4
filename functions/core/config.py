"""Configuration through firebase_functions params: declared here for the deploy tooling (and
main.py's decorators), read only at run time by core/settings.py's `load_settings()`. Floats are
string params (the SDK has no float param). No pydantic here: importing main stays cheap.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Literal, get_args

from firebase_functions import params

from core.errors import ConfigurationError

# --- Model simulation -------------------------------------------------------------------------
GENERATION_FAILURE_RATE = params.StringParam("GENERATION_FAILURE_RATE", default="0.05")
# The image models on offer (the one list of them), each with its own failure-rate param
# (`MODEL_A_FAILURE_RATE`...; blank means GENERATION_FAILURE_RATE).
ModelName = Literal["Model A", "Model B"]
MODELS: tuple[ModelName, ...] = get_args(ModelName)
MODEL_FAILURE_RATES = {
    model: params.StringParam(f"{model.upper().replace(' ', '_')}_FAILURE_RATE", default="")
    for model in MODELS
}
MODEL_MIN_LATENCY_SECONDS = params.StringParam("MODEL_MIN_LATENCY_SECONDS", default="1")
MODEL_MAX_LATENCY_SECONDS = params.StringParam("MODEL_MAX_LATENCY_SECONDS", default="5")
GENERATION_TIMEOUT_SECONDS = params.IntParam("GENERATION_TIMEOUT_SECONDS", default=600)
# Where the queue cannot be asked whether a request's task still exists (the Cloud Tasks
# emulator has no get-task API), a `queued` request counts as stuck only after this long.
QUEUED_TIMEOUT_SECONDS = params.IntParam("QUEUED_TIMEOUT_SECONDS", default=3600)
# Fair use: requests `queued` or `processing` at once per user; one more answers 429.
MAX_IN_FLIGHT_PER_USER = params.IntParam("MAX_IN_FLIGHT_PER_USER", default=10)
# `Prefer: wait` calls (create and status) waiting at once per user; more answer without waiting.
MAX_CONCURRENT_WAITS_PER_USER = params.IntParam("MAX_CONCURRENT_WAITS_PER_USER", default=4)
# Webhook events not yet delivered, stopped or given up per user (requests in flight with a
# webhookUrl included); one more create with a webhookUrl answers 429.
MAX_PENDING_WEBHOOKS_PER_USER = params.IntParam("MAX_PENDING_WEBHOOKS_PER_USER", default=20)

# Cloud Storage bucket of the generated images; empty means the project's `<project>.appspot.com`.
IMAGE_BUCKET = params.StringParam("IMAGE_BUCKET", default="")

# --- Worker task queue (read by the deploy tooling / emulator from the decorator) -------------
TASK_MAX_ATTEMPTS = params.IntParam("TASK_MAX_ATTEMPTS", default=5)
TASK_MIN_BACKOFF_SECONDS = params.IntParam("TASK_MIN_BACKOFF_SECONDS", default=10)
TASK_MAX_BACKOFF_SECONDS = params.IntParam("TASK_MAX_BACKOFF_SECONDS", default=300)
TASK_MAX_CONCURRENT_DISPATCHES = params.IntParam("TASK_MAX_CONCURRENT_DISPATCHES", default=10)
TASK_MAX_DISPATCHES_PER_SECOND = params.IntParam("TASK_MAX_DISPATCHES_PER_SECOND", default=2)

# --- Webhook delivery task queue (deliverWebhook) -----------------------------------------------
# Attempts per event (the last one without a 2xx fails it) and the exponential backoff between
# them; the backoff cap also bounds when the sweeper re-schedules a delivery.
WEBHOOK_MAX_ATTEMPTS = params.IntParam("WEBHOOK_MAX_ATTEMPTS", default=10)
WEBHOOK_MIN_BACKOFF_SECONDS = params.IntParam("WEBHOOK_MIN_BACKOFF_SECONDS", default=30)
WEBHOOK_MAX_BACKOFF_SECONDS = params.IntParam("WEBHOOK_MAX_BACKOFF_SECONDS", default=10800)

# --- Security ---------------------------------------------------------------------------------
ADMIN_API_KEY = params.SecretParam("ADMIN_API_KEY")
REQUIRE_AUTH = params.StringParam("REQUIRE_AUTH", default="")
# Origins (comma-separated) whose pages may call the admin functions from a browser; empty in
# production (the console calls them same-origin through Hosting's /api rewrites).
ADMIN_CORS_ORIGINS = params.StringParam("ADMIN_CORS_ORIGINS", default="")
# On the emulator the console is served by the Hosting emulator.
EMULATOR_CONSOLE_ORIGINS = ("http://127.0.0.1:8888", "http://localhost:8888")
# seed_database may run at all (false in production: seeding is for the emulator and demos).
SEED_ENABLED = params.BoolParam("SEED_ENABLED", default=False)

# --- Payments (Stripe Checkout) ---------------------------------------------------------------
# Stripe's secret API key (`sk_...` or a restricted `rk_...`) and the webhook endpoint's signing
# secret (`whsec_...`). Unset, empty or anything else: payments are off (503
# payments_not_configured), so a deployment without Stripe can hold a placeholder.
STRIPE_SECRET_KEY = params.SecretParam("STRIPE_SECRET_KEY")
STRIPE_WEBHOOK_SECRET = params.SecretParam("STRIPE_WEBHOOK_SECRET")
# Where Checkout sends the buyer back (`?checkout=success|cancelled` appended); empty means the
# console: the Hosting emulator locally, `https://<project>.web.app/` deployed.
CHECKOUT_RETURN_URL = params.StringParam("CHECKOUT_RETURN_URL", default="")

# --- Accounts ---------------------------------------------------------------------------------
# Credits a new account (made by createAccount) receives once its e-mail is verified; 0: none.
WELCOME_CREDITS = params.IntParam("WELCOME_CREDITS", default=10)

# --- Retention --------------------------------------------------------------------------------
# Days a generated picture is kept after its request completed: status answers `imageExpiresAt`
# and no `imageUrl` after it; the bucket's lifecycle rule (storage.lifecycle.json) deletes it.
RETENTION_DAYS = params.IntParam("RETENTION_DAYS", default=30)


# --- Anomaly thresholds of the weekly report -------------------------------------------------
# Each threshold of core/settings.py's AnomalyThresholds (its defaults are these) is also the
# param `ANOMALY_<NAME>`; a blank value means the default. Whole-number thresholds are int
# params, the others strings (the SDK has no float param).
ANOMALY_DEFAULTS: dict[str, int | float] = {
    "request_spike_ratio": 2.5,
    "credit_spike_ratio": 3.0,
    "high_spike_ratio": 5.0,
    "failure_rate_percent": 15.0,
    "failure_spike_ratio": 2.0,
    "refund_rate_percent": 30.0,
    "refund_spike_ratio": 2.0,
    "user_weekly_requests": 10,
    "user_spike_ratio": 2.0,
    "user_daily_credits": 50,
    "new_users_per_day": 5,
    "active_users_increase": 5,
    "model_failure_rate_percent": 15.0,
    "model_spike_ratio": 2.0,
    "model_disparity_ratio": 5.0,
    "model_min_requests": 5,
    "model_underperforming_ratio": 1.5,
    "perfect_min_requests": 20,
}
ANOMALY_PARAMS: dict[str, params.IntParam | params.StringParam] = {
    name: params.IntParam(f"ANOMALY_{name.upper()}", default=default)
    if isinstance(default, int)
    else params.StringParam(f"ANOMALY_{name.upper()}", default=str(default))
    for name, default in ANOMALY_DEFAULTS.items()
}


def running_on_emulator(environ: Mapping[str, str] = os.environ) -> bool:
    """Emulator mode needs the emulator's environment (FIREBASE_EMULATOR_HUB, K_REVISION=1) and
    none of Cloud Run's (K_CONFIGURATION, a real revision), so FUNCTIONS_EMULATOR=true deployed by
    accident refuses to serve instead of turning auth off and opening the admin functions."""
    if environ.get("FUNCTIONS_EMULATOR", "").strip().lower() != "true":
        return False
    on_cloud_run = "K_CONFIGURATION" in environ or environ.get("K_REVISION", "1") != "1"
    if on_cloud_run or not environ.get("FIREBASE_EMULATOR_HUB"):
        raise ConfigurationError(
            "FUNCTIONS_EMULATOR=true outside the Firebase Emulator Suite: refusing to serve "
            "(remove FUNCTIONS_EMULATOR from the deployed environment)"
        )
    return True


def parse_require_auth(
    raw: str, on_emulator: bool, environ: Mapping[str, str] = os.environ
) -> bool:
    """`true` or `false` (any case); empty means the default: required except on the emulator.
    `false` on Cloud Run (K_SERVICE or K_REVISION, outside the emulator) refuses to serve."""
    value = raw.strip().lower()
    if value == "":
        return not on_emulator
    if value not in ("true", "false"):
        raise ConfigurationError(
            f"REQUIRE_AUTH must be 'true' or 'false' (or empty for the default), got {raw!r}: "
            "refusing to serve"
        )
    if value == "false" and not on_emulator and ("K_SERVICE" in environ or "K_REVISION" in environ):
        raise ConfigurationError(
            "REQUIRE_AUTH=false outside the Firebase Emulator Suite: refusing to serve "
            "(auth can be switched off on the emulator only)"
        )
    return value == "true"
