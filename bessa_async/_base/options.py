"""Per-call escape hatches: the checks of ``headers=``, ``extra_headers=``, ``extra_params=`` and
a raw request's method.

The library owns some headers (the token's ``Authorization``, ``Idempotency-Key`` of a job
submission, ...) and some query parameters (``cursor``, ``limit``, each typed filter). An escape
hatch may add to them, never replace them: a collision is refused before anything is sent, so a
typo cannot silently unfilter a listing or resend a job under another key. Pure functions.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, Final
from uuid import UUID

from .errors import InvalidTypeError, InvalidValueError

__all__ = [
    "OWNED_HEADERS",
    "ParamValue",
    "check_extra_params",
    "check_headers",
    "check_method",
    "library_headers",
    "merge_headers",
]

ParamValue = (
    str
    | int
    | bool
    | Decimal
    | UUID
    | datetime
    | Sequence[str | int | bool | Decimal | UUID]
    | None
)
"""A query parameter's value, encoded as :func:`bessa_async.encode_params` says (None: left out)."""

#: Lower-case header names the library or aiohttp sets itself, and where to set each instead.
#: Refused in every ``headers=`` / ``extra_headers=``: the token, a job's key and the body's
#: framing must not be replaced, and a second ``Transfer-Encoding`` or ``Content-Length`` would
#: make a request the server reads differently (a GET that waits for a body until its deadline).
OWNED_HEADERS: Final[Mapping[str, str]] = {
    "authorization": "the client's token",
    "idempotency-key": "submit(idempotency_key=...)",
    "user-agent": "BessaClient(user_agent=...)",
    "accept": "the library (it reads JSON only)",
    "content-type": "the library (it sends JSON only)",
    "content-length": "aiohttp, from the body",
    "transfer-encoding": "aiohttp, from the body",
    "content-encoding": "the library (it sends plain JSON)",
    "expect": "aiohttp",
    "connection": "aiohttp (it keeps connections alive)",
    "keep-alive": "aiohttp (it keeps connections alive)",
    "upgrade": "aiohttp",
    "te": "aiohttp",
    "trailer": "aiohttp",
    "host": "the base URL",
}


def library_headers(user_agent: str, *, has_body: bool) -> dict[str, str]:
    """The headers the library sets on every request it sends itself (each one of
    :data:`OWNED_HEADERS`; the token and a job's key are added where they are known)."""
    headers = {"Accept": "application/json", "User-Agent": user_agent}
    if has_body:
        headers["Content-Type"] = "application/json"
    return headers


# RFC 9110's token: what a method and a header name are made of.
_TOKEN: Final = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
# A field value may hold a tab, never another control character (CR and LF split the header).
_CONTROL: Final = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


def check_method(method: object) -> str:
    """``method`` as an upper-case HTTP method (``"get"`` is ``"GET"``).

    Raises:
        InvalidTypeError: not a str.
        InvalidValueError: not an HTTP token (a space, a slash, nothing).
    """
    if not isinstance(method, str):
        raise InvalidTypeError(f"method must be a str such as 'GET', got {type(method).__name__}")
    if not _TOKEN.fullmatch(method):
        raise InvalidValueError(
            f"method {method!r} is not an HTTP method (one word without spaces, such as 'GET' "
            "or 'POST'); nothing was sent"
        )
    return method.upper()


def check_headers(headers: object, *, where: str) -> dict[str, str]:
    """``headers`` as a plain dict, refusing the library's own names and unsafe values.

    Raises:
        InvalidTypeError: not a mapping of str to str.
        InvalidValueError: a name the library owns or that is not an HTTP token, or a value
            with a control character other than a tab (a line break would inject a header).
    """
    if headers is None:
        return {}
    if not isinstance(headers, Mapping):
        raise InvalidTypeError(f"{where} must be a mapping of header names to str")
    checked: dict[str, str] = {}
    for name, value in headers.items():
        if not isinstance(name, str) or not name:
            raise InvalidTypeError(f"{where}: header names must be non-empty str, got {name!r}")
        if not isinstance(value, str):
            # The value is not shown: it may be a credential.
            raise InvalidTypeError(
                f"{where}: the value of header {name!r} must be a str, got a "
                f"{type(value).__name__}; nothing was sent"
            )
        owner = OWNED_HEADERS.get(name.lower())
        if owner is not None:
            raise InvalidValueError(
                f"{where}: header {name!r} is set by the library and cannot be overridden "
                f"(it comes from {owner}); nothing was sent"
            )
        if not _TOKEN.fullmatch(name):
            raise InvalidValueError(
                f"{where}: header name {name!r} may hold letters, digits and !#$%&'*+-.^_`|~ "
                "only (no space, colon or line break); nothing was sent"
            )
        if _CONTROL.search(value):
            raise InvalidValueError(
                f"{where}: the value of header {name!r} contains a line break or another control "
                "character; nothing was sent"
            )
        checked[name] = value
    return checked


def merge_headers(base: Mapping[str, str], extra: Mapping[str, str]) -> dict[str, str]:
    """``base`` with ``extra`` on top, names compared without case (HTTP's rule)."""
    lowered = {name.lower() for name in extra}
    return {**{k: v for k, v in base.items() if k.lower() not in lowered}, **extra}


def check_extra_params(extra: object, *, taken: frozenset[str], owner: str) -> dict[str, Any]:
    """``extra_params`` as a dict, refusing names that a typed argument or the library sets.

    Values are judged later by :func:`~bessa_async.encode_params`, like every other parameter.

    Raises:
        InvalidTypeError: not a mapping with str names.
        InvalidValueError: a name in ``taken``: pass it as the typed argument instead.
    """
    if extra is None:
        return {}
    if not isinstance(extra, Mapping):
        raise InvalidTypeError(f"{owner}: extra_params must be a mapping of names to values")
    params: dict[str, Any] = {}
    for name, value in extra.items():
        if not isinstance(name, str) or not name:
            raise InvalidTypeError(
                f"{owner}: extra_params names must be non-empty str, got {name!r}"
            )
        if name in taken:
            raise InvalidValueError(
                f"{owner}: extra_params {name!r} is set by the library or a typed argument; "
                f"pass {name}= itself instead (nothing was sent)"
            )
        params[name] = value
    return params
