"""Configuration through firebase_functions params.

Params are *declared* here (the deploy tooling reads the declarations) and *read* only at run
time, through `load_settings()`. Floats are declared as string params because the SDK exposes no
public float param; pydantic validates them when settings are loaded.
"""

from __future__ import annotations

import os
from typing import Annotated

from firebase_functions import params
from pydantic import BaseModel, ConfigDict, Field

# --- Model simulation -------------------------------------------------------------------------
GENERATION_FAILURE_RATE = params.StringParam("GENERATION_FAILURE_RATE", default="0.05")
MODEL_A_FAILURE_RATE = params.StringParam("MODEL_A_FAILURE_RATE", default="")
MODEL_B_FAILURE_RATE = params.StringParam("MODEL_B_FAILURE_RATE", default="")
MODEL_MIN_LATENCY_SECONDS = params.StringParam("MODEL_MIN_LATENCY_SECONDS", default="1")
MODEL_MAX_LATENCY_SECONDS = params.StringParam("MODEL_MAX_LATENCY_SECONDS", default="5")
GENERATION_TIMEOUT_SECONDS = params.IntParam("GENERATION_TIMEOUT_SECONDS", default=600)

# --- Worker task queue (read by the deploy tooling / emulator from the decorator) -------------
TASK_MAX_ATTEMPTS = params.IntParam("TASK_MAX_ATTEMPTS", default=5)
TASK_MIN_BACKOFF_SECONDS = params.IntParam("TASK_MIN_BACKOFF_SECONDS", default=10)
TASK_MAX_BACKOFF_SECONDS = params.IntParam("TASK_MAX_BACKOFF_SECONDS", default=300)
TASK_MAX_CONCURRENT_DISPATCHES = params.IntParam("TASK_MAX_CONCURRENT_DISPATCHES", default=10)
TASK_MAX_DISPATCHES_PER_SECOND = params.IntParam("TASK_MAX_DISPATCHES_PER_SECOND", default=2)

# --- Security ---------------------------------------------------------------------------------
ADMIN_API_KEY = params.SecretParam("ADMIN_API_KEY")
REQUIRE_AUTH = params.StringParam("REQUIRE_AUTH", default="")

# --- Anomaly thresholds (SPEC section 7) ------------------------------------------------------
ANOMALY_REQUEST_SPIKE_RATIO = params.StringParam("ANOMALY_REQUEST_SPIKE_RATIO", default="2.5")
ANOMALY_CREDIT_SPIKE_RATIO = params.StringParam("ANOMALY_CREDIT_SPIKE_RATIO", default="3.0")
ANOMALY_HIGH_SPIKE_RATIO = params.StringParam("ANOMALY_HIGH_SPIKE_RATIO", default="5.0")
ANOMALY_FAILURE_RATE_PERCENT = params.StringParam("ANOMALY_FAILURE_RATE_PERCENT", default="15")
ANOMALY_REFUND_RATE_PERCENT = params.StringParam("ANOMALY_REFUND_RATE_PERCENT", default="30")
ANOMALY_USER_DAILY_CREDITS = params.IntParam("ANOMALY_USER_DAILY_CREDITS", default=50)
ANOMALY_USER_WEEKLY_REQUESTS = params.IntParam("ANOMALY_USER_WEEKLY_REQUESTS", default=10)
ANOMALY_NEW_USERS_PER_DAY = params.IntParam("ANOMALY_NEW_USERS_PER_DAY", default=5)
ANOMALY_FAILURE_SPIKE_RATIO = params.StringParam("ANOMALY_FAILURE_SPIKE_RATIO", default="2.0")
ANOMALY_REFUND_SPIKE_RATIO = params.StringParam("ANOMALY_REFUND_SPIKE_RATIO", default="2.0")
ANOMALY_USER_SPIKE_RATIO = params.StringParam("ANOMALY_USER_SPIKE_RATIO", default="2.0")
ANOMALY_ACTIVE_USERS_INCREASE = params.IntParam("ANOMALY_ACTIVE_USERS_INCREASE", default=5)
ANOMALY_MODEL_FAILURE_RATE_PERCENT = params.StringParam(
    "ANOMALY_MODEL_FAILURE_RATE_PERCENT", default="15"
)
ANOMALY_MODEL_SPIKE_RATIO = params.StringParam("ANOMALY_MODEL_SPIKE_RATIO", default="2.0")
ANOMALY_MODEL_DISPARITY_RATIO = params.StringParam("ANOMALY_MODEL_DISPARITY_RATIO", default="5.0")
ANOMALY_MODEL_MIN_REQUESTS = params.IntParam("ANOMALY_MODEL_MIN_REQUESTS", default=5)
ANOMALY_MODEL_UNDERPERFORMING_RATIO = params.StringParam(
    "ANOMALY_MODEL_UNDERPERFORMING_RATIO", default="1.5"
)
ANOMALY_PERFECT_MIN_REQUESTS = params.IntParam("ANOMALY_PERFECT_MIN_REQUESTS", default=20)


def running_on_emulator() -> bool:
    return os.environ.get("FUNCTIONS_EMULATOR", "").lower() == "true"


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
    require_auth: bool = False
    on_emulator: bool = False
    admin_api_key: str = ""


def load_settings() -> Settings:
    default_rate = _float(GENERATION_FAILURE_RATE) or 0.0
    rates = {
        "Model A": _float(MODEL_A_FAILURE_RATE, default_rate),
        "Model B": _float(MODEL_B_FAILURE_RATE, default_rate),
    }
    on_emulator = running_on_emulator()
    require_auth_raw = REQUIRE_AUTH.value.strip().lower()
    require_auth = (require_auth_raw == "true") if require_auth_raw else not on_emulator
    return Settings(
        failure_rates={k: v for k, v in rates.items() if v is not None},
        default_failure_rate=default_rate,
        min_latency_seconds=_float(MODEL_MIN_LATENCY_SECONDS) or 0.0,
        max_latency_seconds=_float(MODEL_MAX_LATENCY_SECONDS) or 0.0,
        generation_timeout_seconds=GENERATION_TIMEOUT_SECONDS.value,
        require_auth=require_auth,
        on_emulator=on_emulator,
        admin_api_key=ADMIN_API_KEY.value,
    )
