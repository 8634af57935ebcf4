"""Configuration through firebase_functions params: declared here for the deploy tooling, read
only at run time by `load_settings()`. Floats are string params (the SDK has no float param).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Annotated, Literal, get_args

from firebase_functions import params
from pydantic import BaseModel, ConfigDict, Field

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
Ratio = Annotated[float, Field(gt=0)]  # a multiplier over the baseline
Percent = Annotated[float, Field(ge=0, le=100)]
Rate = Annotated[float, Field(ge=0)]  # a percentage with no upper bound
Count = Annotated[int, Field(ge=0)]
MinCount = Annotated[int, Field(ge=1)]


class AnomalyThresholds(BaseModel):
    """Rule thresholds; percentages are 0-100, ratios are multipliers. Each field is also the
    param `ANOMALY_<FIELD>` (see ANOMALY_PARAMS); a blank value means the default."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    request_spike_ratio: Ratio = 2.5
    credit_spike_ratio: Ratio = 3.0
    high_spike_ratio: Ratio = 5.0
    failure_rate_percent: Percent = 15.0
    failure_spike_ratio: Ratio = 2.0
    refund_rate_percent: Rate = 30.0
    refund_spike_ratio: Ratio = 2.0
    user_weekly_requests: Count = 10
    user_spike_ratio: Ratio = 2.0
    user_daily_credits: Count = 50
    new_users_per_day: Count = 5
    active_users_increase: Count = 5
    model_failure_rate_percent: Percent = 15.0
    model_spike_ratio: Ratio = 2.0
    model_disparity_ratio: Ratio = 5.0
    model_min_requests: MinCount = 5
    model_underperforming_ratio: Ratio = 1.5
    perfect_min_requests: Count = 20


# Declared from the model above: whole-number thresholds as int params, the others as strings.
ANOMALY_PARAMS: dict[str, params.IntParam | params.StringParam] = {
    name: params.IntParam(f"ANOMALY_{name.upper()}", default=field.default)
    if field.annotation is int
    else params.StringParam(f"ANOMALY_{name.upper()}", default=str(field.default))
    for name, field in AnomalyThresholds.model_fields.items()
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


def _float(param: params.StringParam, fallback: float | None = None) -> float | None:
    raw = param.value.strip()
    return float(raw) if raw else fallback


class Settings(BaseModel):
    """A validated snapshot of the configuration, read at run time."""

    model_config = ConfigDict(frozen=True)

    failure_rates: dict[str, Annotated[float, Field(ge=0, le=1)]] = Field(default_factory=dict)
    default_failure_rate: float = Field(0.05, ge=0, le=1)
    min_latency_seconds: float = Field(0.0, ge=0)
    max_latency_seconds: float = Field(0.0, ge=0)
    generation_timeout_seconds: int = Field(600, gt=0)
    queued_timeout_seconds: int = Field(3600, gt=0)
    max_in_flight_per_user: int = Field(10, ge=1)
    max_concurrent_waits_per_user: int = Field(4, ge=1)
    max_pending_webhooks_per_user: int = Field(20, ge=1)
    require_auth: bool = False
    on_emulator: bool = False
    admin_api_key: str = ""
    seed_enabled: bool = False
    image_bucket: str = ""
    admin_cors_origins: tuple[str, ...] = ()
    anomaly_thresholds: AnomalyThresholds = Field(default_factory=AnomalyThresholds)
    webhook_max_attempts: int = Field(10, ge=1)
    webhook_max_backoff_seconds: int = Field(10800, ge=0)
    stripe_secret_key: str = ""
    stripe_webhook_secret: str = ""
    checkout_return_url: str = "http://127.0.0.1:8888/"
    welcome_credits: int = Field(10, ge=0)
    retention_days: int = Field(30, ge=1)


def _origins(raw: str) -> tuple[str, ...]:
    return tuple(origin.strip() for origin in raw.split(",") if origin.strip())


def anomaly_thresholds() -> AnomalyThresholds:
    return AnomalyThresholds.model_validate(
        {name: raw for name, p in ANOMALY_PARAMS.items() if str(raw := p.value).strip()}
    )


def load_settings() -> Settings:
    default_rate = _float(GENERATION_FAILURE_RATE) or 0.0
    rates = {model: _float(param, default_rate) for model, param in MODEL_FAILURE_RATES.items()}
    on_emulator = running_on_emulator()
    require_auth = parse_require_auth(REQUIRE_AUTH.value, on_emulator)
    return Settings(
        failure_rates={k: v for k, v in rates.items() if v is not None},
        default_failure_rate=default_rate,
        min_latency_seconds=_float(MODEL_MIN_LATENCY_SECONDS) or 0.0,
        max_latency_seconds=_float(MODEL_MAX_LATENCY_SECONDS) or 0.0,
        generation_timeout_seconds=GENERATION_TIMEOUT_SECONDS.value,
        queued_timeout_seconds=QUEUED_TIMEOUT_SECONDS.value,
        max_in_flight_per_user=MAX_IN_FLIGHT_PER_USER.value,
        max_concurrent_waits_per_user=MAX_CONCURRENT_WAITS_PER_USER.value,
        max_pending_webhooks_per_user=MAX_PENDING_WEBHOOKS_PER_USER.value,
        require_auth=require_auth,
        on_emulator=on_emulator,
        admin_api_key=ADMIN_API_KEY.value,
        seed_enabled=SEED_ENABLED.value,
        image_bucket=IMAGE_BUCKET.value.strip(),
        admin_cors_origins=tuple(
            o.strip() for o in ADMIN_CORS_ORIGINS.value.split(",") if o.strip()
        )
        or (EMULATOR_CONSOLE_ORIGINS if on_emulator else ()),
        anomaly_thresholds=anomaly_thresholds(),
        webhook_max_attempts=WEBHOOK_MAX_ATTEMPTS.value,
        webhook_max_backoff_seconds=WEBHOOK_MAX_BACKOFF_SECONDS.value,
        stripe_secret_key=STRIPE_SECRET_KEY.value.strip(),
        stripe_webhook_secret=STRIPE_WEBHOOK_SECRET.value.strip(),
        checkout_return_url=checkout_return_url(CHECKOUT_RETURN_URL.value, on_emulator),
        welcome_credits=WELCOME_CREDITS.value,
        retention_days=RETENTION_DAYS.value,
    )


def checkout_return_url(raw: str, on_emulator: bool) -> str:
    """The param, or the console's address: the Hosting emulator, or the project's web.app."""
    if raw.strip():
        return raw.strip()
    if on_emulator:
        return f"{EMULATOR_CONSOLE_ORIGINS[0]}/"
    project = os.environ.get("GCLOUD_PROJECT") or os.environ.get("GOOGLE_CLOUD_PROJECT", "")
    return f"https://{project}.web.app/"
