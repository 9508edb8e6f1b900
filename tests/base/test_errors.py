"""Mapping an HTTP answer to the error tree: pure, no event loop."""

from __future__ import annotations

import ast
import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Final
from zoneinfo import ZoneInfoNotFoundError

import pytest
from hypothesis import given
from hypothesis import strategies as st

import bessa_async
from bessa_async import (
    APIError,
    AuthenticationError,
    BadRequestError,
    BessaError,
    ConfigurationError,
    ConflictError,
    ConnectError,
    InputError,
    InvalidTypeError,
    InvalidValueError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    RequestTimeout,
    ServerError,
    TransportError,
    UnknownTimeZoneError,
    ValidationError,
    business_day,
)
from bessa_async._base.errors import ERROR_BODY_LIMIT, error_for_response, parse_retry_after


def _map(status: int, body: object = None, **headers: str) -> APIError:
    raw = b"" if body is None else body if isinstance(body, bytes) else json.dumps(body).encode()
    return error_for_response(status, headers, raw, method="GET", path="articles/")


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, BadRequestError),
        (401, AuthenticationError),
        (403, PermissionDeniedError),
        (404, NotFoundError),
        (409, ConflictError),
        (429, RateLimitError),
        (500, ServerError),
        (502, ServerError),
        (503, ServerError),
        (504, ServerError),
        (418, APIError),
    ],
)
def test_status_maps_to_its_class(status: int, cls: type[APIError]) -> None:
    """Each documented status has its own exception class; others stay a plain APIError."""
    error = _map(status, {"detail": "Nope."})
    assert type(error) is cls
    assert error.status == status
    assert error.detail == "Nope."
    assert str(error) == f"{status} on GET articles/: Nope."


def test_drf_field_map_is_a_validation_error_with_nesting_kept() -> None:
    """A 400 field map becomes ValidationError; nested lists and maps stay as DRF sent them."""
    body = {
        "lines": [{}, {"article": ["Object with id=x does not exist."]}],
        "sales_point": ["This field is required."],
        "non_field_errors": ["Order is empty."],
    }
    error = _map(400, body)
    assert isinstance(error, ValidationError)
    assert error.errors == {
        "lines": [{}, {"article": ["Object with id=x does not exist."]}],
        "sales_point": ["This field is required."],
    }
    assert error.non_field_errors == ("Order is empty.",)
    assert "lines[1].article: Object with id=x does not exist." in error.detail
    assert "sales_point: This field is required." in error.detail
    assert "non_field_errors: Order is empty." in error.detail


def test_drf_list_body_becomes_non_field_errors() -> None:
    """DRF answers a ValidationError raised with a list as a bare JSON list."""
    error = _map(400, ["Cursor invalid."])
    assert isinstance(error, ValidationError)
    assert error.non_field_errors == ("Cursor invalid.",)


def test_400_with_detail_is_a_plain_bad_request() -> None:
    """A 400 with only a detail (e.g. a parse error) is not a field map."""
    error = _map(400, {"detail": "JSON parse error - Expecting value"})
    assert type(error) is BadRequestError
    assert error.errors == {}


@pytest.mark.parametrize(
    "body", [b"<html><head><title>502 Bad Gateway</title></head></html>", b"", b"   "]
)
def test_html_or_empty_5xx_is_a_server_error(body: bytes) -> None:
    """A proxy's HTML page or an empty body still maps by status, with a readable detail."""
    error = _map(502, body)
    assert isinstance(error, ServerError)
    assert error.body == body
    if body.strip():
        assert "502 Bad Gateway" in error.detail
    else:
        assert error.detail == "empty body"


def test_request_id_and_retry_after_are_carried() -> None:
    """The server's request id and Retry-After land on the error and in its message."""
    headers = {"Retry-After": "7", "X-Request-ID": "abc"}
    error = _map(429, {"detail": "Request was throttled."}, **headers)
    assert isinstance(error, RateLimitError)
    assert error.retry_after == 7.0
    assert error.request_id == "abc"
    assert "retry after 7 s" in str(error)
    assert "abc" in str(error)


def test_retry_after_parses_seconds_and_http_dates() -> None:
    """Retry-After is delta-seconds or an HTTP date; junk and absence give None."""
    now = datetime(2026, 6, 15, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("120", now=now) == 120.0
    assert parse_retry_after("0", now=now) == 0.0
    assert parse_retry_after("-3", now=now) == 0.0
    assert parse_retry_after("Mon, 15 Jun 2026 12:00:30 GMT", now=now) == 30.0
    assert parse_retry_after("Mon, 15 Jun 2026 11:00:00 GMT", now=now) == 0.0
    assert parse_retry_after("soon", now=now) is None
    assert parse_retry_after("nan", now=now) is None
    assert parse_retry_after("", now=now) is None
    assert parse_retry_after(None, now=now) is None


def test_transport_errors_are_also_builtin_errors() -> None:
    """ConnectError is an OSError and RequestTimeout a TimeoutError, for generic handlers."""
    connect = ConnectError("cannot connect", method="GET", path="x/")
    timeout = RequestTimeout("too slow", method="GET", path="x/", request_sent=True)
    assert isinstance(connect, OSError)
    assert isinstance(connect, TransportError)
    assert not connect.request_sent
    assert str(connect) == "cannot connect"
    assert isinstance(timeout, TimeoutError)
    assert isinstance(timeout, BessaError)
    assert str(timeout) == "too slow"


def test_input_errors_are_bessa_errors_and_builtin_errors() -> None:
    """Every input error is caught by ``except BessaError`` and by the built-in handler that
    caught it before the tree had a place for it."""
    assert issubclass(InvalidValueError, InputError)
    assert issubclass(InvalidValueError, ValueError)
    assert issubclass(InvalidTypeError, InputError)
    assert issubclass(InvalidTypeError, TypeError)
    assert not issubclass(InvalidTypeError, ValueError)  # siblings: a TypeError stays one
    assert issubclass(ConfigurationError, InvalidValueError)
    assert issubclass(InputError, BessaError)


def test_an_unknown_zone_is_still_a_zoneinfo_error() -> None:
    """``except ZoneInfoNotFoundError`` (or ``KeyError``) around a day helper keeps working,
    and the message reads as written, without KeyError's quotes."""
    with pytest.raises(ZoneInfoNotFoundError) as info:
        business_day(date(2026, 6, 15), "Europe/Wien")
    assert isinstance(info.value, UnknownTimeZoneError)
    assert isinstance(info.value, KeyError)
    assert isinstance(info.value, InvalidValueError)
    assert str(info.value).startswith("unknown time zone 'Europe/Wien'")


# Raises of a built-in ValueError / TypeError that no caller of the library meets, each with why.
_BUILTIN_RAISES_ALLOWED: Final = {
    **dict.fromkeys(
        [
            ("_models/convert.py", "_decimal"),
            ("_models/convert.py", "_uuid"),
            ("_models/convert.py", "_datetime"),
            ("_models/convert.py", "_strict.structure"),
            ("_models/convert.py", "make_converter.open_enum_hook.structure"),
            ("_models/convert.py", "make_converter.model_structure.structure"),
            ("_models/convert.py", "_add_fast_paths.idents"),
            ("_models/convert.py", "_add_fast_paths.maybe_text"),
            ("_models/convert.py", "_add_fast_paths.tuple_hook.structure"),
        ],
        "a cattrs structure hook: cattrs collects what it raises and decode() turns that into "
        "a DecodeError naming each field; make_converter() users get cattrs' own convention",
    ),
    **dict.fromkeys(
        [("_models/readers.py", "unknown_fields")],
        "called from a model's structure hook and its compiled reader: decode() turns what it "
        "raises into a DecodeError naming the item",
    ),
    **dict.fromkeys(
        [("_base/jsontext.py", "parse_json")],
        "the one reader of outside JSON text: every caller catches its ValueError and raises "
        "its own BessaError (DecodeError, ResumeTokenError, InvalidValueError)",
    ),
}


def _builtin_raises(path: Path) -> list[tuple[str, int]]:
    """(enclosing function, line) of each ``raise ValueError(...)`` / ``raise TypeError(...)``."""
    found: list[tuple[str, int]] = []

    def visit(node: ast.AST, scope: tuple[str, ...]) -> None:
        for child in ast.iter_child_nodes(node):
            inner = scope
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                inner = (*scope, child.name)
            if isinstance(child, ast.Raise) and child.exc is not None:
                raised = child.exc.func if isinstance(child.exc, ast.Call) else child.exc
                if isinstance(raised, ast.Name) and raised.id in ("ValueError", "TypeError"):
                    found.append((".".join(scope), child.lineno))
            visit(child, inner)

    visit(ast.parse(path.read_text(encoding="utf-8")), ())
    return found


def test_library_code_raises_no_bare_builtin_input_errors() -> None:
    """Library code raises InvalidValueError / InvalidTypeError (or another BessaError), not a
    bare ValueError / TypeError that ``except BessaError`` would miss. The sandbox
    (``bessa_async.testing``) is the server side, with errors of its own, and is not scanned."""
    package = Path(bessa_async.__file__).parent
    offenders = []
    allowed_seen = set()
    for path in sorted(package.rglob("*.py")):
        relative = path.relative_to(package)
        if relative.parts[0] == "testing":
            continue
        for function, line in _builtin_raises(path):
            key = (relative.as_posix(), function)
            if key in _BUILTIN_RAISES_ALLOWED:
                allowed_seen.add(key)
            else:
                offenders.append(f"{relative}:{line} in {function or 'the module'}")
    assert offenders == [], "raise InvalidValueError / InvalidTypeError instead"
    assert allowed_seen == set(_BUILTIN_RAISES_ALLOWED), "an allow-list entry no longer applies"


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=30,
)


@given(
    status=st.integers(min_value=300, max_value=599),
    body=st.one_of(st.binary(max_size=300), _JSON.map(lambda v: json.dumps(v).encode())),
    retry_after=st.one_of(st.none(), st.text(max_size=30)),
)
def test_error_for_response_never_raises(status: int, body: bytes, retry_after: str | None) -> None:
    """Documented as never raising: any status, any body, any Retry-After gives an APIError."""
    headers = {} if retry_after is None else {"Retry-After": retry_after}
    error = error_for_response(status, headers, body, method="GET", path="x/")
    assert isinstance(error, APIError)
    assert error.status == status
    assert error.body == body[:ERROR_BODY_LIMIT]
