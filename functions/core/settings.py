"""The configuration as the functions read it: a validated snapshot of core/config.py's params,
loaded at run time (never at import)."""

from __future__ import annotations

import os
from typing import Annotated

from firebase_functions import params
from pydantic import ConfigDict, Field

from core.config import (
    ADMIN_API_KEY,
    ADMIN_CORS_ORIGINS,
    ANOMALY_PARAMS,
    CHECKOUT_RETURN_URL,
    EMULATOR_CONSOLE_ORIGINS,
    GENERATION_FAILURE_RATE,
    GENERATION_TIMEOUT_SECONDS,
    IMAGE_BUCKET,
    MAX_CONCURRENT_WAITS_PER_USER,
    MAX_IN_FLIGHT_PER_USER,
    MAX_PENDING_WEBHOOKS_PER_USER,
    MODEL_FAILURE_RATES,
    MODEL_MAX_LATENCY_SECONDS,
    MODEL_MIN_LATENCY_SECONDS,
    QUEUED_TIMEOUT_SECONDS,
    REQUIRE_AUTH,
    RETENTION_DAYS,
    SEED_ENABLED,
    STRIPE_SECRET_KEY,
    STRIPE_WEBHOOK_SECRET,
    WEBHOOK_MAX_ATTEMPTS,
    WEBHOOK_MAX_BACKOFF_SECONDS,
    WELCOME_CREDITS,
    parse_require_auth,
    running_on_emulator,
)
from core.models import Model

# --- Anomaly thresholds of the weekly report (their params: core/config.py, ANOMALY_PARAMS) ---
Ratio = Annotated[float, Field(gt=0)]  # a multiplier over the baseline
Percent = Annotated[float, Field(ge=0, le=100)]
Rate = Annotated[float, Field(ge=0)]  # a percentage with no upper bound
Count = Annotated[int, Field(ge=0)]
MinCount = Annotated[int, Field(ge=1)]


class AnomalyThresholds(Model):
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


def _float(param: params.StringParam, fallback: float | None = None) -> float | None:
    raw = param.value.strip()
    return float(raw) if raw else fallback


class Settings(Model):
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
