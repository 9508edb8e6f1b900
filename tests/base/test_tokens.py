"""The one envelope of the library's tokens (job tokens, resume tokens, listing positions,
changes checkpoints): they round-trip, and anything else is refused with a BessaError. Pure."""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bessa_async import BessaError, InvalidTypeError, InvalidValueError, ResumeTokenError
from bessa_async._base.tokens import TokenFormat
from bessa_async._jobs.handle import decode_token, encode_token
from bessa_async._listing.checkpoint import Checkpoint, read_checkpoint
from bessa_async._listing.shard_token import (
    ChainPosition,
    OpenShard,
    identity_of,
    make_chain_token,
    make_token,
    read_chain_token,
    read_token,
)

FORMAT = TokenFormat(
    name="test token", version=3, error=ResumeTokenError, template="not a test token: {why}"
)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)
FIELDS = st.dictionaries(st.text(max_size=8).filter(lambda key: key != "v"), JSON, max_size=4)
START = datetime(2026, 6, 1, tzinfo=UTC)
END = datetime(2026, 7, 1, tzinfo=UTC)
IDENTITY = identity_of(
    "receipts", field="timestamp", start=START, end=END, ordered=False, params={}
)
NOW = datetime(2026, 7, 15, 12, tzinfo=UTC)


def _job_token() -> str:
    return encode_token(
        kind="order",
        id=uuid.UUID(int=7),
        path="requests/orders/",
        reference="r-1",
        idempotency_key=None,
        status="pending",
    )


def _checkpoint(text: str) -> object:
    return read_checkpoint(
        text, resource="receipts", filters=(), now=NOW, allowance=timedelta(seconds=60)
    )


# Each token the library hands out, with its reader (pure, before anything is sent).
READERS: list[tuple[str, str, Callable[[str], object]]] = [
    ("job", _job_token(), decode_token),
    (
        "checkpoint",
        Checkpoint(resource="receipts", filters=(), watermark=START).to_json(),
        _checkpoint,
    ),
    ("position", make_chain_token(ChainPosition(cursor="c1", skip=2)), read_chain_token),
    (
        "sharded",
        make_token(IDENTITY, [OpenShard(start=START, end=END, cutoff=END)]),
        lambda text: read_token(text, IDENTITY),
    ),
]


@given(FIELDS)
def test_the_envelope_round_trips(fields: dict[str, Any]) -> None:
    text = FORMAT.write(fields)
    assert text.isascii()
    assert FORMAT.read(text) == {"v": 3, **fields}


@given(FIELDS, JSON.filter(lambda v: v != 3))
def test_another_version_is_refused(fields: dict[str, Any], version: object) -> None:
    """Any other ``v`` (a bool and a float too, where ``True == 1``) is refused."""
    with pytest.raises(ResumeTokenError, match="version"):
        FORMAT.read(json.dumps({**fields, "v": version}))


@given(st.text(max_size=40) | st.binary(max_size=40) | JSON.map(json.dumps))
def test_anything_else_is_refused_with_the_formats_error(text: str | bytes) -> None:
    try:
        data = FORMAT.read(text)
    except ResumeTokenError:
        return
    assert data["v"] == 3
    assert type(data["v"]) is int


def test_a_token_is_text() -> None:
    with pytest.raises(InvalidTypeError, match="a test token is a str"):
        FORMAT.read(3)


def test_every_token_of_the_library_is_one_envelope() -> None:
    """Each is a JSON object with the integer version its reader reads, and reads back."""
    for _, token, reader in READERS:
        assert type(json.loads(token)["v"]) is int
        reader(token)


@pytest.mark.parametrize(("name", "token", "reader"), READERS, ids=[r[0] for r in READERS])
@given(data=st.data())
def test_a_tampered_or_newer_token_is_refused_with_a_bessa_error(
    name: str, token: str, reader: Callable[[str], object], data: st.DataObject
) -> None:
    """A cut, a changed character or another version: refused with a BessaError, never a
    crash (or read as a valid token, where the change kept it one)."""
    body = json.loads(token)
    tampered = data.draw(
        st.one_of(
            st.integers(0, len(token)).map(lambda cut: token[:cut]),
            st.tuples(st.integers(0, len(token) - 1), st.characters()).map(
                lambda change: token[: change[0]] + change[1] + token[change[0] + 1 :]
            ),
            JSON.map(lambda v: json.dumps({**body, "v": v})),
        )
    )
    with contextlib.suppress(BessaError):
        reader(tampered)


@pytest.mark.parametrize(("name", "token", "reader"), READERS, ids=[r[0] for r in READERS])
def test_a_newer_version_says_upgrade(
    name: str, token: str, reader: Callable[[str], object]
) -> None:
    newer = json.dumps({**json.loads(token), "v": 2})
    with pytest.raises((InvalidValueError, ResumeTokenError), match="upgrade the library"):
        reader(newer)
