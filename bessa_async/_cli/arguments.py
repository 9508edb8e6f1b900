"""What the ``bessa`` command's options accept (pure).

Each is an argparse ``type=``: a bad value raises ``ArgumentTypeError`` with what is accepted, so
argparse turns it into a usage error (exit 2, ``bessa export: error: argument --tz: ...``)
before anything runs. Rules that join two options are checked after parsing (:func:`day_range`).
"""

from __future__ import annotations

import argparse
import math
import os
import re
import uuid
from collections.abc import Callable
from datetime import date, datetime, time
from typing import TypeVar
from zoneinfo import ZoneInfo

from .._base.errors import ConfigurationError, InvalidValueError
from .._base.jsontext import parse_json
from .._base.urls import validate_base_url
from .._base.validate import check_idempotency_key, delimiter_problem

__all__ = [
    "aware_moment",
    "base_url",
    "day",
    "day_range",
    "delimiter",
    "destination",
    "file_problem",
    "idempotency_key",
    "job_reference",
    "name_in_database",
    "non_negative_int",
    "param",
    "positive_int",
    "positive_seconds",
    "resource_name",
    "time_of_day",
    "zone",
]

N = TypeVar("N", int, float)


def _number(
    convert: Callable[[str], N], accepted: str, ok: Callable[[N], bool]
) -> Callable[[str], N]:
    def parse(text: str) -> N:
        try:
            value: N | None = convert(text)
        except ValueError:
            value = None
        if value is None or not ok(value):
            raise argparse.ArgumentTypeError(f"expected {accepted}, got {text!r}")
        return value

    return parse


positive_int = _number(int, "a whole number >= 1", lambda n: n >= 1)
non_negative_int = _number(int, "a whole number >= 0", lambda n: n >= 0)
positive_seconds = _number(float, "seconds > 0, e.g. 120 or 0.5", lambda n: 0 < n < math.inf)


def param(text: str) -> tuple[str, str]:
    """``NAME=VALUE`` as a pair."""
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    return name, value


def day(text: str) -> date:
    """A date in ISO form, ``2026-06-15``."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date like 2026-06-15, got {text!r}") from None


def aware_moment(text: str) -> datetime:
    """An ISO 8601 moment with its UTC offset, ``2026-06-01T00:00:00+02:00`` (``Z`` too)."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        moment = None
    if moment is None or moment.utcoffset() is None:
        raise argparse.ArgumentTypeError(
            f"expected a moment with its offset like 2026-06-01T00:00:00+02:00, got {text!r}"
        )
    return moment


def time_of_day(text: str) -> time:
    """A local time of day as ``HH:MM``, ``00:00`` to ``23:59``."""
    try:
        return datetime.strptime(text, "%H:%M").time()
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a time of day HH:MM from 00:00 to 23:59, e.g. 06:00, got {text!r}"
        ) from None


def zone(text: str) -> str:
    """An IANA time zone name the system knows, kept as the name."""
    try:
        ZoneInfo(text)
    except (KeyError, ValueError, OSError):  # unknown, malformed, or a directory of zones
        raise argparse.ArgumentTypeError(
            f"unknown time zone {text!r}; expected an IANA name such as Europe/Vienna"
        ) from None
    return text


def base_url(text: str) -> str:
    """An API root the client accepts (https, or http on loopback)."""
    try:
        validate_base_url(text)
    except ConfigurationError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def job_reference(text: str) -> str:
    """A job id (a UUID) or a job token (the JSON object ``bessa order submit`` printed)."""
    try:
        uuid.UUID(text)
        return text
    except ValueError:
        pass
    try:
        is_object = isinstance(parse_json(text), dict)
    except ValueError:
        is_object = False
    if not is_object:
        raise argparse.ArgumentTypeError(
            "expected a job token (the JSON 'bessa order submit' printed) or a job id (a UUID), "
            f"got {text!r}"
        )
    return text


def idempotency_key(text: str) -> str:
    """An ``Idempotency-Key`` the client sends: 1-255 visible ASCII characters."""
    try:
        return check_idempotency_key(text)
    except InvalidValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def day_range(first: date, last: date | None) -> str | None:
    """Why ``--day first --to last`` is not a range of days, or None."""
    if last is not None and last < first:
        return f"argument --to: {last} is before --day {first}; --to is the last day, inclusive"
    return None


def delimiter(text: str) -> str:
    """One character to separate CSV fields (``\\t`` may be written as ``tab``)."""
    text = "\t" if text == "tab" else text
    if problem := delimiter_problem(text):
        raise argparse.ArgumentTypeError(problem)
    return text


_NAME = re.compile(r"[a-z][a-z0-9_]{0,62}")
_DESTINATION = re.compile(r"[a-z][a-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")


def name_in_database(text: str) -> str:
    """A pipeline or dataset name kept as typed in every database: lowercase letters, digits
    and ``_``, a letter first, at most 63 characters (PostgreSQL's limit)."""
    if not _NAME.fullmatch(text):
        raise argparse.ArgumentTypeError(
            "expected lowercase letters, digits and _, a letter first, at most 63 characters "
            f"(e.g. bessa_shop1), got {text!r}"
        )
    return text


def destination(text: str) -> str:
    """A dlt destination's name (``duckdb``, ``postgres``) or a module path to one."""
    if not _DESTINATION.fullmatch(text):
        raise argparse.ArgumentTypeError(
            f"expected a dlt destination such as duckdb, postgres or bigquery, got {text!r}"
        )
    return text


def resource_name(text: str) -> str:
    """A resource as the client's attribute: ``tax-rates`` is ``tax_rates`` (argparse's
    ``choices`` then says which exist)."""
    return text.replace("-", "_")


def file_problem(option: str, path: str) -> str | None:
    """Why ``option`` cannot write a file at ``path`` (no such folder, or a folder there), or
    None; checked before anything runs."""
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        return f"argument {option}: no directory {folder!r} to write {path!r} in"
    if os.path.isdir(path):
        return f"argument {option}: {path!r} is a directory; expected a file name"
    return None
