"""scripts/stack/env_local.py: emulator profiles, overrides from the environment, the admin key."""

from __future__ import annotations

from types import ModuleType

import pytest

from core import config
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


def test_the_emulator_admin_key_is_at_least_32_characters(env_local, tmp_path, monkeypatch):
    monkeypatch.setattr(env_local, "SECRET_LOCAL", tmp_path / ".secret.local")
    line = env_local.admin_key_line({})
    assert len(line.partition("=")[2]) >= 32
    (tmp_path / ".secret.local").write_text("ADMIN_API_KEY=short\n")
    assert len(env_local.admin_key_line({}).partition("=")[2]) >= 32  # replaced
    (tmp_path / ".secret.local").write_text(line + "\n")
    assert env_local.admin_key_line({}) is None  # a long enough key is kept
    assert env_local.admin_key_line({"ADMIN_API_KEY": "k" * 32}) == "ADMIN_API_KEY=" + "k" * 32


def test_the_configuration_doc_lists_every_param(env_local):
    section = (SCRIPTS.parent / "docs" / "configuration.md").read_text()
    missing = [
        name
        for name in env_local.declared_params()
        if f"`{name}`" not in section and not name.startswith("ANOMALY_")
    ]
    assert missing == [], f"docs/configuration.md: add {missing}"
    assert "`ANOMALY_*`" in section
