"""Fabricated usage history: ordinary traffic in four weeks, anomalies in the last complete week
(the one a report run covers), a few requests this week. Every request is terminal with its
ledger entries. Pure; one `random.Random(seed)` drawn independently of `now`."""

from __future__ import annotations

import math
import random
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from core.config import MODELS
from schemas.documents import GenerationRecord, GenerationStatus
from schemas.ledger import deduction, refund
from services.model_simulator import FAILURE_MESSAGES
from services.reports.window import WEEK, WeekWindow, last_complete_week
from services.seeding import reference_data

DEFAULT_SEED = 20250804

STYLES: tuple[str, ...] = tuple(s["id"] for s in reference_data.STYLES)
COLORS: tuple[str, ...] = tuple(c["id"] for c in reference_data.COLORS)
COSTS: dict[str, int] = {s["id"]: s["credit_cost"] for s in reference_data.SIZES}
SIZE_WEIGHTS: dict[str, int] = {"512x512": 5, "1024x1024": 3, "1024x1792": 2}

# Ordinary users: the baseline weeks' traffic. bot_spammer also made a few requests before.
REGULAR_USERS: tuple[str, ...] = (
    "arda",
    "alex_designer",
    "sarah_artist",
    "emma_photo",
    "david_dev",
    "lisa_marketing",
)
# Users who sign up on one day of the report week (> 5 -> new_user_spike).
NEW_USERS: tuple[str, ...] = (
    "new_enterprise",
    "promo_user1",
    "promo_user2",
    "viral_marketer",
    "havanur",
    "mike_creative",
)
PROMO_USERS: tuple[str, ...] = ("promo_user1", "promo_user2", "viral_marketer")

BASELINE_WEEKS = 4
BASELINE_REQUESTS_PER_WEEK = (13, 17)  # inclusive range: about 60 over four weeks
BASELINE_FAILURE_RATE = (0.03, 0.05)
SPAMMER_REQUESTS, SPAMMER_FAILURES = 40, 10  # 25 % failures on Model B
ENTERPRISE_BURST = 20  # 20 x 1024x1792 at 4 credits = 80 credits in one UTC day
PROMO_REQUESTS = 8  # per promo user, half of them failing on a degraded Model B
WEEK_TO_DATE_REQUESTS = 3
# What a report over the last complete week finds in this history: the patterns' purpose.
INTENDED_ANOMALIES = frozenset(
    {
        "request_spike",
        "credit_consumption_spike",
        "high_failure_rate",
        "user_request_spike",
        "single_user_credit_spike",
        "new_user_spike",
        "critical_model_failure_rate",
    }
)
USER_SINCE = timedelta(days=30)  # regular users signed up this long before the history

PROMPTS: tuple[str, ...] = (
    "A beautiful landscape at sunset",
    "A portrait of a cat wearing a hat",
    "A futuristic city skyline at night",
    "A bowl of fruit on a wooden table",
    "Mountains reflected in a calm lake",
    "A lighthouse in a storm",
    "Product shot of a sneaker on white",
    "An astronaut riding a horse",
)


@dataclass(frozen=True, slots=True)
class PlannedRequest:
    user_id: str
    model: str
    size: str
    created_at: datetime
    failed: bool


@dataclass
class SeedHistory:
    """Documents to write, plus what the user documents need to match them."""

    requests: dict[str, dict[str, Any]] = field(default_factory=dict)
    # user id -> transaction id -> document
    transactions: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    user_created_at: dict[str, datetime] = field(default_factory=dict)
    net_spent: Counter[str] = field(default_factory=Counter)
    images_generated: Counter[str] = field(default_factory=Counter)

    @property
    def transaction_count(self) -> int:
        return sum(len(by_id) for by_id in self.transactions.values())

    def initial_credits(self, user_id: str, current_credits: int) -> int:
        """The starting balance that ends at `current_credits` after this history."""
        return current_credits + self.net_spent[user_id]


def anomalous_week(seeded_at: datetime) -> WeekWindow:
    """The week holding the anomalies: the last complete ISO week when the history was seeded."""
    return last_complete_week(seeded_at)


def fabricate_history(now: datetime, seed: int = DEFAULT_SEED) -> SeedHistory:
    rng = random.Random(seed)
    report_week = anomalous_week(now)
    history_start = report_week.start - BASELINE_WEEKS * WEEK
    signup_day = report_week.start + timedelta(days=1)

    history = SeedHistory()
    for user_id in reference_data.USERS:
        history.user_created_at[user_id] = history_start - USER_SINCE
    for n, user_id in enumerate(NEW_USERS):
        history.user_created_at[user_id] = signup_day + timedelta(hours=8, minutes=10 * n)

    baseline = [report_week.shifted(-k) for k in range(BASELINE_WEEKS, 0, -1)]
    plans = [
        *_baseline_traffic(rng, baseline),
        *_report_week_anomalies(rng, report_week),
        *_week_to_date(rng, report_week.end, now),
    ]
    for plan in sorted(plans, key=lambda p: p.created_at):
        _materialise(rng, plan, history)
    return history


# --- planning -------------------------------------------------------------------------------


def _moment(rng: random.Random, start: datetime, span: timedelta) -> datetime:
    """A random moment in `[start, start + span)`, whole milliseconds."""
    return start + timedelta(milliseconds=int(rng.random() * span / timedelta(milliseconds=1)))


def _size(rng: random.Random) -> str:
    return rng.choices(list(SIZE_WEIGHTS), weights=list(SIZE_WEIGHTS.values()))[0]


def _with_failures(
    rng: random.Random, plans: list[PlannedRequest], failures: int
) -> list[PlannedRequest]:
    failing = set(rng.sample(range(len(plans)), failures))
    return [
        PlannedRequest(p.user_id, p.model, p.size, p.created_at, i in failing)
        for i, p in enumerate(plans)
    ]


def _regular(rng: random.Random, week: WeekWindow) -> PlannedRequest:
    # Stop an hour before the week ends so completion and refund stay inside the week.
    return PlannedRequest(
        user_id=rng.choice(REGULAR_USERS),
        model=rng.choice(MODELS),
        size=_size(rng),
        created_at=_moment(rng, week.start, WEEK - timedelta(hours=1)),
        failed=False,
    )


def _baseline_traffic(rng: random.Random, weeks: Sequence[WeekWindow]) -> list[PlannedRequest]:
    plans = [
        _regular(rng, week)
        for week in weeks
        for _ in range(rng.randint(*BASELINE_REQUESTS_PER_WEEK))
    ]
    # bot_spammer was a quiet user the week before its spike (user_request_spike needs a
    # previous week to compare with).
    quiet_week = weeks[-1]
    plans += [
        PlannedRequest(
            "bot_spammer",
            "Model B",
            "512x512",
            _moment(rng, quiet_week.start, WEEK - timedelta(hours=1)),
            False,
        )
        for _ in range(2)
    ]
    low, high = BASELINE_FAILURE_RATE
    failures = rng.randint(math.ceil(low * len(plans)), math.floor(high * len(plans)))
    return _with_failures(rng, plans, failures)


def _report_week_anomalies(rng: random.Random, week: WeekWindow) -> list[PlannedRequest]:
    signup_day = week.start + timedelta(days=1)
    after_signup = signup_day + timedelta(hours=10)
    rest_of_week = week.end - timedelta(hours=1) - after_signup

    regular = [_regular(rng, week) for _ in range(rng.randint(10, 14))]

    spam = [
        PlannedRequest(
            "bot_spammer",
            "Model B",
            "512x512",
            _moment(rng, week.start + timedelta(days=2), timedelta(days=4)),
            False,
        )
        for _ in range(SPAMMER_REQUESTS)
    ]
    spam = _with_failures(rng, spam, SPAMMER_FAILURES)

    burst_day = week.start + timedelta(days=2, hours=9)
    burst = [
        PlannedRequest(
            "new_enterprise",
            "Model A",
            "1024x1792",
            _moment(rng, burst_day, timedelta(hours=8)),
            False,
        )
        for _ in range(ENTERPRISE_BURST)
    ]

    promo: list[PlannedRequest] = []
    for user_id in PROMO_USERS:
        mine = [
            PlannedRequest(
                user_id,
                "Model B",
                rng.choice(("1024x1024", "512x512")),
                _moment(rng, after_signup, rest_of_week),
                False,
            )
            for _ in range(PROMO_REQUESTS)
        ]
        promo += _with_failures(rng, mine, PROMO_REQUESTS // 2)

    first_steps = [
        PlannedRequest(
            user_id, "Model A", "512x512", _moment(rng, after_signup, rest_of_week), False
        )
        for user_id in ("havanur", "mike_creative")
    ]
    return [*regular, *spam, *burst, *promo, *first_steps]


def _week_to_date(rng: random.Random, week_start: datetime, now: datetime) -> list[PlannedRequest]:
    """A few completed requests between the start of this week and `now` (none when the week
    is less than a minute old). The draws happen either way, so later ones do not shift."""
    elapsed = now - week_start - timedelta(seconds=30)  # room for completion before `now`
    plans = [
        PlannedRequest(
            rng.choice(REGULAR_USERS),
            "Model A",
            _size(rng),
            week_start + max(elapsed, timedelta(0)) * rng.random(),
            False,
        )
        for _ in range(WEEK_TO_DATE_REQUESTS)
    ]
    return plans if elapsed >= timedelta(seconds=30) else []


# --- documents ------------------------------------------------------------------------------


def _materialise(rng: random.Random, plan: PlannedRequest, history: SeedHistory) -> None:
    request_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    finished_at = plan.created_at + timedelta(milliseconds=rng.randint(1500, 8000))
    cost = COSTS[plan.size]
    record = GenerationRecord(
        id=request_id,
        user_id=plan.user_id,
        model=plan.model,
        style=rng.choice(STYLES),
        color=rng.choice(COLORS),
        size=plan.size,
        prompt=rng.choice(PROMPTS),
        status=GenerationStatus.FAILED if plan.failed else GenerationStatus.COMPLETED,
        credits_deducted=cost,
        attempts=1,
        created_at=plan.created_at,
        updated_at=finished_at,
        completed_at=finished_at,
    )
    if plan.failed:
        record.error_message = rng.choice(FAILURE_MESSAGES)
    # A completed request of the fabricated history never ran a model: it is written without an
    # image; `make dev` stores its picture at start-up (services/seeding/first_run.py).
    history.requests[request_id] = record.document()
    ledger = history.transactions.setdefault(plan.user_id, {})
    charge = deduction(record, plan.created_at)
    ledger[charge.id] = charge.document()
    history.net_spent[plan.user_id] += cost
    if plan.failed:
        back = refund(record, record.error_message or "", finished_at)
        ledger[back.id] = back.document()
        history.net_spent[plan.user_id] -= cost
    else:
        history.images_generated[plan.user_id] += 1
