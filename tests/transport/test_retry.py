"""Retry decisions: pure functions of method, failure and policy."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bessa_async import (
    APIError,
    ConnectError,
    DecodeError,
    RetryPolicy,
    TransportError,
)
from bessa_async._base.errors import error_for_response
from bessa_async._transport.retry import is_retryable, wait_before_retry

POLICY = RetryPolicy()


def _status(status: int, retry_after: str | None = None) -> APIError:
    headers = {"Retry-After": retry_after} if retry_after is not None else {}
    return error_for_response(status, headers, b"", method="GET", path="x/")


SENT = TransportError("dropped", method="GET", path="x/", request_sent=True)
NOT_SENT = ConnectError("refused", method="GET", path="x/")


@pytest.mark.parametrize(
    ("method", "failure", "retried"),
    [
        ("GET", _status(500), True),
        ("GET", _status(502), True),
        ("GET", _status(503), True),
        ("GET", _status(504), True),
        ("GET", _status(429), True),
        ("GET", _status(400), False),
        ("GET", _status(401), False),
        ("GET", _status(403), False),
        ("GET", _status(404), False),
        ("GET", _status(501), False),
        ("GET", SENT, True),
        ("GET", NOT_SENT, True),
        ("HEAD", _status(503), True),
        ("POST", NOT_SENT, True),
        ("POST", _status(429), True),
        ("POST", SENT, False),
        ("POST", _status(500), False),
        ("POST", _status(502), False),
        ("POST", _status(503), False),
        ("POST", _status(504), False),
        ("PATCH", _status(503), False),
        ("GET", DecodeError("not json"), True),
        ("HEAD", DecodeError("not json"), True),
        ("POST", DecodeError("not json"), False),
        ("GET", ValueError("bad input"), False),
    ],
)
def test_what_is_retried(method: str, failure: BaseException, retried: bool) -> None:
    """Reads retry on transient failures; writes only where nothing was processed."""
    assert is_retryable(method, failure, POLICY) is retried


def test_retry_after_beyond_the_cap_is_not_slept_through() -> None:
    """Retry-After above max_retry_after raises at once, for reads and writes alike."""
    assert is_retryable("GET", _status(429, "60"), POLICY)
    assert not is_retryable("GET", _status(429, "61"), POLICY)
    assert not is_retryable("GET", _status(429, "3600"), POLICY)
    assert is_retryable("GET", _status(429, "3600"), RetryPolicy(max_retry_after=3600))


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_a_5xx_retry_after_beyond_the_cap_is_not_slept_through(status: int) -> None:
    """The cap is the same for a 5xx as for a 429: a longer Retry-After raises at once."""
    assert is_retryable("GET", _status(status, "60"), POLICY)
    assert not is_retryable("GET", _status(status, "3600"), POLICY)
    assert not is_retryable("GET", _status(status, "1e9"), POLICY)
    assert not is_retryable("GET", _status(status, "Fri, 01 Jan 2099 00:00:00 GMT"), POLICY)


@given(st.floats(min_value=0, max_value=1e12), st.floats(min_value=0.001, max_value=1e6))
def test_one_cap_for_every_wait_a_server_imposes(seconds: float, cap: float) -> None:
    """A wait is honoured exactly when the cap leaves it whole, and never exceeds the cap."""
    policy = RetryPolicy(max_retry_after=cap)
    assert policy.capped_wait(seconds) <= cap
    assert policy.honours_wait(seconds) is (seconds <= cap)
    assert is_retryable("GET", _status(503, repr(seconds)), policy) is (seconds <= cap)


def test_wait_honours_retry_after() -> None:
    """The server's Retry-After is the wait, not the jittered backoff."""
    assert wait_before_retry(_status(503, "3"), 1, POLICY, random.Random(0)) == 3.0


@given(st.integers(min_value=1, max_value=200), st.integers(min_value=0, max_value=2**32))
def test_backoff_is_full_jitter_under_a_capped_bound(retry_number: int, seed: int) -> None:
    """Waits are uniform in [0, min(max, initial * multiplier**(n-1))]."""
    bound = min(POLICY.max_backoff, POLICY.initial_backoff * 2.0 ** min(retry_number - 1, 64))
    wait = wait_before_retry(_status(503), retry_number, POLICY, random.Random(seed))
    assert 0.0 <= wait <= bound <= POLICY.max_backoff


def test_policy_validates_its_values() -> None:
    """Nonsense policies fail at construction, not at the first retry."""
    with pytest.raises(ValueError, match="attempts"):
        RetryPolicy(attempts=0)
    with pytest.raises(ValueError, match="initial_backoff"):
        RetryPolicy(initial_backoff=0)
    assert RetryPolicy.disabled().attempts == 1
