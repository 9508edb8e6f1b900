"""Pure URL work: the base URL's safety, resolving paths, redirects, and query parameters.

No I/O here; everything is tested without an event loop.
"""

from __future__ import annotations

import enum
import functools
import ipaddress
import sys
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Final
from urllib.parse import quote
from uuid import UUID

from yarl import URL

from .errors import (
    ConfigurationError,
    ForeignOriginError,
    InvalidTypeError,
    InvalidValueError,
)

__all__ = [
    "MAX_REDIRECTS",
    "encode_params",
    "is_loopback",
    "redirect_target",
    "relative_path",
    "resolve",
    "validate_base_url",
    "with_query",
]

_CENTS: Final = Decimal("0.01")
# Characters left readable in query values. "+" is deliberately absent: servers decode a raw
# "+" as a space, which turns "+02:00" into " 02:00".
_QUERY_SAFE: Final = ":,"
#: How many redirects one attempt follows before giving up.
MAX_REDIRECTS: Final = 5
_REDIRECTS: Final = frozenset({301, 302, 303, 307, 308})


def is_loopback(host: str | None) -> bool:
    """Whether ``host`` names this machine (``localhost``, 127.0.0.0/8, ``::1``)."""
    if not host:
        return False
    if host.lower() == "localhost" or host.lower().endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def validate_base_url(url: str | URL, *, allow_insecure: bool = False) -> URL:
    """Check a base URL and normalise it to end with ``/``.

    ``http://`` is allowed only for loopback hosts (the sandbox) or with ``allow_insecure``,
    because the token would otherwise travel in clear text.

    Raises:
        ConfigurationError: the URL is not absolute http(s), carries a query, fragment or
            credentials, or is plain http to a remote host.
    """
    parsed = URL(str(url))
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise ConfigurationError(
            f"base_url must be an absolute http(s) URL such as "
            f"'https://api.diekasse.app/v1/public/', got {str(url)!r}"
        )
    if parsed.user or parsed.password:
        raise ConfigurationError("base_url must not carry credentials; pass token= instead")
    if parsed.query_string or parsed.fragment:
        raise ConfigurationError(f"base_url must not have a query or fragment, got {str(url)!r}")
    if parsed.scheme == "http" and not allow_insecure and not is_loopback(parsed.host):
        raise ConfigurationError(
            f"refusing plain http to {parsed.host!r}: the token would travel unencrypted. "
            "Use https://, or pass allow_insecure=True if you really mean it"
        )
    if not parsed.path.endswith("/"):
        parsed = parsed.with_path(parsed.path + "/")
    return parsed


def _origin(url: URL) -> tuple[str, str | None, int | None]:
    return (url.scheme, url.host.lower() if url.host else None, url.port)


def resolve(base: URL, target: str | URL) -> URL:
    """The absolute URL for a path relative to ``base``, or an absolute URL on its origin.

    A leading ``/`` is taken relative to the base URL (``"/articles/"`` is ``"articles/"``),
    since every resource lives under it.

    Raises:
        ForeignOriginError: an absolute URL on another scheme, host or port, with
            credentials, or one that cannot be read as a URL.
        InvalidValueError: a path that climbs out of the base URL with ``..``.
    """
    return _resolve(base, str(target))


def _readable(base: URL, text: str, make: Callable[[], URL]) -> URL:
    """The URL ``make()`` builds from ``text``, read through; one yarl cannot read (a backslash
    or two ports in the authority, a host that is no valid name) is refused like a foreign
    one, since where it leads is unknown."""
    try:
        url = make()
        url.host  # noqa: B018  (decoded on first use: a bad IDNA label fails here)
        str(url)
    except UnicodeError as exc:  # the codec's own words differ from one Python to the next
        raise ForeignOriginError(
            text, str(base.origin()), f"its host is not a name the idna codec can read ({exc})"
        ) from None
    except Exception as exc:  # ValueError, and IndexError for "0://[]@"
        raise ForeignOriginError(
            text, str(base.origin()), f"it is not a URL that can be read ({exc})"
        ) from None
    return url


def _parsed(base: URL, text: str) -> URL:
    return _readable(base, text, lambda: URL(text))


@functools.lru_cache(maxsize=512)  # the same few resource paths, request after request
def _resolve(base: URL, text: str) -> URL:
    candidate = _parsed(base, text)
    if candidate.is_absolute() or text.startswith("//"):
        if _origin(candidate) != _origin(base):
            raise ForeignOriginError(text, str(base.origin()))
        if candidate.raw_user is not None or candidate.raw_password is not None:
            raise ForeignOriginError(
                text, str(base.origin()), "it carries credentials (user:password@)"
            )
        return candidate
    path = text.lstrip("/")
    segments = candidate.path.split("/")
    if ".." in segments or "." in segments:
        raise InvalidValueError(f"path {text!r} must not contain '.' or '..' segments")
    joined = base.join(_parsed(base, path))
    if _origin(joined) != _origin(base):  # a scheme without a host, such as "mailto:x"
        raise ForeignOriginError(text, str(base.origin()))
    return joined


def redirect_target(
    base: URL, method: str, url: URL, status: int, location: str | None
) -> URL | None:
    """Where the answer ``status`` with ``location`` to ``method url`` leads, or None to keep it.

    Only GET and HEAD follow a redirect: a write is never sent again somewhere else. The
    target must stay on the base URL's origin, so the token never follows off-site.

    Raises:
        ForeignOriginError: the ``Location`` points to another scheme, host or port, carries
            credentials, or cannot be read as a URL.
    """
    if status not in _REDIRECTS or not location or method not in ("GET", "HEAD"):
        return None
    return resolve(base, _readable(base, location, lambda: url.join(URL(location))))


def relative_path(base: URL, url: URL) -> str:
    """The path of ``url`` relative to ``base`` (for messages and logs), else its full path."""
    prefix = base.path
    return url.path[len(prefix) :] if url.path.startswith(prefix) else url.path


def _encode_value(name: str, value: Any) -> str:
    # Order matters: bool before int, datetime before date, enum before str.
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, enum.Enum):
        return _encode_value(name, value.value)
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise InvalidValueError(
                f"parameter {name!r} is a naive datetime ({value.isoformat()}); the API would "
                "read it as UTC. Pass an aware datetime, e.g. "
                "datetime(..., tzinfo=zoneinfo.ZoneInfo('Europe/Vienna'))"
            )
        try:
            value.astimezone(UTC)  # what the API (and a sharded listing) compares it as
        except OverflowError:
            raise InvalidValueError(
                f"parameter {name!r} ({value.isoformat()}) lies outside the years 1 to 9999 "
                "once in UTC; pass a time within them"
            ) from None
        return value.isoformat()
    if isinstance(value, date):
        raise InvalidValueError(
            f"parameter {name!r} is a date ({value.isoformat()}); the API reads a bare date as "
            "UTC midnight, which is not a Vienna day. Use bessa_async.business_day(day) for the "
            "day's UTC window, or pass an aware datetime"
        )
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise InvalidValueError(f"parameter {name!r} is {value}; amounts must be finite")
        try:
            exact = value.quantize(_CENTS)
        except InvalidOperation as exc:
            raise InvalidValueError(
                f"parameter {name!r}={value} is too large for an amount"
            ) from exc
        if exact != value:
            raise InvalidValueError(
                f"parameter {name!r}={value} has more than two decimals; round it explicitly"
            )
        return f"{exact:f}"
    if isinstance(value, float):
        raise InvalidTypeError(
            f"parameter {name!r} is a float ({value!r}); floats lose cents. "
            "Pass a decimal.Decimal or a str"
        )
    if isinstance(value, int):
        try:
            return str(value)
        except ValueError:  # over Python's limit of digits: no API value is that long
            raise InvalidValueError(
                f"parameter {name!r} is an int of more than "
                f"{sys.get_int_max_str_digits():,} digits; no API value is that long"
            ) from None
    if isinstance(value, str):
        return str(value)
    if isinstance(value, UUID):
        return str(value)
    raise InvalidTypeError(
        f"parameter {name!r} has unsupported type {type(value).__name__}; pass str, int, bool, "
        "Decimal, UUID, an aware datetime, or a list of those"
    )


def encode_params(params: Mapping[str, Any] | None) -> list[tuple[str, str]]:
    """Turn a mapping of parameters into ordered ``(name, text)`` pairs.

    Aware datetimes become ISO 8601 with their offset; ``Decimal`` a 2-decimal string; UUIDs
    strings; bools ``true``/``false``; ``None`` is dropped; lists and tuples repeat the name.

    Raises:
        InvalidValueError: a naive datetime, a bare date, a Decimal that is not a 2-decimal
            amount, or an int too long to be written as text.
        InvalidTypeError: a float or another unsupported type.
    """
    pairs: list[tuple[str, str]] = []
    if not params:
        return pairs
    for name, value in params.items():
        if value is None:
            continue
        values: Iterable[Any]
        if isinstance(value, list | tuple | set | frozenset):
            values = sorted(value, key=str) if isinstance(value, set | frozenset) else value
        else:
            values = (value,)
        pairs.extend((name, _encode_value(name, item)) for item in values if item is not None)
    return pairs


def with_query(url: URL, pairs: Iterable[tuple[str, str]]) -> URL:
    """``url`` with ``pairs`` appended to its query, percent-encoded so ``+`` travels as ``%2B``.

    The URL's own query (e.g. a ``next`` URL's cursor) is kept byte for byte.
    """
    encoded = "&".join(
        f"{quote(name, safe='')}={quote(value, safe=_QUERY_SAFE)}" for name, value in pairs
    )
    if not encoded:
        return url
    existing = url.raw_query_string
    query = f"{existing}&{encoded}" if existing else encoded
    return URL(str(url.with_query(None).with_fragment(None)) + "?" + query, encoded=True)
