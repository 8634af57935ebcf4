from __future__ import annotations

import pytest

from core.config import parse_require_auth, running_on_emulator
from core.errors import ConfigurationError
from core.settings import checkout_return_url, load_settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for name in (
        "FUNCTIONS_EMULATOR",
        "FIREBASE_EMULATOR_HUB",
        "K_SERVICE",
        "K_REVISION",
        "K_CONFIGURATION",
        "REQUIRE_AUTH",
        "GENERATION_FAILURE_RATE",
        "MODEL_A_FAILURE_RATE",
        "MODEL_B_FAILURE_RATE",
        "MODEL_MIN_LATENCY_SECONDS",
        "MODEL_MAX_LATENCY_SECONDS",
    ):
        monkeypatch.delenv(name, raising=False)


def test_model_simulation_defaults():
    settings = load_settings()
    assert settings.default_failure_rate == 0.05
    assert settings.failure_rates == {"Model A": 0.05, "Model B": 0.05}
    assert (settings.min_latency_seconds, settings.max_latency_seconds) == (1.0, 5.0)
    assert settings.generation_timeout_seconds == 600


def test_require_auth_defaults_on_in_production_and_off_on_the_emulator(monkeypatch):
    assert load_settings().require_auth is True
    monkeypatch.setenv("FUNCTIONS_EMULATOR", "true")
    monkeypatch.setenv("FIREBASE_EMULATOR_HUB", "127.0.0.1:4400")
    settings = load_settings()
    assert settings.on_emulator is True and settings.require_auth is False
    monkeypatch.setenv("REQUIRE_AUTH", "true")
    assert load_settings().require_auth is True


def test_per_model_failure_rates_override_the_default(monkeypatch):
    monkeypatch.setenv("GENERATION_FAILURE_RATE", "0.1")
    monkeypatch.setenv("MODEL_B_FAILURE_RATE", "1")
    assert load_settings().failure_rates == {"Model A": 0.1, "Model B": 1.0}


def test_invalid_rate_is_rejected(monkeypatch):
    monkeypatch.setenv("GENERATION_FAILURE_RATE", "1.5")
    with pytest.raises(ValueError):
        load_settings()


@pytest.mark.parametrize(
    ("env", "on_emulator"),
    [
        ({}, False),  # production
        ({"K_SERVICE": "fn", "K_REVISION": "fn-00001-abc", "K_CONFIGURATION": "fn"}, False),
        ({"FUNCTIONS_EMULATOR": "false", "FIREBASE_EMULATOR_HUB": "h"}, False),
        # the Functions emulator itself sets K_SERVICE and K_REVISION=1, never K_CONFIGURATION
        (
            {
                "FUNCTIONS_EMULATOR": "true",
                "FIREBASE_EMULATOR_HUB": "127.0.0.1:4400",
                "K_SERVICE": "fn",
                "K_REVISION": "1",
            },
            True,
        ),
        ({"FUNCTIONS_EMULATOR": "TRUE", "FIREBASE_EMULATOR_HUB": "127.0.0.1:4400"}, True),
    ],
)
def test_emulator_mode_needs_the_emulators_environment(env, on_emulator):
    assert running_on_emulator(env) is on_emulator


@pytest.mark.parametrize(
    "env",
    [
        {"FUNCTIONS_EMULATOR": "true"},  # no emulator hub: deployed by accident
        {"FUNCTIONS_EMULATOR": "true", "FIREBASE_EMULATOR_HUB": "h", "K_CONFIGURATION": "fn"},
        {"FUNCTIONS_EMULATOR": "true", "FIREBASE_EMULATOR_HUB": "h", "K_REVISION": "fn-00002-x"},
        {"FUNCTIONS_EMULATOR": "true", "K_SERVICE": "fn", "K_REVISION": "fn-00001-abc"},
    ],
)
def test_emulator_mode_on_cloud_run_refuses_to_serve(env):
    with pytest.raises(ConfigurationError, match="refusing to serve"):
        running_on_emulator(env)


def test_emulator_flag_deployed_to_production_refuses_to_load(monkeypatch):
    monkeypatch.setenv("FUNCTIONS_EMULATOR", "true")
    monkeypatch.setenv("K_SERVICE", "createGenerationRequest")
    monkeypatch.setenv("K_REVISION", "creategenerationrequest-00003-xyz")
    monkeypatch.setenv("K_CONFIGURATION", "creategenerationrequest")
    with pytest.raises(ConfigurationError):
        load_settings()


@pytest.mark.parametrize(
    ("raw", "expected"), [("true", True), ("FALSE", False), (" false ", False)]
)
def test_require_auth_is_parsed_strictly(monkeypatch, raw, expected):
    monkeypatch.setenv("REQUIRE_AUTH", raw)
    assert load_settings().require_auth is expected


@pytest.mark.parametrize("raw", ["yes", "0", "1", "off", "ture", "no"])
def test_require_auth_other_values_refuse_to_serve(monkeypatch, raw):
    monkeypatch.setenv("REQUIRE_AUTH", raw)
    with pytest.raises(ConfigurationError, match="REQUIRE_AUTH"):
        load_settings()
    assert parse_require_auth("", on_emulator=False) is True
    assert parse_require_auth("", on_emulator=True) is False


@pytest.mark.parametrize(
    "env",
    [
        {"K_SERVICE": "createGenerationRequest", "K_REVISION": "creategenerationrequest-00003-x"},
        {"K_SERVICE": "listUsers"},
        {"K_REVISION": "listusers-00001-abc"},
    ],
)
@pytest.mark.parametrize("raw", ["false", "FALSE", " false "])
def test_auth_cannot_be_switched_off_on_cloud_run(monkeypatch, env, raw):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("REQUIRE_AUTH", raw)
    with pytest.raises(ConfigurationError, match=r"REQUIRE_AUTH=false .*refusing to serve"):
        load_settings()
    monkeypatch.setenv("REQUIRE_AUTH", "true")
    assert load_settings().require_auth is True
    monkeypatch.delenv("REQUIRE_AUTH")
    assert load_settings().require_auth is True


def test_auth_may_be_switched_off_on_the_functions_emulator(monkeypatch):
    """The Functions emulator sets K_SERVICE and K_REVISION=1 itself: not Cloud Run."""
    for name, value in {
        "FUNCTIONS_EMULATOR": "true",
        "FIREBASE_EMULATOR_HUB": "127.0.0.1:4400",
        "K_SERVICE": "seed_database",
        "K_REVISION": "1",
        "REQUIRE_AUTH": "false",
    }.items():
        monkeypatch.setenv(name, value)
    settings = load_settings()
    assert (settings.on_emulator, settings.require_auth) == (True, False)


def test_in_flight_cap_and_queued_timeout_defaults():
    settings = load_settings()
    assert settings.max_in_flight_per_user == 10
    assert settings.queued_timeout_seconds == 3600


def test_the_pending_webhook_cap_is_a_param_defaulting_to_20(monkeypatch):
    assert load_settings().max_pending_webhooks_per_user == 20
    monkeypatch.setenv("MAX_PENDING_WEBHOOKS_PER_USER", "3")
    assert load_settings().max_pending_webhooks_per_user == 3


def test_the_model_list_is_declared_once():
    """The request schema, the failure-rate params and the catalog all use config.MODELS."""
    from typing import get_args

    from core.config import MODEL_FAILURE_RATES, MODELS
    from schemas.requests import CreateGenerationRequest

    assert MODELS == ("Model A", "Model B")
    assert get_args(CreateGenerationRequest.model_fields["model"].annotation) == MODELS
    assert tuple(MODEL_FAILURE_RATES) == MODELS
    assert [p.name for p in MODEL_FAILURE_RATES.values()] == [
        "MODEL_A_FAILURE_RATE",
        "MODEL_B_FAILURE_RATE",
    ]
    assert tuple(load_settings().failure_rates) == MODELS


def test_checkout_returns_to_the_console_unless_configured(monkeypatch):
    monkeypatch.setenv("GCLOUD_PROJECT", "feraset-prod")
    assert checkout_return_url("", on_emulator=False) == "https://feraset-prod.web.app/"
    assert checkout_return_url(" ", on_emulator=True) == "http://127.0.0.1:8888/"
    assert checkout_return_url(" https://x.example/buy ", False) == "https://x.example/buy"


def test_stripe_secrets_are_read_at_run_time_and_unset_means_off(monkeypatch):
    monkeypatch.delenv("STRIPE_SECRET_KEY", raising=False)
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", " whsec_abc ")
    settings = load_settings()
    assert (settings.stripe_secret_key, settings.stripe_webhook_secret) == ("", "whsec_abc")
