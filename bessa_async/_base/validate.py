"""Checks of caller input, shared by every module that takes values from a caller.

Each check either returns the value (converted where that is the point: a UUID's text becomes a
``UUID``) or raises an :class:`~bessa_async.InputError` (also the built-in ``ValueError`` or
``TypeError``) with a message that names the argument. Pure; imports only the error classes.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any, Final, TypeGuard, TypeVar

from .errors import InvalidTypeError, InvalidValueError

__all__ = [
    "check_decimal",
    "check_idempotency_key",
    "check_int",
    "check_items",
    "check_text",
    "check_uuid",
    "delimiter_problem",
    "is_int",
    "is_number",
    "json_number",
    "parse_uuid",
]

T = TypeVar("T")


def is_int(value: object) -> TypeGuard[int]:
    """Whether ``value`` is an ``int``; a ``bool`` is not one here, though Python says it is."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: object) -> TypeGuard[int | float]:
    """Whether ``value`` is an ``int`` or a ``float``, a ``bool`` not included."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def check_int(name: str, value: object, *, minimum: int) -> int:
    """``value`` as an ``int`` (not a ``bool``) of at least ``minimum``, else an error
    naming ``name``: "a positive integer" for a minimum of 1, "an integer >= N" otherwise."""
    if not is_int(value) or value < minimum:
        wanted = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
        raise InvalidValueError(f"{name} must be {wanted}, got {value!r}")
    return value


def parse_uuid(value: object) -> uuid.UUID | None:
    """``value`` as a UUID if it is one or its text, else ``None``."""
    if isinstance(value, uuid.UUID):
        return value
    if isinstance(value, str):
        try:
            return uuid.UUID(value)
        except ValueError:
            pass
    return None


def check_uuid(name: str, value: object) -> uuid.UUID:
    """``value`` as a UUID (a ``UUID`` or its text), else an error naming ``name``."""
    ident = parse_uuid(value)
    if ident is None:
        raise InvalidValueError(f"{name} must be a UUID, got {value!r}")
    return ident


def check_decimal(
    name: str,
    value: object,
    *,
    places: int,
    digits: int,
    minimum: Decimal,
    inclusive: bool,
) -> Decimal:
    """``value`` as an exact ``Decimal`` with at most ``places`` decimals and at most ``digits``
    digits in all (a DRF ``DecimalField``'s ``max_digits``), at or above (or, not ``inclusive``,
    above) ``minimum``. A ``float`` is refused: it cannot hold cents exactly."""
    if isinstance(value, float):
        raise InvalidTypeError(
            f"{name} is a float ({value!r}); floats cannot hold cents exactly: "
            f"pass decimal.Decimal({str(value)!r})"
        )
    if not (isinstance(value, Decimal) or is_int(value)):
        raise InvalidTypeError(f"{name} must be a decimal.Decimal, got {value!r}")
    number = Decimal(value)  # exact, however long (str() of a huge int would fail)
    if not number.is_finite():
        raise InvalidValueError(f"{name} must be finite, got {value}")
    whole = number.adjusted() + 1 if number else 0  # digits before the decimal point
    if whole > digits - places:
        # The value is not shown: an int of 4,300 digits or more cannot even be printed.
        raise InvalidValueError(
            f"{name} has {whole} digits before the decimal point; at most {digits - places} "
            f"are allowed (less than {Decimal(10) ** (digits - places):f})"
        )
    exponent = number.as_tuple().exponent
    if isinstance(exponent, int) and -exponent > places:
        raise InvalidValueError(f"{name}={value} has more than {places} decimals; round it first")
    if number < minimum or (number == minimum and not inclusive):
        relation = ">=" if inclusive else ">"
        raise InvalidValueError(f"{name} must be {relation} {minimum}, got {value}")
    return number


def json_number(value: object) -> Any:  # Any: it goes on to a checked field
    """A number's text read from JSON (``"2.5"``) as a ``Decimal``; anything else (a number,
    ``true``, ``"abc"``) as it is, for :func:`check_decimal` to accept or refuse by name."""
    if isinstance(value, str):
        try:
            return Decimal(value)
        except ArithmeticError:  # decimal.InvalidOperation: not a number's text
            return value
    return value


def check_text(name: str, value: object, limit: int) -> str | None:
    """``None``, or a non-blank ``str`` of at most ``limit`` characters."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidTypeError(f"{name} must be a str, got {value!r}")
    if not value.strip():
        raise InvalidValueError(f"{name} must not be blank")
    if len(value) > limit:
        raise InvalidValueError(f"{name} has {len(value)} characters; at most {limit} are allowed")
    return value


def check_items(name: str, value: object, kind: type[T], *, min_items: int = 0) -> tuple[T, ...]:
    """An iterable of ``kind`` as a tuple (a str or a mapping is refused)."""
    if isinstance(value, str | bytes | Mapping) or not isinstance(value, Iterable):
        raise InvalidTypeError(f"{name} must be a list of {kind.__name__}, got {value!r}")
    items = tuple(value)
    for index, item in enumerate(items):
        if not isinstance(item, kind):
            raise InvalidTypeError(f"{name}[{index}] must be a {kind.__name__}, got {item!r}")
    if len(items) < min_items:
        raise InvalidValueError(f"{name} needs at least {min_items} item(s), got none")
    return items


_KEY_OK: Final = re.compile(r"[\x21-\x7e]{1,255}")


def check_idempotency_key(value: object) -> str:
    """An ``Idempotency-Key`` as sent: 1-255 visible ASCII characters (a UUID is written out)."""
    text = str(value) if isinstance(value, uuid.UUID) else value
    if not isinstance(text, str) or not _KEY_OK.fullmatch(text):
        raise InvalidValueError(
            f"idempotency_key must be 1-255 visible ASCII characters (a UUID, say), got {value!r}"
        )
    return text


def delimiter_problem(delimiter: object) -> str | None:
    """Why ``delimiter`` cannot separate CSV fields, or None."""
    if not isinstance(delimiter, str) or len(delimiter) != 1:
        return f"expected one character such as ',' or ';', got {delimiter!r}"
    if delimiter in '"\r\n' or delimiter.isalnum():
        return f"{delimiter!r} cannot separate fields; use ',', ';', '|' or a tab"
    return None
