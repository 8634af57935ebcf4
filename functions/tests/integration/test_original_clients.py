"""The fields the original clients (web page, report page, Postman collection) read, through
real HTTP calls to the Functions emulator over a seeded history.

Every path of CONTRACT must be present with its JSON type in the answer of its call: a client
written for the original API reads them, so none may be renamed, retyped or removed (new fields
may be added). Paths: `a.b` is a key, `a[]` every item of an array, `a.*` every value of an
object; a wildcard over an empty array/object fails, so no check is vacuous.
"""

from __future__ import annotations

import os
import time
from typing import Any

import pytest
import requests

from tests.integration.conftest import FUNCTIONS_BASE, request_body

pytestmark = pytest.mark.skipif(
    not os.environ.get("CLOUD_TASKS_EMULATOR_HOST"), reason="needs the full emulator suite"
)

TERMINAL = {"completed", "failed", "cancelled"}

# (answer, field path, JSON type). "integer" is a JSON number without a fractional part;
# "number" is any JSON number; `|` separates alternatives.
CONTRACT: list[tuple[str, str, str]] = [
    ("getUserCredits", "currentCredits", "integer"),
    ("getUserCredits", "transactions", "array"),
    ("getUserCredits", "transactions[]", "object"),
    ("getUserCredits", "transactions[].generation_request_id", "string|null"),
    ("getUserCredits", "transactions[].user_id", "string"),
    ("getUserCredits", "transactions[].type", "string"),
    ("getUserCredits", "transactions[].credits", "integer"),
    ("getUserCredits", "transactions[].timestamp", "string"),
    ("getUserCredits", "transactions[].description", "string"),
    ("createGenerationRequest", "generationRequestId", "string"),
    ("getGenerationStatus", "status", "string"),
    ("getGenerationStatus", "progress", "number"),
    ("getGenerationStatus", "imageUrl", "string|null"),
    ("scheduleWeeklyReport", "reportStatus", "string"),
    ("scheduleWeeklyReport failure", "reportStatus", "string"),
    ("scheduleWeeklyReport failure", "error", "string"),
    ("scheduleWeeklyReport", "summary", "object"),
    ("scheduleWeeklyReport", "summary.report_period", "object"),
    ("scheduleWeeklyReport", "summary.report_period.start_date", "string"),
    ("scheduleWeeklyReport", "summary.report_period.end_date", "string"),
    ("scheduleWeeklyReport", "summary.total_requests", "integer"),
    ("scheduleWeeklyReport", "summary.success_rate", "number"),
    ("scheduleWeeklyReport", "summary.active_users", "integer"),
    ("scheduleWeeklyReport", "summary.credits_consumed", "integer"),
    ("scheduleWeeklyReport", "summary.most_popular_style", "string"),
    ("scheduleWeeklyReport", "summary.most_popular_size", "string"),
    ("scheduleWeeklyReport", "anomaly_summary", "object"),
    ("scheduleWeeklyReport", "anomaly_summary.total_anomalies", "integer"),
    ("scheduleWeeklyReport", "anomaly_summary.severity_level", "string"),
    ("scheduleWeeklyReport", "anomaly_summary.anomaly_score", "number"),
    ("scheduleWeeklyReport", "report_data", "object"),
    ("scheduleWeeklyReport", "report_data.anomaly_analysis", "object"),
    ("scheduleWeeklyReport", "report_data.anomaly_analysis.detected_anomalies", "array"),
    ("scheduleWeeklyReport", "report_data.anomaly_analysis.detected_anomalies[]", "object"),
    ("scheduleWeeklyReport", "report_data.anomaly_analysis.detected_anomalies[].type", "string"),
    (
        "scheduleWeeklyReport",
        "report_data.anomaly_analysis.detected_anomalies[].severity",
        "string",
    ),
    (
        "scheduleWeeklyReport",
        "report_data.anomaly_analysis.detected_anomalies[].description",
        "string",
    ),
    ("scheduleWeeklyReport", "report_data.model_performance", "object"),
    ("scheduleWeeklyReport", "report_data.model_performance.*", "object"),
    ("scheduleWeeklyReport", "report_data.model_performance.*.total_requests", "integer"),
    ("scheduleWeeklyReport", "report_data.model_performance.*.success_rate", "number"),
    ("scheduleWeeklyReport", "report_data.model_performance.*.failure_rate", "number"),
    ("scheduleWeeklyReport", "report_data.generation_stats", "object"),
    ("scheduleWeeklyReport", "report_data.generation_stats.style_breakdown", "object"),
    ("scheduleWeeklyReport", "report_data.generation_stats.style_breakdown.*", "integer"),
    ("scheduleWeeklyReport", "report_data.generation_stats.size_breakdown", "object"),
    ("scheduleWeeklyReport", "report_data.generation_stats.size_breakdown.*", "integer"),
    ("scheduleWeeklyReport", "report_data.user_stats", "object"),
    ("scheduleWeeklyReport", "report_data.user_stats.user_request_breakdown", "object"),
    ("scheduleWeeklyReport", "report_data.user_stats.user_request_breakdown.*", "integer"),
    ("scheduleWeeklyReport", "report_data.credit_stats", "object"),
    ("scheduleWeeklyReport", "report_data.credit_stats.total_credits_deducted", "integer"),
    ("scheduleWeeklyReport", "report_data.credit_stats.total_credits_refunded", "integer"),
    ("scheduleWeeklyReport", "report_data.credit_stats.net_credits_consumed", "integer"),
    ("scheduleWeeklyReport", "report_data.credit_stats.average_credits_per_request", "number"),
]

_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "null": (type(None),),
}


def json_type_matches(value: Any, expected: str) -> bool:
    if isinstance(value, bool):  # a JSON boolean is neither an integer nor a number
        return "boolean" in expected.split("|")
    return any(isinstance(value, _TYPES[name]) for name in expected.split("|"))


def resolve(body: Any, path: str) -> list[tuple[str, Any]]:
    """Every `(concrete path, value)` the path names; fails on a missing key or empty wildcard."""
    found: list[tuple[str, Any]] = [("", body)]
    for segment in path.split("."):
        key, each_item = (segment[:-2], True) if segment.endswith("[]") else (segment, False)
        step: list[tuple[str, Any]] = []
        for where, value in found:
            assert isinstance(value, dict), f"{where or '<body>'} is not an object: {value!r}"
            if key == "*":
                assert value, f"{where} is empty: nothing to check behind `*`"
                step += [(f"{where}.{k}", v) for k, v in value.items()]
                continue
            here = f"{where}.{key}" if where else key
            assert key in value, f"missing {here} (keys: {sorted(value)})"
            step.append((here, value[key]))
        if each_item:
            items: list[tuple[str, Any]] = []
            for where, value in step:
                assert isinstance(value, list), f"{where} is not an array: {value!r}"
                assert value, f"{where} is empty: nothing to check behind `[]`"
                items += [(f"{where}[{i}]", item) for i, item in enumerate(value)]
            step = items
        found = step
    return found


def check_contract(answers: dict[str, Any]) -> list[str]:
    problems = []
    for answer, path, expected in CONTRACT:
        try:
            values = resolve(answers[answer], path)
        except AssertionError as missing:
            problems.append(f"{answer}: {missing}")
            continue
        problems += [
            f"{answer}: {where} should be {expected}, is {value!r}"
            for where, value in values
            if not json_type_matches(value, expected)
        ]
    return problems


# --- the walker itself ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "path", "expected"),
    [
        ({"a": {"x": 1, "y": 2}}, "a.*", [("a.x", 1), ("a.y", 2)]),
        ({"a": [{"b": 1}, {"b": None}]}, "a[].b", [("a[0].b", 1), ("a[1].b", None)]),
        ({"a": {"m": {"n": 3}}}, "a.*.n", [("a.m.n", 3)]),
    ],
)
def test_resolve_names_every_value(body: Any, path: str, expected: list[Any]) -> None:
    assert resolve(body, path) == expected


@pytest.mark.parametrize(
    ("body", "path"),
    [({}, "a"), ({"a": {}}, "a.*"), ({"a": []}, "a[].b"), ({"a": 1}, "a.b"), ({"a": {}}, "a[]")],
)
def test_resolve_fails_on_missing_or_empty(body: Any, path: str) -> None:
    with pytest.raises(AssertionError):
        resolve(body, path)


def test_types_tell_numbers_objects_and_strings_apart() -> None:
    assert json_type_matches(3, "integer") and json_type_matches(2.5, "number")
    assert not json_type_matches(2.5, "integer") and not json_type_matches(True, "number")
    assert not json_type_matches({"total": 1}, "integer")  # the "[object Object]" case
    assert not json_type_matches("3", "number") and json_type_matches(None, "string|null")


# --- against the emulator ------------------------------------------------------------------------


def url(function: str) -> str:
    return f"{FUNCTIONS_BASE}/{function}"


def get(function: str, status: int = 200, **params: str) -> Any:
    response = requests.get(url(function), params=params, timeout=30)
    assert response.status_code == status, f"{function}: {response.status_code} {response.text}"
    return response.json()


def post(function: str, body: dict[str, Any], status: int = 200) -> Any:
    response = requests.post(url(function), json=body, timeout=120)
    assert response.status_code == status, f"{function}: {response.status_code} {response.text}"
    return response.json()


def wait_terminal(request_id: str, timeout: float = 60.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        body = get("getGenerationStatus", generationRequestId=request_id)
        if body["status"] in TERMINAL:
            return dict(body)
        assert time.monotonic() < deadline, f"{request_id} still {body['status']}"
        time.sleep(0.2)


def test_every_field_the_original_clients_read_is_there_with_its_type() -> None:
    post("seed_database", {})  # with the fabricated history: the report has anomalies

    created = post("createGenerationRequest", request_body(size="512x512"), 202)
    request_id = created["generationRequestId"]
    first_status = get("getGenerationStatus", generationRequestId=request_id)
    final_status = wait_terminal(request_id)
    credits = get("getUserCredits", userId="arda")
    credits_post = post("getUserCredits", {"userId": "arda"})
    report = post("scheduleWeeklyReport", {})
    failed_report = post("scheduleWeeklyReport", {"weekStart": "2025-08-05"}, 400)  # a Tuesday
    stored = get("getReport", reportId=report["report_data"]["id"])

    answers = {
        "getUserCredits": credits,
        "createGenerationRequest": created,
        "getGenerationStatus": final_status,
        "scheduleWeeklyReport": report,
        "scheduleWeeklyReport failure": failed_report,
    }
    assert check_contract(answers) == []
    # The same fields in the other variants of each answer, and in the stored report.
    for variant in (
        answers | {"getGenerationStatus": first_status},
        answers | {"getUserCredits": credits_post},
        answers | {"scheduleWeeklyReport": report | {"report_data": stored["report"]}},
    ):
        assert check_contract(variant) == []

    # Values the clients rely on, beyond the types.
    assert report["reportStatus"] == "success" and failed_report["reportStatus"] == "failed"
    assert 0 <= first_status["progress"] <= 100 and final_status["progress"] == 100
    mine = [t for t in credits["transactions"] if t["generation_request_id"] == request_id]
    assert mine and all(t["user_id"] == "arda" for t in mine)
    assert {t["user_id"] for t in credits["transactions"]} == {"arda"}
    gen = report["report_data"]["generation_stats"]
    for name in ("style", "color", "size", "model"):  # the report page sums these maps
        assert sum(gen[f"{name}_breakdown"].values()) == gen["total_requests"], name
