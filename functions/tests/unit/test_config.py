from __future__ import annotations

import pytest

from core.config import load_settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for name in (
        "FUNCTIONS_EMULATOR",
        "REQUIRE_AUTH",
        "GENERATION_FAILURE_RATE",
        "MODEL_A_FAILURE_RATE",
        "MODEL_B_FAILURE_RATE",
        "MODEL_MIN_LATENCY_SECONDS",
        "MODEL_MAX_LATENCY_SECONDS",
    ):
        monkeypatch.delenv(name, raising=False)


def test_defaults_follow_the_spec():
    settings = load_settings()
    assert settings.default_failure_rate == 0.05
    assert settings.failure_rates == {"Model A": 0.05, "Model B": 0.05}
    assert (settings.min_latency_seconds, settings.max_latency_seconds) == (1.0, 5.0)
    assert settings.generation_timeout_seconds == 600


def test_require_auth_defaults_on_in_production_and_off_on_the_emulator(monkeypatch):
    assert load_settings().require_auth is True
    monkeypatch.setenv("FUNCTIONS_EMULATOR", "true")
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
