"""scripts/stack/env_local.py: emulator profiles, overrides from the environment, the admin key."""

from __future__ import annotations

import re
from types import ModuleType

import pytest
from firebase_functions.params import SecretParam

from core import config
from core.payments import is_secret_key
from tests.support.scripts import SCRIPTS, load_script


@pytest.fixture(scope="module")
def env_local() -> ModuleType:
    return load_script("stack/env_local")


def test_the_declared_params_are_core_configs(env_local):
    names = set(env_local.declared_params())
    assert {"SEED_ENABLED", "REQUIRE_AUTH", "GENERATION_FAILURE_RATE", "ADMIN_API_KEY"} <= names
    assert config.SEED_ENABLED.name in names


@pytest.mark.parametrize("profile", ["dev", "test", "bench", "load"])
def test_seeding_is_enabled_in_every_emulator_profile(env_local, profile):
    assert env_local.profile_values(profile, {})["SEED_ENABLED"] == "true"


@pytest.mark.parametrize("profile", ["dev", "test", "bench", "load"])
def test_every_emulator_profile_points_the_functions_at_the_storage_emulator(env_local, profile):
    values = env_local.profile_values(profile, {})
    assert values["STORAGE_EMULATOR_HOST"] == "http://127.0.0.1:9199"


def test_declared_params_in_the_environment_override_the_profile(env_local):
    values = env_local.profile_values(
        "dev",
        {
            "SEED_ENABLED": "false",
            "REQUIRE_AUTH": "true",
            "MODEL_MAX_LATENCY_SECONDS": "2",
            "PATH": "/usr/bin",  # not a param: never copied
            "ADMIN_API_KEY": "x" * 40,  # a secret: goes to .secret.local, not .env.local
        },
    )
    assert values["SEED_ENABLED"] == "false"
    assert values["REQUIRE_AUTH"] == "true"
    assert values["MODEL_MAX_LATENCY_SECONDS"] == "2"
    assert "PATH" not in values and "ADMIN_API_KEY" not in values


@pytest.mark.parametrize(
    ("name", "raw"), [("SEED_ENABLED", "yes"), ("GENERATION_TIMEOUT_SECONDS", "ten")]
)
def test_unparseable_overrides_stop_with_a_clear_message(env_local, name, raw):
    with pytest.raises(SystemExit) as stopped:
        env_local.profile_values("dev", {name: raw})
    assert name in str(stopped.value)


@pytest.fixture
def secret_local(env_local, tmp_path, monkeypatch):
    path = tmp_path / ".secret.local"
    monkeypatch.setattr(env_local, "SECRET_LOCAL", path)
    return path


def test_the_emulator_admin_key_is_at_least_32_characters(env_local, secret_local):
    key = env_local.secret_values({})["ADMIN_API_KEY"]
    assert len(key) >= 32
    secret_local.write_text("ADMIN_API_KEY=short\n")
    assert len(env_local.secret_values({})["ADMIN_API_KEY"]) >= 32  # replaced
    secret_local.write_text(f"ADMIN_API_KEY={key}\n")
    assert env_local.secret_values({})["ADMIN_API_KEY"] == key  # a long enough key is kept
    assert env_local.secret_values({"ADMIN_API_KEY": "k" * 32})["ADMIN_API_KEY"] == "k" * 32


def test_every_declared_secret_gets_a_local_value(env_local, secret_local):
    """A declared secret missing from .secret.local makes the emulator ask Secret Manager."""
    declared = {
        name for name, p in env_local.declared_params().items() if isinstance(p, SecretParam)
    }
    assert set(env_local.LOCAL_SECRETS) == declared
    env_local.write_secrets({})
    values = env_local.read_secrets()
    assert set(values) == declared and all(values.values())


@pytest.mark.parametrize("profile", ["dev", "test"])
def test_a_stripe_webhook_secret_is_written_once_and_kept(
    env_local, secret_local, profile, monkeypatch
):
    monkeypatch.setattr(env_local, "ENV_LOCAL", secret_local.parent / ".env.local")
    env_local.write(profile, {})
    first = env_local.read_secrets()["STRIPE_WEBHOOK_SECRET"]
    assert re.fullmatch(r"whsec_[A-Za-z0-9+/]{32}", first)
    env_local.write(profile, {})
    assert env_local.read_secrets()["STRIPE_WEBHOOK_SECRET"] == first
    assert env_local.admin_key() == env_local.read_secrets()["ADMIN_API_KEY"]


def test_the_environment_s_stripe_secrets_win(env_local, secret_local):
    secret_local.write_text("STRIPE_WEBHOOK_SECRET=whsec_kept\nSTRIPE_SECRET_KEY=sk_test_kept\n")
    assert env_local.secret_values({})["STRIPE_WEBHOOK_SECRET"] == "whsec_kept"
    assert env_local.secret_values({})["STRIPE_SECRET_KEY"] == "sk_test_kept"
    chosen = env_local.secret_values(
        {"STRIPE_WEBHOOK_SECRET": "whsec_mine", "STRIPE_SECRET_KEY": "sk_test_mine"}
    )
    assert (chosen["STRIPE_WEBHOOK_SECRET"], chosen["STRIPE_SECRET_KEY"]) == (
        "whsec_mine",
        "sk_test_mine",
    )


def test_without_a_stripe_key_payments_stay_off_locally(env_local, secret_local):
    secret_local.write_text("STRIPE_WEBHOOK_SECRET=not-a-whsec\n")
    values = env_local.secret_values({})
    assert values["STRIPE_WEBHOOK_SECRET"].startswith("whsec_")  # replaced
    assert values["STRIPE_SECRET_KEY"] == env_local.STRIPE_KEY_PLACEHOLDER
    assert not is_secret_key(values["STRIPE_SECRET_KEY"])


def test_the_configuration_doc_lists_every_param(env_local):
    section = (SCRIPTS.parent / "docs" / "configuration.md").read_text()
    missing = [
        name
        for name in env_local.declared_params()
        if f"`{name}`" not in section and not name.startswith("ANOMALY_")
    ]
    assert missing == [], f"docs/configuration.md: add {missing}"
    assert "`ANOMALY_*`" in section
