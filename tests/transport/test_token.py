"""What the client takes for an API token: tolerant of the unknown format, strict about what
cannot be one, and never showing it."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bessa_async import AuthenticationError, BessaClient, ConfigurationError
from bessa_async._transport.secret import MAX_TOKEN_LENGTH, check_token
from bessa_async.testing import FakeClock, Sandbox

_VISIBLE_ASCII = st.characters(min_codepoint=0x21, max_codepoint=0x7E)


@given(st.text(_VISIBLE_ASCII, min_size=1, max_size=MAX_TOKEN_LENGTH))
def test_any_visible_ascii_token_is_taken_and_hidden(token: str) -> None:
    """The format is not public, so whatever could travel in a header is accepted as is."""
    secret = check_token(token)
    assert secret.reveal() == token
    assert f"{secret!r} {secret}" == "Secret('********') Secret('********')"


_HEX = st.text("0123456789abcdef", min_size=8, max_size=40)  # no English word in a message


@given(
    _HEX,
    st.sampled_from([" ", "\t", "\n", "\r\n", "\x00", "\x1b", "\x7f", "é", "\u00a0", "\u2028"]),
    _HEX,
)
def test_a_refused_token_is_never_in_the_message(head: str, odd: str, tail: str) -> None:
    """Whatever is wrong with a token, the error names the problem and never shows it."""
    token = head + odd + tail
    with pytest.raises(ConfigurationError) as info:
        check_token(token)
    text = f"{info.value} {info.value!r} {info.value.args!r}"
    assert head not in text
    assert tail not in text


def test_surrounding_whitespace_is_dropped() -> None:
    """A line end read from a file, or a stray space, is not part of the token."""
    assert check_token("  5f3c9a1b\n").reveal() == "5f3c9a1b"


def test_a_prefix_in_any_case_is_refused() -> None:
    """'token x', 'BEARER x' and a pasted 'Authorization: Token x' say to pass the token alone."""
    for pasted in ("token 5f3c9a", "BEARER 5f3c9a", "Authorization: Token 5f3c9a"):
        with pytest.raises(ConfigurationError, match="pass the token alone"):
            check_token(pasted)


def test_the_longest_token_is_taken_one_more_is_refused() -> None:
    """The length limit is exact."""
    assert check_token("a" * MAX_TOKEN_LENGTH).reveal() == "a" * MAX_TOKEN_LENGTH
    with pytest.raises(ConfigurationError, match=f"{MAX_TOKEN_LENGTH + 1} characters"):
        check_token("a" * (MAX_TOKEN_LENGTH + 1))


async def test_a_short_token_of_the_right_shape_is_sent_and_refused_by_the_api(
    sandbox: Sandbox, clock: FakeClock
) -> None:
    """'abc' could be a token for all the client knows: the API answers 401, which says so."""
    async with BessaClient("abc", base_url=sandbox.url, clock=clock, sleep=clock.sleep) as client:
        with pytest.raises(AuthenticationError) as info:
            await client.request("GET", "articles/")
    assert info.value.status == 401
    assert len(sandbox.requests) == 1
