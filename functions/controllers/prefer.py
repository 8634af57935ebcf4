"""The `Prefer` header (RFC 7240). Only `wait=N` is honoured: hold a create or status answer
until the request is terminal or N seconds pass (`wait` alone: MAX_WAIT_SECONDS).

Other preferences and all parameters are ignored. A malformed header, a wait outside 1 to
MAX_WAIT_SECONDS, or two different waits (RFC 7240 keeps the first; holding a thread on a value
the client may not have meant is worse) is a 400 `invalid_prefer`.
"""

from __future__ import annotations

from collections.abc import Iterable

from core.capacity import MAX_WAIT_SECONDS
from core.errors import FieldError, ValidationError

PREFER_HEADER = "Prefer"
PREFERENCE_APPLIED_HEADER = "Preference-Applied"

_TCHAR = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_OWS = frozenset(" \t")  # a set: `"" in _OWS` is False at the end of the text
_MAX_DIGITS = 2  # "60"; a longer number (leading zeros included) is out of range anyway


def parse_wait(header_values: Iterable[str]) -> int | None:
    """The seconds `Prefer: wait` asks for, None when no `wait` preference was sent; raises
    ValidationError (400 `invalid_prefer`) for a malformed header or value."""
    values = list(header_values)
    if not values:
        return None
    waits = {value for name, value in _Scanner(", ".join(values)).preferences() if name == "wait"}
    if not waits:
        return None
    seconds = {_wait_seconds(value) for value in waits}
    if len(seconds) > 1:
        raise _invalid("wait is given more than once with different values")
    return seconds.pop()


def preference_applied(seconds: int) -> dict[str, str]:
    """The answer header that says the wait was honoured."""
    return {PREFERENCE_APPLIED_HEADER: f"wait={seconds}"}


def _wait_seconds(value: str) -> int:
    if value == "":
        return MAX_WAIT_SECONDS
    if not value.isascii() or not value.isdigit() or len(value) > _MAX_DIGITS:
        raise _invalid(f"wait must be a whole number of seconds from 1 to {MAX_WAIT_SECONDS}")
    seconds = int(value)
    if not 1 <= seconds <= MAX_WAIT_SECONDS:
        raise _invalid(f"wait must be a whole number of seconds from 1 to {MAX_WAIT_SECONDS}")
    return seconds


def _invalid(reason: str) -> ValidationError:
    return ValidationError(
        f"Invalid Prefer header: {reason}",
        error="invalid_prefer",
        details=[FieldError(PREFER_HEADER, reason)],
    )


class _Scanner:
    """A single pass over the header text, by the RFC 7240 grammar (no backtracking)."""

    def __init__(self, text: str) -> None:
        self._text = text
        self._at = 0

    def preferences(self) -> list[tuple[str, str]]:
        """(lower-cased name, value) of every preference; "" where no value was given."""
        found: list[tuple[str, str]] = []
        while True:
            self._skip_ows()
            if self._take(","):
                continue  # an empty list element is allowed (the `#` rule)
            if self._at_end():
                return found
            name = self._token().lower()
            value = self._value()
            self._skip_ows()
            while self._take(";"):  # parameters: checked for syntax, otherwise ignored
                self._skip_ows()
                if not (self._at_end() or self._peek() in (";", ",")):
                    self._token()
                    self._value()
                    self._skip_ows()
            found.append((name, value))
            if self._at_end():
                return found
            if not self._take(","):
                raise self._malformed()

    def _value(self) -> str:
        """`BWS "=" BWS word`, or nothing ("")."""
        start = self._at
        self._skip_ows()
        if not self._take("="):
            self._at = start
            return ""
        self._skip_ows()
        if self._peek() == '"':
            return self._quoted()
        if self._peek() in _TCHAR:
            return self._token()
        return ""  # `name=` with no word: the same as no value (RFC 7240, section 2)

    def _token(self) -> str:
        start = self._at
        while self._peek() in _TCHAR:
            self._at += 1
        if self._at == start:
            raise self._malformed()
        return self._text[start : self._at]

    def _quoted(self) -> str:
        self._at += 1  # the opening quote
        chars: list[str] = []
        while True:
            if self._at_end():
                raise self._malformed()
            char = self._peek()
            self._at += 1
            if char == '"':
                return "".join(chars)
            if char == "\\":
                char = self._peek()
                if self._at_end() or not _is_text(char):
                    raise self._malformed()
                self._at += 1
            elif not _is_text(char):
                raise self._malformed()
            chars.append(char)

    def _skip_ows(self) -> None:
        while self._peek() in _OWS:
            self._at += 1

    def _at_end(self) -> bool:
        return self._at >= len(self._text)

    def _peek(self) -> str:
        return self._text[self._at] if self._at < len(self._text) else ""

    def _take(self, char: str) -> bool:
        if self._peek() == char:
            self._at += 1
            return True
        return False

    def _malformed(self) -> ValidationError:
        return _invalid(f"not a list of preferences (at character {self._at + 1})")


def _is_text(char: str) -> bool:
    """Visible ASCII, space, tab, or obs-text (0x80-0xFF), as HTTP allows inside quotes."""
    code = ord(char)
    return char in _OWS or 0x21 <= code <= 0x7E or 0x80 <= code <= 0xFF
