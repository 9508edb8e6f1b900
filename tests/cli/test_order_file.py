"""`bessa order submit FILE` with numbers no order can hold: refused as the Order's own input
errors (exit 2, the field named), with nothing sent."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from bessa_async._cli.app import EXIT_CODES, main
from bessa_async.testing import Sandbox


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ({"quantity": 1e29}, "InvalidValueError: quantity has 30 digits before the decimal point"),
        ({"quantity": True}, "InvalidTypeError: quantity must be a decimal.Decimal, got True"),
        ({"quantity": "two"}, "InvalidTypeError: quantity must be a decimal.Decimal, got 'two'"),
        ({"quantity": "NaN"}, "InvalidValueError: quantity must be finite"),
        ({"quantity": 1, "unit_price": 10**27}, "InvalidValueError: unit_price has 28 digits"),
        ({"quantity": 1, "unit_price": False}, "InvalidTypeError: unit_price must be a decimal"),
        ({"quantity": "1.5", "options": [{"option": "CHOICE"}]}, None),
    ],
    ids=["1e29", "true", "text", "NaN", "price 10**27", "price false", "a good file"],
)
async def test_an_order_file_with_an_impossible_number_sends_nothing(
    sandbox: Sandbox,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    line: dict[str, object],
    message: str | None,
) -> None:
    """The CLI reads numbers as the Order checks them: a bad one is one line and exit 8."""
    article = next(a["id"] for a in sandbox.data.articles if a["active"])
    point = next(p["id"] for p in sandbox.data.sales_points if p["status"] == "active")
    choice = sandbox.data.article_options[0]["choices"][0]["id"]
    text = json.dumps(
        {"reference": "shop-7", "sales_point": point, "lines": [{"article": article, **line}]}
    )
    text = text.replace("CHOICE", str(choice))
    target = tmp_path / "order.json"
    await asyncio.to_thread(target.write_text, text, encoding="utf-8")
    argv = ["--base-url", sandbox.url, "--token", sandbox.token, "order", "submit", str(target)]
    code = await asyncio.to_thread(main, argv)
    if message is None:  # numbers as text and an option's default quantity still go out
        assert code == EXIT_CODES["ok"]
        return
    assert code == EXIT_CODES["usage"]
    assert message in capsys.readouterr().err
    assert sandbox.requests == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[" * 100_000 + "]" * 100_000, "order.json is not a JSON order"),
        ('{"reference": "shop-7", "lines": [', "order.json is not a JSON order"),
        (
            '{"reference": "shop-7", "lines": [{"article": "a", "quantity": 1' + "0" * 5000 + "}]}",
            "not a JSON order",
        ),
        ('{"reference": "shop-7", "lines": 5}', 'order.json: "lines" must be'),
        (
            '{"reference": "shop-7", "lines": [{"article": "a", "quantity": 1, "options": [{}]}]}',
            'order.json: line 1: "options" must be',
        ),
        (
            '{"reference": "shop-7", "lines": [{"article": "a", "quantity": 1, "options": [5]}]}',
            'order.json: line 1: "options" must be',
        ),
        ('{"lines": []}', 'order.json: no "reference"'),
        ("[]", "order.json: expected a JSON object"),
    ],
    ids=[
        "nested deeply",
        "cut",
        "an endless int",
        "lines not a list",
        "an option without option",
        "an option not an object",
        "no reference",
        "not an object",
    ],
)
async def test_a_file_that_is_no_order_is_a_usage_error_and_sends_nothing(
    sandbox: Sandbox,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    text: str,
    message: str,
) -> None:
    """Whatever the file holds, one line naming the problem, exit 2, never a traceback."""
    target = tmp_path / "order.json"
    await asyncio.to_thread(target.write_text, text, encoding="utf-8")
    argv = ["--base-url", sandbox.url, "--token", sandbox.token, "order", "submit", str(target)]
    code = await asyncio.to_thread(main, argv)
    assert code == EXIT_CODES["usage"]
    err = capsys.readouterr().err
    assert err.startswith("error: Invalid")
    assert err.count("\n") == 1
    assert message in err
    assert sandbox.requests == []
