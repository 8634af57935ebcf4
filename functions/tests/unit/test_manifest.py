"""The deploy manifest: what firebase-tools would deploy from main.py.

firebase-tools discovers Python functions by asking the SDK's admin server for
`/__/functions.yaml`; that server builds it with `serving.get_functions()` (executes main.py
from the working directory) and `serving.functions_as_yaml()`. We call the same two.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from firebase_functions.private import serving

from tests.support.function_names import HTTP_FUNCTIONS

FUNCTIONS_DIR = Path(__file__).resolve().parents[2]
ADMIN_FUNCTIONS = [
    "seed_database",
    "scheduleWeeklyReport",
    "scheduleDailyRollup",
    "listReports",
    "getReport",
    "listUsers",
    "sweepStuckGenerations",
    "grantCredits",
]
# Users act on their own requests; the admin key on every one.
OWNER_OR_ADMIN_FUNCTIONS = ["cancelGenerationRequest"]
SCHEDULES = {
    "weeklyReportScheduler": "25 20 * * 1",
    "rollupDailyUsage": "10 0 * * *",
    "recoverStuckGenerations": "every 10 minutes",
}
WORKER = "processImageGeneration"
WEBHOOK_WORKER = "deliverWebhook"
TRIGGERS = ("httpsTrigger", "callableTrigger", "taskQueueTrigger", "scheduleTrigger")
PARAM_REF = re.compile(r"^\{\{ params\.(\w+) \}\}$")


@pytest.fixture(scope="module")
def manifest() -> dict[str, Any]:
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(FUNCTIONS_DIR)
        text = serving.functions_as_yaml(serving.get_functions())
    return yaml.safe_load(text)


@pytest.fixture(scope="module")
def endpoints(manifest: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return manifest["endpoints"]


def resolve(manifest: dict[str, Any], value: Any) -> Any:
    """A `{{ params.NAME }}` expression -> the param's declared default."""
    match = PARAM_REF.match(str(value))
    if match is None:
        return value
    (param,) = [p for p in manifest["params"] if p["name"] == match.group(1)]
    return param["default"]


def trigger_of(endpoint: dict[str, Any]) -> str:
    (trigger,) = [t for t in TRIGGERS if t in endpoint]
    return trigger


def test_exactly_the_documented_functions(endpoints):
    assert set(endpoints) == HTTP_FUNCTIONS | set(SCHEDULES) | {WORKER, WEBHOOK_WORKER}


def test_every_function_is_in_us_central1(endpoints):
    assert all(e["region"] == ["us-central1"] for e in endpoints.values())


@pytest.mark.parametrize("name", sorted(HTTP_FUNCTIONS))
def test_http_functions(endpoints, name):
    assert trigger_of(endpoints[name]) == "httpsTrigger"


def test_worker_is_a_task_queue_function_only(manifest, endpoints):
    worker = endpoints[WORKER]
    assert trigger_of(worker) == "taskQueueTrigger"
    queue = worker["taskQueueTrigger"]
    assert "invoker" not in queue  # private: only Cloud Tasks (OIDC) may invoke it
    retry = {k: resolve(manifest, v) for k, v in queue["retryConfig"].items()}
    assert retry == {"maxAttempts": 5, "minBackoffSeconds": 10, "maxBackoffSeconds": 300}
    limits = {k: resolve(manifest, v) for k, v in queue["rateLimits"].items()}
    assert limits == {"maxConcurrentDispatches": 10, "maxDispatchesPerSecond": 2}
    http_entry_points = {
        e["entryPoint"] for e in endpoints.values() if trigger_of(e) == "httpsTrigger"
    }
    assert WORKER not in http_entry_points


def test_webhook_delivery_is_a_task_queue_function_with_its_own_retries(manifest, endpoints):
    """Production retries spread over hours; the rate limits match what its instances take."""
    queue = endpoints[WEBHOOK_WORKER]["taskQueueTrigger"]
    assert "invoker" not in queue  # private: only Cloud Tasks (OIDC) may invoke it
    assert all(PARAM_REF.match(str(v)) for v in queue["retryConfig"].values())
    retry = {k: resolve(manifest, v) for k, v in queue["retryConfig"].items()}
    assert retry == {"maxAttempts": 10, "minBackoffSeconds": 30, "maxBackoffSeconds": 10800}
    intervals = [min(30 * 2**n, 10800) for n in range(retry["maxAttempts"] - 1)]
    assert 3 * 3600 < sum(intervals) < 6 * 3600  # about 4 h 15 min from first to last attempt
    _, _, concurrency, _, max_instances, _ = capacity_of(endpoints[WEBHOOK_WORKER])
    assert queue["rateLimits"]["maxConcurrentDispatches"] == concurrency * max_instances


def test_queue_settings_are_params(endpoints):
    """Every queue setting (retries, backoff, rate limits) is a param, not a literal."""
    queue = endpoints[WORKER]["taskQueueTrigger"]
    values = [*queue["retryConfig"].values(), *queue["rateLimits"].values()]
    assert all(PARAM_REF.match(str(v)) for v in values), values


@pytest.mark.parametrize("name", sorted(SCHEDULES))
def test_schedules(endpoints, name):
    endpoint = endpoints[name]
    assert trigger_of(endpoint) == "scheduleTrigger"
    assert endpoint["scheduleTrigger"]["schedule"] == SCHEDULES[name]
    assert endpoint["scheduleTrigger"]["timeZone"] == "UTC"


@pytest.mark.parametrize("name", ADMIN_FUNCTIONS + OWNER_OR_ADMIN_FUNCTIONS)
def test_admin_functions_receive_the_admin_key(endpoints, name):
    """Without the secret declared, ADMIN_API_KEY is unset in production and the guard is 403."""
    secrets = endpoints[name]["secretEnvironmentVariables"]
    assert {"key": "ADMIN_API_KEY"} in secrets


def test_user_functions_do_not_receive_the_admin_key(endpoints):
    for name in HTTP_FUNCTIONS - set(ADMIN_FUNCTIONS) - set(OWNER_OR_ADMIN_FUNCTIONS):
        expected = [{"key": key} for key in STRIPE_SECRETS.get(name, [])]
        assert endpoints[name]["secretEnvironmentVariables"] == expected, name


# Each Stripe function gets its own secret only; the webhook never the admin key (it is public).
STRIPE_SECRETS = {
    "createCheckoutSession": ["STRIPE_SECRET_KEY"],
    "stripeWebhook": ["STRIPE_WEBHOOK_SECRET"],
}


# --- capacity: declared on purpose, never the platform's defaults ----------------------------
CAPACITY_FIELDS = (
    "availableMemoryMb",
    "cpu",
    "concurrency",
    "minInstances",
    "maxInstances",
    "timeoutSeconds",
)
INTERACTIVE = (512, 1, 8, 0, 20, 60)
WAITING = (512, 1, 8, 0, 20, 180)  # room for `Prefer: wait` (60 s) and a status stream (120 s)
ADMIN_READ = (512, 1, 4, 0, 2, 60)
REPORT = (1024, 1, 1, 0, 1, 540)
SWEEPER = (512, 1, 1, 0, 1, 300)
# The numbers and reasoning of docs/architecture.md, "Capacity".
DECLARED_CAPACITY = {
    "createGenerationRequest": WAITING,
    "cancelGenerationRequest": INTERACTIVE,
    "deleteGenerationRequest": INTERACTIVE,
    "getGenerationStatus": WAITING,
    "listGenerationRequests": INTERACTIVE,
    "getUserCredits": INTERACTIVE,
    "validate_user": INTERACTIVE,
    "getCatalog": INTERACTIVE,
    "createApiKey": INTERACTIVE,
    "createAccount": INTERACTIVE,
    "listApiKeys": INTERACTIVE,
    "revokeApiKey": INTERACTIVE,
    "health": (256, 1, 8, 0, 5, 10),
    "listUsers": ADMIN_READ,
    "listReports": ADMIN_READ,
    "getReport": ADMIN_READ,
    "seed_database": (512, 1, 1, 0, 1, 300),
    "scheduleWeeklyReport": REPORT,
    "weeklyReportScheduler": REPORT,
    "scheduleDailyRollup": REPORT,
    "rollupDailyUsage": REPORT,
    "processImageGeneration": (512, 1, 8, 0, 4, 120),
    "deliverWebhook": (512, 1, 8, 0, 4, 120),
    "getWebhookSecret": INTERACTIVE,
    "rotateWebhookSecret": INTERACTIVE,
    "createCheckoutSession": INTERACTIVE,
    "stripeWebhook": INTERACTIVE,
    "recoverStuckGenerations": SWEEPER,
    "sweepStuckGenerations": SWEEPER,
    "grantCredits": ADMIN_READ,
    "deleteAccount": (1024, 1, 4, 0, 5, 300),
    "exportAccountData": (1024, 1, 4, 0, 5, 300),
}


def capacity_of(endpoint: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(endpoint.get(name) for name in CAPACITY_FIELDS)


def test_every_function_has_its_capacity_listed(endpoints):
    assert set(DECLARED_CAPACITY) == set(endpoints)


@pytest.mark.parametrize("name", sorted(DECLARED_CAPACITY))
def test_declared_capacity(endpoints, name):
    assert capacity_of(endpoints[name]) == DECLARED_CAPACITY[name]


@pytest.mark.parametrize("name", sorted(DECLARED_CAPACITY))
def test_capacity_is_consistent(endpoints, name):
    memory, cpu, concurrency, min_instances, max_instances, timeout = capacity_of(endpoints[name])
    assert concurrency == 1 or cpu >= 1  # the platform refuses concurrency > 1 below one CPU
    assert 0 <= min_instances <= max_instances
    assert memory >= 256  # the process alone holds ~95 MiB after imports
    assert concurrency <= deployed_threads()  # every concurrent request gets a thread
    if trigger_of(endpoints[name]) == "scheduleTrigger":
        assert timeout <= 540  # the longest an event-driven function may run


def test_worker_attempt_ends_before_the_sweeper_may_fail_it(manifest, endpoints):
    (param,) = [p for p in manifest["params"] if p["name"] == "GENERATION_TIMEOUT_SECONDS"]
    assert endpoints[WORKER]["timeoutSeconds"] < param["default"]


def deployed_threads() -> int:
    """THREADS from the deployed environment file (the Functions Framework's thread count)."""
    env = (FUNCTIONS_DIR / ".env.feraset-imagen").read_text()
    (value,) = [line.split("=", 1)[1] for line in env.splitlines() if line.startswith("THREADS=")]
    return int(value)
