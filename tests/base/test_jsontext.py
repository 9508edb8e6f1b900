"""The one reader of outside JSON text: every failure is a ValueError."""

from __future__ import annotations

import pytest

from bessa_async._base.jsontext import parse_json, version_of


@pytest.mark.parametrize(
    "text",
    ["[" * 100_000, '{"a":' * 100_000, "1" * 5_000, "{", b"\xff", "NaN-ish"],
)
def test_bad_text_is_a_value_error(text: str | bytes) -> None:
    try:
        parse_json(text)
    except ValueError:
        return
    pytest.fail(f"{text[:20]!r} was read")


def test_reads_json() -> None:
    assert parse_json(b'{"a": [1, 2.5, "x"]}') == {"a": [1, 2.5, "x"]}


@pytest.mark.parametrize(
    ("body", "expected"),
    [({"v": 1}, 1), ({"v": True}, None), ({"v": 1.0}, None), ({}, None), ([1], None)],
)
def test_version_is_an_int_and_never_a_bool(body: object, expected: int | None) -> None:
    assert version_of(body) == expected
