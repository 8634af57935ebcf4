from __future__ import annotations

import random
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlparse

import pytest

from schemas.documents import GenerationRecord, GenerationStatus
from services.model_simulator import FAILURE_MESSAGES, ModelSimulator, model_slug

NOW = datetime(2025, 8, 4, 13, 14, 26, tzinfo=UTC)


def record(model: str = "Model A", style: str = "oil_painting") -> GenerationRecord:
    return GenerationRecord(
        id="req-1",
        user_id="arda",
        model=model,
        style=style,
        color="vibrant",
        size="1024x1792",
        prompt="p",
        status=GenerationStatus.PROCESSING,
        credits_deducted=4,
        created_at=NOW,
        updated_at=NOW,
    )


def simulator(rate: float, **kwargs) -> ModelSimulator:
    return ModelSimulator({}, rate, 0, 0, rng=random.Random(1), **kwargs)


@pytest.mark.parametrize(("model", "slug"), [("Model A", "model_a"), ("Model B", "model_b")])
def test_success_url_names_the_model_once(model, slug):
    outcome = simulator(0.0).generate(record(model), lambda: NOW)
    assert outcome.succeeded and outcome.error_message is None
    url = urlparse(outcome.image_url)
    assert url.scheme == "https"
    assert url.netloc == f"placeholder-images-{slug.replace('_', '-')}.example.com"
    assert url.path == "/generated/req-1"
    assert parse_qs(url.query) == {
        "model": [slug],
        "style": ["oil_painting"],
        "color": ["vibrant"],
        "size": ["1024x1792"],
        "timestamp": [str(int(NOW.timestamp()))],
    }


def test_query_values_are_url_encoded():
    outcome = simulator(0.0).generate(record(style="a b&c"), lambda: NOW)
    assert "style=a+b%26c" in outcome.image_url


def test_failure_rate_one_always_fails_with_a_known_message():
    sim = simulator(1.0)
    outcomes = [sim.generate(record(), lambda: NOW) for _ in range(50)]
    assert all(not o.succeeded and o.error_message in FAILURE_MESSAGES for o in outcomes)
    assert len({o.error_message for o in outcomes}) > 1


def test_failure_rate_is_per_model():
    sim = ModelSimulator({"Model B": 1.0}, 0.0, 0, 0, rng=random.Random(3))
    assert sim.generate(record("Model A"), lambda: NOW).succeeded
    assert not sim.generate(record("Model B"), lambda: NOW).succeeded


def test_observed_failure_rate_matches_configuration():
    sim = simulator(0.2)
    failures = sum(not sim.generate(record(), lambda: NOW).succeeded for _ in range(5000))
    assert 0.17 < failures / 5000 < 0.23


def test_latency_is_drawn_from_the_configured_range():
    slept: list[float] = []
    sim = ModelSimulator({}, 0.0, 1.0, 5.0, rng=random.Random(2), sleep=slept.append)
    for _ in range(100):
        sim.generate(record(), lambda: NOW)
    assert len(slept) == 100 and all(1.0 <= s <= 5.0 for s in slept)


def test_zero_latency_never_sleeps():
    slept: list[float] = []
    simulator(0.0, sleep=slept.append).generate(record(), lambda: NOW)
    assert slept == []


def test_model_slug():
    assert model_slug("Model B") == "model_b"
