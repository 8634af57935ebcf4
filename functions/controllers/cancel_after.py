"""The `Cancel-After` header of a create (Replicate's): the request's deadline, as a duration."""

from __future__ import annotations

import re
from datetime import timedelta

from core.errors import FieldError, ValidationError

CANCEL_AFTER_HEADER = "Cancel-After"
MIN_CANCEL_AFTER = timedelta(seconds=5)
MAX_CANCEL_AFTER = timedelta(hours=24)
# Whole numbers with a unit, largest unit first, each at most once: `30s`, `5m`, `1h`, `1h30m`.
# No bare seconds, fractions, signs or spaces; the length bound keeps huge numbers out.
_DURATION = re.compile(r"(?:([0-9]{1,6})h)?(?:([0-9]{1,6})m)?(?:([0-9]{1,6})s)?")
_UNITS = (3600, 60, 1)


def parse_cancel_after(values: list[str]) -> timedelta | None:
    """The duration of the request's one `Cancel-After` header (None without one): 5 s to
    24 h, else 400 `invalid_cancel_after`, decided before anything is charged."""
    if not values:
        return None
    match = _DURATION.fullmatch(values[0]) if len(values) == 1 else None
    if match is None or not any(match.groups()):
        raise _invalid("Must be one duration such as 30s, 5m, 1h or 1h30m")
    seconds = sum(int(n) * unit for n, unit in zip(match.groups(), _UNITS, strict=True) if n)
    duration = timedelta(seconds=seconds)
    if not MIN_CANCEL_AFTER <= duration <= MAX_CANCEL_AFTER:
        raise _invalid("Must be between 5s and 24h")
    return duration


def _invalid(message: str) -> ValidationError:
    return ValidationError(
        "Invalid Cancel-After",
        error="invalid_cancel_after",
        details=[FieldError(CANCEL_AFTER_HEADER, message)],
    )
