from __future__ import annotations

import random

import pytest

from schemas.documents import GenerationRecord
from services.image_renderer import ImageSpec
from services.model_simulator import FAILURE_MESSAGES, ModelSimulator, pixel_size
from tests.support.records import processing_record


def record(model: str = "Model A", style: str = "oil_painting") -> GenerationRecord:
    return processing_record(
        model=model, style=style, color="vibrant", size="1024x1792", prompt="p", credits_deducted=4
    )


def fake_render(spec: ImageSpec) -> bytes:
    return repr(spec).encode()


def simulator(rate: float, **kwargs) -> ModelSimulator:
    return ModelSimulator({}, rate, 0, 0, rng=random.Random(1), render=fake_render, **kwargs)


@pytest.mark.parametrize("model", ["Model A", "Model B"])
def test_success_renders_what_was_asked_at_the_requested_size(model):
    run = simulator(0.0).generate(record(model))
    assert run.error_message is None
    assert run.png == fake_render(
        ImageSpec(
            request_id="req-1",
            model=model,
            style="oil_painting",
            color="vibrant",
            prompt="p",
            width=1024,
            height=1792,
        )
    )


def test_success_is_a_real_png_by_default():
    run = ModelSimulator({}, 0.0, 0, 0, rng=random.Random(1)).generate(record())
    assert run.png is not None and run.png.startswith(b"\x89PNG\r\n\x1a\n")


@pytest.mark.parametrize(("size", "pixels"), [("512x512", (512, 512)), ("1024x1792", (1024, 1792))])
def test_pixel_size_reads_the_size_id(size, pixels):
    assert pixel_size(size) == pixels


@pytest.mark.parametrize("size", ["large", "x512", "512x", "-1x5", "1.5x2"])
def test_pixel_size_refuses_other_ids(size):
    with pytest.raises(ValueError, match="not <width>x<height>"):
        pixel_size(size)


def test_failure_rate_one_always_fails_with_a_known_message():
    sim = simulator(1.0)
    outcomes = [sim.generate(record()) for _ in range(50)]
    assert all(o.png is None and o.error_message in FAILURE_MESSAGES for o in outcomes)
    assert len({o.error_message for o in outcomes}) > 1


def test_failure_rate_is_per_model():
    sim = ModelSimulator({"Model B": 1.0}, 0.0, 0, 0, rng=random.Random(3), render=fake_render)
    assert sim.generate(record("Model A")).png is not None
    assert sim.generate(record("Model B")).png is None


def test_observed_failure_rate_matches_configuration():
    sim = simulator(0.2)
    failures = sum(sim.generate(record()).png is None for _ in range(5000))
    assert 0.17 < failures / 5000 < 0.23


def test_latency_is_drawn_from_the_configured_range():
    slept: list[float] = []
    sim = ModelSimulator(
        {}, 0.0, 1.0, 5.0, rng=random.Random(2), sleep=slept.append, render=fake_render
    )
    for _ in range(100):
        sim.generate(record())
    assert len(slept) == 100 and all(1.0 <= s <= 5.0 for s in slept)


def test_zero_latency_never_sleeps():
    slept: list[float] = []
    simulator(0.0, sleep=slept.append).generate(record())
    assert slept == []
