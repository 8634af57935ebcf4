"""Simulated AI models: random latency, a per-model failure rate, and on success a real PNG of
the requested size painted by services/image_renderer.py."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, NamedTuple

from services.image_renderer import ImageSpec, render_png

if TYPE_CHECKING:
    from schemas.documents import GenerationRecord

FAILURE_MESSAGES: tuple[str, ...] = (
    "Model processing timeout",
    "Insufficient GPU resources",
    "Content filter violation",
    "Model overload - please retry",
    "Network connection failed",
)


def pixel_size(size_id: str) -> tuple[int, int]:
    """Width and height of a catalog size: its id is `<width>x<height>` (e.g. `1024x1792`)."""
    width, _, height = size_id.partition("x")
    if not (width.isdigit() and height.isdigit()):
        raise ValueError(f"size id {size_id!r} is not <width>x<height>")
    return int(width), int(height)


class ModelRun(NamedTuple):
    """What a model produced: a PNG, or why it failed (exactly one of them)."""

    png: bytes | None = None
    error_message: str | None = None


class ModelSimulator:
    def __init__(
        self,
        failure_rates: dict[str, float],
        default_failure_rate: float,
        min_latency_seconds: float,
        max_latency_seconds: float,
        rng: random.Random | None = None,
        sleep: Callable[[float], None] = time.sleep,
        render: Callable[[ImageSpec], bytes] = render_png,
    ) -> None:
        self._failure_rates = failure_rates
        self._default_failure_rate = default_failure_rate
        self._min_latency = min(min_latency_seconds, max_latency_seconds)
        self._max_latency = max(min_latency_seconds, max_latency_seconds)
        self._rng = rng or random.Random()
        self._sleep = sleep
        self._render = render

    def generate(self, record: GenerationRecord) -> ModelRun:
        if self._max_latency > 0:
            self._sleep(self._rng.uniform(self._min_latency, self._max_latency))
        rate = self._failure_rates.get(record.model, self._default_failure_rate)
        if self._rng.random() < rate:
            return ModelRun(error_message=self._rng.choice(FAILURE_MESSAGES))
        return ModelRun(png=self._render(image_spec(record)))


def image_spec(record: GenerationRecord) -> ImageSpec:
    """What the renderer paints for `record`: its own fields, at its size."""
    width, height = pixel_size(record.size)
    return ImageSpec(
        request_id=record.id,
        model=record.model,
        style=record.style,
        color=record.color,
        prompt=record.prompt,
        width=width,
        height=height,
    )
