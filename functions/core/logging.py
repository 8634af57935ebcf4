"""Structured logging through the firebase-functions logger (Cloud Logging in production)."""

from __future__ import annotations

import traceback
import uuid
from typing import Any

from firebase_functions import logger


def info(message: str, **fields: Any) -> None:
    logger.info(message, **fields)


def warn(message: str, **fields: Any) -> None:
    logger.warn(message, **fields)


def error(message: str, **fields: Any) -> None:
    """Something an operator must look at (no exception to show)."""
    logger.error(message, **fields)


def log_exception(message: str, exc: BaseException, **fields: Any) -> str:
    """Log an exception with a fresh correlation id and return the id (safe to show clients)."""
    correlation_id = uuid.uuid4().hex
    logger.error(
        message,
        correlation_id=correlation_id,
        exception=repr(exc),
        stack="".join(traceback.format_exception(exc)),
        **fields,
    )
    return correlation_id
