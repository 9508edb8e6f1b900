"""URL safety and query encoding: pure, no event loop."""

from __future__ import annotations

import enum
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest
from hypothesis import given
from hypothesis import strategies as st
from yarl import URL

from bessa_async import BessaError, ConfigurationError, ForeignOriginError, encode_params
from bessa_async._base.urls import (
    is_loopback,
    redirect_target,
    resolve,
    validate_base_url,
    with_query,
)

BASE = URL("https://api.diekasse.app/v1/public/")
VIENNA_SUMMER = timezone(timedelta(hours=2))


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/v1/public/",
        "http://localhost/v1/public/",
        "http://[::1]:9000/v1/public/",
        "https://api.diekasse.app/v1/public/",
    ],
)
def test_base_url_accepts_https_and_loopback_http(url: str) -> None:
    """https anywhere and http on loopback are accepted as they are."""
    assert str(validate_base_url(url)) == url


def test_base_url_gets_its_trailing_slash() -> None:
    """Without the slash, relative paths would replace the last segment."""
    assert str(validate_base_url("https://api.diekasse.app/v1/public")) == str(BASE)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://api.diekasse.app/v1/public/", "plain http"),
        ("http://10.0.0.5/v1/public/", "plain http"),
        ("ftp://api.diekasse.app/", r"absolute http\(s\)"),
        ("api.diekasse.app/v1/public/", r"absolute http\(s\)"),
        ("https://user:pw@api.diekasse.app/v1/public/", "credentials"),
        ("https://api.diekasse.app/v1/public/?a=1", "query"),
    ],
)
def test_base_url_refuses_unsafe_urls(url: str, message: str) -> None:
    """Remote http, other schemes, credentials and queries are refused with a reason."""
    with pytest.raises(ConfigurationError, match=message):
        validate_base_url(url)


def test_insecure_http_needs_explicit_opt_in() -> None:
    """allow_insecure=True is the one way to send the token over plain http remotely."""
    assert validate_base_url("http://pos.example/v1/", allow_insecure=True).scheme == "http"


def test_loopback_detection() -> None:
    """Only this machine's names count as loopback."""
    assert is_loopback("127.0.0.1")
    assert is_loopback("127.8.9.10")
    assert is_loopback("::1")
    assert is_loopback("[::1]")
    assert is_loopback("LOCALHOST")
    assert not is_loopback("192.168.1.1")
    assert not is_loopback("localhost.evil.com")
    assert not is_loopback(None)


def test_resolve_relative_and_same_origin_absolute() -> None:
    """Paths resolve under the base; absolute URLs pass only on the base's origin."""
    assert str(resolve(BASE, "articles/")) == "https://api.diekasse.app/v1/public/articles/"
    assert str(resolve(BASE, "/articles/")) == "https://api.diekasse.app/v1/public/articles/"
    nxt = "https://api.diekasse.app/v1/public/receipts/?cursor=cD0y&limit=100"
    assert str(resolve(BASE, nxt)) == nxt


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.example/v1/public/receipts/?cursor=x",
        "http://api.diekasse.app/v1/public/receipts/",
        "https://api.diekasse.app:8443/v1/public/receipts/",
        "//evil.example/v1/public/",
    ],
)
def test_resolve_refuses_foreign_origins(url: str) -> None:
    """Another host, scheme or port would receive the token: refused, naming the URL."""
    with pytest.raises(ForeignOriginError, match="not on the API's origin") as info:
        resolve(BASE, url)
    assert info.value.url == url


def test_resolve_refuses_dot_segments() -> None:
    """'..' could climb out of /v1/public/ to other endpoints of the host."""
    with pytest.raises(ValueError, match=r"'\.\.'"):
        resolve(BASE, "articles/../../admin/")


ARTICLES = BASE / "articles"


@pytest.mark.parametrize(
    ("method", "status", "location", "expected"),
    [
        ("GET", 301, "articles/", "https://api.diekasse.app/v1/public/articles/"),
        ("HEAD", 308, "/v1/public/articles/", "https://api.diekasse.app/v1/public/articles/"),
        ("GET", 302, "articles/?limit=1", "https://api.diekasse.app/v1/public/articles/?limit=1"),
        (
            "GET",
            303,
            "https://api.diekasse.app/v1/public/x/",
            "https://api.diekasse.app/v1/public/x/",
        ),
        ("GET", 307, "receipts/", "https://api.diekasse.app/v1/public/receipts/"),
        ("POST", 301, "articles/", None),
        ("PATCH", 307, "articles/", None),
        ("GET", 200, "articles/", None),
        ("GET", 304, "articles/", None),
        ("GET", 301, None, None),
        ("GET", 301, "", None),
    ],
)
def test_redirect_target_follows_only_reads_on_redirect_statuses(
    method: str, status: int, location: str | None, expected: str | None
) -> None:
    """GET and HEAD follow 301/302/303/307/308 with a Location; anything else is the answer."""
    target = redirect_target(BASE, method, ARTICLES, status, location)
    assert (None if target is None else str(target)) == expected


@pytest.mark.parametrize(
    "location",
    [
        "https://evil.example/v1/public/articles/",
        "http://api.diekasse.app/v1/public/articles/",
        "https://api.diekasse.app:8443/v1/public/articles/",
        "//evil.example/v1/public/articles/",
    ],
)
def test_redirect_target_refuses_another_origin(location: str) -> None:
    """A redirect off the base origin would carry the token there: refused."""
    with pytest.raises(ForeignOriginError, match="not on the API's origin"):
        redirect_target(BASE, "GET", ARTICLES, 302, location)


HOSTILE = [
    pytest.param("https://u:p@api.diekasse.app/v1/public/articles/", "credentials", id="userinfo"),
    pytest.param("https://u@api.diekasse.app/v1/public/articles/", "credentials", id="user"),
    pytest.param("//u:p@api.diekasse.app/v1/public/", "origin|credentials", id="//userinfo"),
    pytest.param("https://api.diekasse.app\\@evil.example/v1/", "backslash", id="backslash"),
    pytest.param("https://api.diekasse.app:443:443/v1/public/", "port", id="two ports"),
    pytest.param("https://xn--a.example/v1/public/", "idna", id="bad IDNA label"),
    pytest.param("https://[::1/v1/public/", "IPv6", id="half an IPv6 address"),
]


@pytest.mark.parametrize(("url", "why"), HOSTILE)
def test_resolve_refuses_hostile_urls_as_foreign(url: str, why: str) -> None:
    """A URL with credentials, or one yarl cannot read, is not provably on the origin: refused
    as a ForeignOriginError (a BessaError) saying why, never a bare ValueError/UnicodeError."""
    with pytest.raises(ForeignOriginError, match=why) as info:
        resolve(BASE, url)
    assert info.value.url == url


@pytest.mark.parametrize(("location", "why"), HOSTILE)
def test_redirect_target_refuses_hostile_locations(location: str, why: str) -> None:
    with pytest.raises(ForeignOriginError, match=why):
        redirect_target(BASE, "GET", ARTICLES, 302, location)


_URLISH = st.builds(
    "".join,
    st.lists(
        st.sampled_from(
            [
                "https://",
                "http://",
                "//",
                "api.diekasse.app",
                "u",
                ":p",
                "@",
                ":443",
                ":",
                "\\",
                "[",
                "]",
                "::1",
                "xn--",
                "\x80",
                "ä",
                "/v1/public/",
                "..",
                "?",
                "#",
                "%",
                " ",
                "é",
            ]
        ),
        max_size=8,
    ),
)


@given(text=st.one_of(st.text(), _URLISH))
def test_any_next_or_location_is_followed_on_the_origin_or_refused(text: str) -> None:
    """Whatever a server puts in a ``next`` or a ``Location``: a URL on the base origin with
    no credentials, or a BessaError; nothing else escapes."""
    for as_location in (False, True):
        try:
            target = (
                redirect_target(BASE, "GET", ARTICLES, 302, text)
                if as_location
                else resolve(BASE, text)
            )
        except BessaError:
            continue
        if target is not None:
            assert (target.scheme, target.host, target.port) == ("https", BASE.host, 443)
            assert target.user is None
            assert target.password is None


@given(
    method=st.sampled_from(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]),
    status=st.integers(min_value=100, max_value=599),
    segment=st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_", min_size=1, max_size=12),
)
def test_redirect_target_stays_on_the_base_origin(method: str, status: int, segment: str) -> None:
    """Whatever the answer, a followed redirect is a read that lands under the same origin."""
    target = redirect_target(BASE, method, ARTICLES, status, f"{segment}/")
    if target is None:
        assert method not in ("GET", "HEAD") or status not in (301, 302, 303, 307, 308)
    else:
        assert method in ("GET", "HEAD")
        assert target.origin() == BASE.origin()
        assert str(target) == f"{BASE}{segment}/"


def test_encode_params_types() -> None:
    """Each supported type has one spelling; None is dropped and sequences repeat."""

    class Kind(enum.Enum):
        INVOICE = "invoice"

    uid = UUID("8c1c0a6e-3d1b-4a55-9d59-0f3b8f0e4b11")
    params: dict[str, Any] = {
        "timestamp__gte": datetime(2026, 6, 15, 0, 0, tzinfo=VIENNA_SUMMER),
        "updated__gte": datetime(2026, 6, 15, 12, 0, tzinfo=UTC),
        "amount": Decimal("4.5"),
        "sales_point": uid,
        "active": True,
        "deleted": False,
        "limit": 10,
        "type": Kind.INVOICE,
        "location": None,
        "article": ["a", "b"],
    }
    assert encode_params(params) == [
        ("timestamp__gte", "2026-06-15T00:00:00+02:00"),
        ("updated__gte", "2026-06-15T12:00:00+00:00"),
        ("amount", "4.50"),
        ("sales_point", str(uid)),
        ("active", "true"),
        ("deleted", "false"),
        ("limit", "10"),
        ("type", "invoice"),
        ("article", "a"),
        ("article", "b"),
    ]


def test_naive_datetime_is_refused_naming_the_parameter() -> None:
    """A naive datetime would be read as UTC by the API: refused, naming the parameter."""
    with pytest.raises(ValueError, match="'timestamp__gte' is a naive datetime"):
        encode_params({"timestamp__gte": datetime(2026, 6, 15)})


def test_bare_date_is_refused_with_a_business_day_hint() -> None:
    """A bare date is UTC midnight to the API; the message points to business_day."""
    with pytest.raises(ValueError, match="business_day"):
        encode_params({"timestamp__gte": date(2026, 6, 15)})


@pytest.mark.parametrize(
    ("value", "error", "message"),
    [
        (19.99, TypeError, "float"),
        (Decimal("4.555"), ValueError, "more than two decimals"),
        (Decimal("NaN"), ValueError, "finite"),
        (Decimal("Infinity"), ValueError, "finite"),
        ({"nested": 1}, TypeError, "unsupported type dict"),
    ],
)
def test_unsafe_values_are_refused(value: object, error: type[Exception], message: str) -> None:
    """Floats, inexact or infinite amounts and nested mappings never reach the wire."""
    with pytest.raises(error, match=message):
        encode_params({"amount": value})


def test_with_query_encodes_plus_and_keeps_existing_query() -> None:
    """The offset's '+' travels as %2B; a next URL's own query is kept byte for byte."""
    url = URL("https://api.diekasse.app/v1/public/receipts/?cursor=cD0y%3D&limit=100")
    out = with_query(url, [("timestamp__gte", "2026-06-15T00:00:00+02:00")])
    assert out.raw_query_string == (
        "cursor=cD0y%3D&limit=100&timestamp__gte=2026-06-15T00:00:00%2B02:00"
    )
    assert with_query(url, []) is url


@given(
    st.datetimes(
        min_value=datetime(1990, 1, 1),
        max_value=datetime(2100, 1, 1),
        timezones=st.sampled_from([UTC, VIENNA_SUMMER, timezone(timedelta(hours=-5, minutes=-30))]),
    )
)
def test_aware_datetimes_round_trip_through_the_query(value: datetime) -> None:
    """Whatever the offset, the server decodes exactly the instant that was meant."""
    [(name, text)] = encode_params({"t": value})
    url = with_query(BASE, [(name, text)])
    decoded = datetime.fromisoformat(url.query["t"])
    assert decoded == value
    assert decoded.utcoffset() == value.utcoffset()
    assert "+" not in url.raw_query_string
