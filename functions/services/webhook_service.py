"""Signed webhooks: whoever settles a request schedules its one event (`WebhookNotifier`), the
sweeper re-schedules those left pending, and `WebhookDeliverer` makes one attempt per task
dispatch (2xx delivers, 410 stops, the rest Cloud Tasks retries until the last attempt)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING

from core.logging import info, log_exception, warn
from core.webhook_http import UNREACHABLE, http_status_error
from core.webhook_signing import new_secret, signed_headers
from core.webhook_urls import WebhookUrlRefused
from schemas.responses import webhook_event

if TYPE_CHECKING:
    from core.clock import Clock
    from schemas.documents import GenerationRecord, WebhookState
    from services.ports import (
        GenerationReader,
        WebhookDeliveryStore,
        WebhookQueue,
        WebhookSecretStore,
        WebhookSender,
    )

GONE = 410


@dataclass(frozen=True)
class WebhookRescue:
    """When the sweeper re-schedules a `pending` delivery: `first_attempt_seconds` after the
    settle if never attempted, else `retry_seconds` (past the longest backoff) after the last."""

    first_attempt_seconds: int = 600
    retry_seconds: int = 4 * 3600

    @classmethod
    def for_backoff(cls, max_backoff_seconds: int) -> WebhookRescue:
        return cls(retry_seconds=max_backoff_seconds + cls.first_attempt_seconds)


class WebhookNotifier:
    def __init__(
        self,
        queue: WebhookQueue,
        deliveries: WebhookDeliveryStore,
        rescue: WebhookRescue | None = None,
    ) -> None:
        self._queue = queue
        self._deliveries = deliveries
        self._rescue = rescue or WebhookRescue()

    def settled(self, record: GenerationRecord | None) -> None:
        """After a settle: schedule its event, if any; never raises (the sweeper catches up)."""
        if record is None or record.webhook is None or record.webhook.state != "pending":
            return
        try:
            self._queue.enqueue(record.id)
        except Exception as exc:
            log_exception("webhook delivery not enqueued", exc, generationRequestId=record.id)

    def rescue(self, now: datetime) -> int:
        """Re-schedule the deliveries left `pending` too long (a duplicate task is a no-op); how
        many were enqueued. A failing enqueue is logged and the others are still tried."""
        rescued = 0
        first_cutoff = now - timedelta(seconds=self._rescue.first_attempt_seconds)
        retry_cutoff = now - timedelta(seconds=self._rescue.retry_seconds)
        for stale in self._deliveries.find_stale(first_cutoff):
            if stale.attempts > 0 and stale.updated_at >= retry_cutoff:
                continue  # between retries: Cloud Tasks still holds its task
            try:
                self._queue.enqueue(stale.id)
            except Exception as exc:
                log_exception("webhook delivery not re-enqueued", exc, generationRequestId=stale.id)
                continue
            rescued += 1
            info("webhook delivery re-enqueued", generationRequestId=stale.id)
        return rescued


class WebhookSecrets:
    """Each user's signing secret: created on first use (getWebhookSecret or the first
    delivery), replaced by a rotation. The secret never appears in a log."""

    def __init__(
        self,
        secrets: WebhookSecretStore,
        clock: Clock,
        mint: Callable[[], str] = new_secret,
    ) -> None:
        self._secrets = secrets
        self._clock = clock
        self._mint = mint

    def current(self, user_id: str) -> str:
        existing = self._secrets.get(user_id)
        if existing is not None:
            return existing
        return self._secrets.create(user_id, self._mint(), self._clock.now())

    def rotate(self, user_id: str) -> str:
        secret = self._mint()
        self._secrets.replace(user_id, secret, self._clock.now())
        info("webhook secret rotated", userId=user_id)
        return secret


class DeliveryResult(StrEnum):
    SKIPPED = "skipped"  # no pending event: delivered or stopped already, unknown, or none
    DELIVERED = "delivered"
    FAILED = "failed"  # stopped for good: 410, a refused URL, or the last attempt
    RETRY = "retry"  # recorded; the task must fail so that Cloud Tasks retries it


class WebhookDeliverer:
    def __init__(
        self,
        generations: GenerationReader,
        deliveries: WebhookDeliveryStore,
        secrets: WebhookSecrets,
        sender: WebhookSender,
        clock: Clock,
        max_attempts: int,
    ) -> None:
        self._generations = generations
        self._deliveries = deliveries
        self._secrets = secrets
        self._sender = sender
        self._clock = clock
        self._max_attempts = max_attempts

    def deliver(self, request_id: str) -> DeliveryResult:
        """One attempt at the request's event. Infrastructure errors (Firestore) propagate, and
        the task is retried; every receiver's answer is recorded."""
        record = self._generations.get(request_id)
        if (
            record is None
            or record.webhook_url is None
            or record.webhook is None
            or record.webhook.state != "pending"
        ):
            return DeliveryResult.SKIPPED
        if record.webhook.attempts >= self._max_attempts:
            # Cloud Tasks retried once more than we count (e.g. a crash after the last POST).
            return self._finish(
                record,
                "failed",
                record.webhook.last_status_code,
                record.webhook.last_error,
                f"no 2xx answer after {record.webhook.attempts} attempts",
            )
        attempt = record.webhook.attempts + 1
        body = json.dumps(webhook_event(record), ensure_ascii=False, separators=(",", ":"))
        payload = body.encode("utf-8")
        timestamp = int(self._clock.now().timestamp())
        headers = signed_headers(
            self._secrets.current(record.user_id), record.webhook.event_id, timestamp, payload
        )
        try:
            response = self._sender.post(record.webhook_url, payload, headers)
        except WebhookUrlRefused as refused:
            return self._finish(record, "failed", None, UNREACHABLE, f"webhookUrl {refused}")
        code = response.status_code
        if code is not None and 200 <= code < 300:
            return self._finish(record, "delivered", code, None, None)
        error = http_status_error(code) if code is not None else response.error or UNREACHABLE
        if code == GONE:
            return self._finish(record, "failed", code, error, response.detail)
        if attempt >= self._max_attempts:
            detail = f"{response.detail or error} (last of {attempt} attempts)"
            return self._finish(record, "failed", code, error, detail)
        # RETRY (or SKIPPED: another attempt finished it)
        return self._finish(record, "pending", code, error, response.detail)

    def _finish(
        self,
        record: GenerationRecord,
        state: WebhookState,
        status_code: int | None,
        error: str | None,
        detail: str | None,
    ) -> DeliveryResult:
        """Record the attempt; `error` (a category of core.webhook_http) is what the owner
        sees, `detail` only goes to the log."""
        updated = self._deliveries.record_attempt(
            record.id, self._clock.now(), state=state, status_code=status_code, error=error
        )
        fields = {
            "generationRequestId": record.id,
            "state": state,
            "statusCode": status_code,
            "reason": error,
            "detail": detail,
        }
        if updated is None:
            warn("webhook attempt not recorded: another attempt finished it", **fields)
            return DeliveryResult.SKIPPED
        fields["attempts"] = updated.attempts
        if state == "delivered":
            info("webhook delivered", **fields)
            return DeliveryResult.DELIVERED
        warn("webhook attempt failed", **fields)
        return DeliveryResult.FAILED if state == "failed" else DeliveryResult.RETRY
