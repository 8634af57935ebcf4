"""Build the Firestore client, with request deadlines."""

from __future__ import annotations

import os
from typing import Any

from google.api_core import gapic_v1
from google.api_core import retry as retries
from google.cloud import firestore

DEFAULT_PROJECT = "feraset-imagen"

# A request-path call gives up after this long in all (attempts and retries), so that an
# unreachable Firestore answers a clean 503 well inside the function's timeout.
RPC_ATTEMPT_TIMEOUT_SECONDS = 8.0
RPC_DEADLINE_SECONDS = 12.0
# The unary calls of the request paths. Queries keep the client's defaults (the weekly report
# streams for longer); request-path queries pass `request_deadline()` themselves.
_BOUNDED_METHODS = frozenset(
    f"/google.firestore.v1.Firestore/{name}"
    for name in (
        "GetDocument",
        "BatchGetDocuments",
        "BeginTransaction",
        "Commit",
        "Rollback",
        "UpdateDocument",
        "CreateDocument",
        "DeleteDocument",
        "BatchWrite",
    )
)


def project_id() -> str:
    return (
        os.environ.get("GCLOUD_PROJECT")
        or os.environ.get("GOOGLE_CLOUD_PROJECT")
        or DEFAULT_PROJECT
    )


def build_firestore_client() -> firestore.Client:
    """Not firebase_admin's client, which insists on Google credentials even on the emulator;
    this one goes anonymous by itself when FIRESTORE_EMULATOR_HOST is set."""
    return with_request_deadlines(firestore.Client(project=project_id()))


def request_deadline() -> dict[str, Any]:
    """`retry`/`timeout` arguments for a query on a request path."""
    return {
        "retry": retries.Retry(
            initial=0.1, maximum=2.0, multiplier=1.3, timeout=RPC_DEADLINE_SECONDS
        ),
        "timeout": RPC_ATTEMPT_TIMEOUT_SECONDS,
    }


def with_request_deadlines(client: firestore.Client) -> firestore.Client:
    """Bound every unary call, each attempt and all its retries, by re-wrapping the client's
    per-method defaults (each keeps its retry predicate). A transaction's begin and commit take
    no timeout argument, so this is the one place to bound them."""
    transport = client._firestore_api._transport
    for method, wrapped in list(transport._wrapped_methods.items()):
        name = getattr(method, "_method", b"")
        name = name.decode() if isinstance(name, bytes) else str(name)
        if name not in _BOUNDED_METHODS:
            continue
        retry = wrapped._retry
        transport._wrapped_methods[method] = gapic_v1.method.wrap_method(
            method,
            default_retry=retry.with_timeout(RPC_DEADLINE_SECONDS) if retry else None,
            default_timeout=RPC_ATTEMPT_TIMEOUT_SECONDS,
        )
    return client
