"""Call controllers in-process with real Flask requests."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import requests
from flask import Flask, Request, Response
from werkzeug.datastructures import Headers
from werkzeug.test import EnvironBuilder


def make_request(
    method: str = "POST",
    *,
    json_body: Any = None,
    data: bytes | str | None = None,
    query: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    content_type: str | None = None,
) -> Request:
    if json_body is not None:
        data = json.dumps(json_body)
        content_type = content_type or "application/json"
    builder = EnvironBuilder(
        method=method,
        path="/",
        query_string=query,
        data=data,
        headers=Headers(headers),
        content_type=content_type,
    )
    return Request(builder.get_environ())


_APP = Flask("in-process-tests")  # jsonify in the SDK's task wrapper needs an app context


def call(
    handler: Callable[[Request], Response], method: str = "POST", **kwargs: Any
) -> tuple[int, Any]:
    with _APP.app_context():
        response = handler(make_request(method, **kwargs))
    body = json.loads(response.get_data()) if response.get_data() else None
    return response.status_code, body


def emulator_transport_error(response: requests.Response) -> bool:
    """The emulator's own answer when it lost its worker process (e.g. `{"code": "ECONNRESET"}`
    after a reload or an OOM kill): not our function's response, so the request is resent once.
    """
    return response.status_code == 500 and response.text.startswith('{"code":')
