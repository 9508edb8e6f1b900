"""The one reader of HTTP dates and of ISO 8601 instants, and everything that reads through it:
pure, no event loop."""

from __future__ import annotations

import email.utils
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bessa_async import DecodeError
from bessa_async._base.errors import parse_retry_after
from bessa_async._base.wire_time import InstantError, http_date, instant, read_instant
from bessa_async._doctor._job_filters import filter_probes
from bessa_async._listing.changes import server_time
from bessa_async._models.convert import instant as convert_instant
from bessa_async._transport.raw import RawResponse

SECONDS = st.datetimes(
    min_value=datetime(1900, 1, 1), max_value=datetime(9998, 12, 31), timezones=st.just(UTC)
).map(lambda moment: moment.replace(microsecond=0))
OFFSETS = st.integers(min_value=-23 * 60 - 59, max_value=23 * 60 + 59).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)
# Texts that break the standard library's date parser in every way it has: overflowing years,
# days past a month's end, zones that push a moment beyond year 9999.
HOSTILE_DATES = [
    "1 Jan 99999999999999 00:00 GMT",
    "Fri, 31 Dec 9999 23:59:59 -2359",
    "Mon, 32 Jan 2020 00:00:00 GMT",
    "Mon",
    "",
    "   ",
]


@given(SECONDS)
def test_an_http_date_round_trips(moment: datetime) -> None:
    """What ``email.utils.format_datetime`` writes (an IMF-fixdate) reads back as the same UTC
    moment."""
    assert http_date(email.utils.format_datetime(moment, usegmt=True)) == moment


@given(SECONDS, OFFSETS)
def test_an_http_date_with_a_zone_is_read_in_utc(moment: datetime, zone: timezone) -> None:
    """A date written with a numeric zone is the same instant, handed out in UTC."""
    read = http_date(email.utils.format_datetime(moment.astimezone(zone)))
    assert read == moment
    assert read is not None
    assert read.tzinfo is UTC


@given(st.text(max_size=60) | st.sampled_from(HOSTILE_DATES))
def test_an_http_date_never_raises(text: str) -> None:
    """Any text is a UTC moment or None, never an exception."""
    read = http_date(text)
    assert read is None or read.tzinfo is UTC


def test_a_date_without_a_zone_is_gmt() -> None:
    assert http_date("Mon, 15 Jun 2026 12:00:30 -0000") == datetime(
        2026, 6, 15, 12, 0, 30, tzinfo=UTC
    )
    assert http_date(None) is None


@pytest.mark.parametrize("text", HOSTILE_DATES)
def test_every_header_reader_survives_a_hostile_date(text: str) -> None:
    """``Retry-After`` and ``Date`` read through the one reader: a date that overflows is an
    unreadable header, not an exception out of the call."""
    assert parse_retry_after(text, now=datetime(2026, 6, 15, tzinfo=UTC)) is None
    answer = RawResponse(
        status=200, headers={"Date": text}, data=None, request_id=None, method="GET", path="x/"
    )
    assert answer.date is None
    with pytest.raises(DecodeError, match="no usable Date header"):
        server_time(text, resource="receipts")


@given(SECONDS, OFFSETS)
def test_an_instant_round_trips_in_utc(moment: datetime, zone: timezone) -> None:
    """An ISO 8601 timestamp with any offset reads as the same instant, in UTC."""
    read = read_instant(moment.astimezone(zone).isoformat())
    assert read == moment
    assert read.tzinfo is UTC


@given(
    st.text(max_size=40)
    | st.none()
    | st.integers()
    | st.sampled_from(
        ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "2026-06-15T12:00:00"]
    )
)
def test_an_instant_is_utc_or_its_documented_error(value: object) -> None:
    """Any value reads as a UTC moment or raises InstantError; ``instant`` gives None instead."""
    read = instant(value)
    if read is None:
        with pytest.raises(InstantError):
            read_instant(value)
    else:
        assert read.tzinfo is UTC
        assert read_instant(value) == read


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (5, "not text"),
        ("yesterday", "not ISO 8601"),
        ("2026-06-15T12:00:00", "no offset"),
        ("0001-01-01T00:00:00+01:00", "out of range"),
        ("9999-12-31T23:59:59-01:00", "out of range"),
    ],
)
def test_an_instant_says_what_is_wrong(value: object, problem: str) -> None:
    with pytest.raises(InstantError) as caught:
        read_instant(value)
    assert caught.value.problem == problem
    # What the models and the doctor look at raw JSON with reads it as absent.
    assert convert_instant(value) is None


def test_the_job_filters_send_the_instant_in_utc() -> None:
    """The doctor's ``updated__gte`` probe is the newest stamp as the one reader gives it, in UTC,
    whatever offset the API wrote it with."""
    sample = [{"updated": "2026-06-15T14:00:00+02:00"}, {"updated": "2026-06-15T11:30:00Z"}]
    probe = filter_probes(sample)["updated__gte"]
    assert probe == datetime(2026, 6, 15, 12, 0, tzinfo=UTC)
    assert probe.tzinfo is UTC
