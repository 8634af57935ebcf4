"""Simulated AI models: random latency, a per-model failure rate, a placeholder image URL."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from datetime import datetime
from urllib.parse import urlencode

from schemas.documents import GenerationOutcome, GenerationRecord

FAILURE_MESSAGES: tuple[str, ...] = (
    "Model processing timeout",
    "Insufficient GPU resources",
    "Content filter violation",
    "Model overload - please retry",
    "Network connection failed",
)


def model_slug(model: str) -> str:
    """'Model A' -> 'model_a'."""
    return "_".join(model.lower().split())


def image_url(record: GenerationRecord, at: datetime) -> str:
    slug = model_slug(record.model)
    host = f"placeholder-images-{slug.replace('_', '-')}.example.com"
    query = urlencode(
        {
            "model": slug,
            "style": record.style,
            "color": record.color,
            "size": record.size,
            "timestamp": int(at.timestamp()),
        }
    )
    return f"https://{host}/generated/{record.id}?{query}"


class ModelSimulator:
    def __init__(
        self,
        failure_rates: dict[str, float],
        default_failure_rate: float,
        min_latency_seconds: float,
        max_latency_seconds: float,
        rng: random.Random | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._failure_rates = failure_rates
        self._default_failure_rate = default_failure_rate
        self._min_latency = min(min_latency_seconds, max_latency_seconds)
        self._max_latency = max(min_latency_seconds, max_latency_seconds)
        self._rng = rng or random.Random()
        self._sleep = sleep

    def generate(self, record: GenerationRecord, now: Callable[[], datetime]) -> GenerationOutcome:
        if self._max_latency > 0:
            self._sleep(self._rng.uniform(self._min_latency, self._max_latency))
        rate = self._failure_rates.get(record.model, self._default_failure_rate)
        if self._rng.random() < rate:
            return GenerationOutcome(error_message=self._rng.choice(FAILURE_MESSAGES))
        return GenerationOutcome(image_url=image_url(record, now()))
