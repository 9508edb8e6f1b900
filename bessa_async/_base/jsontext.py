"""JSON text from outside (answers, tokens, checkpoints, state files), read without surprises."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any, Final

#: How deeply JSON kept as it came may nest: the value of a field a model does not know (kept
#: in ``extra``), an error answer's field errors. Such a value is walked later by whatever the
#: caller does with it (``to_dict``, ``json.dumps``, ``pickle``); nested as deeply as the JSON
#: reader allows, that walk would exhaust the stack. The API's own answers nest a few levels.
MAX_NESTING: Final = 64


def nests_deeper_than(value: object, limit: int = MAX_NESTING) -> bool:
    """Whether ``value`` (parsed JSON) nests lists and objects more than ``limit`` deep."""
    level: list[object] = [value]
    for _ in range(limit + 1):
        inner: list[object] = []
        for item in level:
            if type(item) is dict:
                inner.extend(item.values())
            elif type(item) is list:
                inner.extend(item)
        if not inner:
            return False
        level = inner
    return True


def parse_json(text: str | bytes, *, decimals: bool = False) -> Any:
    """``json.loads``, where every way the text can fail is a ``ValueError``. Pure.

    Nesting deep enough to exhaust the interpreter's stack raises ``RecursionError`` in
    ``json.loads`` and integers longer than the interpreter's limit ``ValueError``; both are
    reported here as ``ValueError``, so a caller's one ``except ValueError`` turns any bad text
    into its own error. ``decimals`` reads numbers with a fraction or exponent as ``Decimal``
    (an amount in a file the user wrote), never as a float.
    """
    try:
        return json.loads(text, parse_float=Decimal) if decimals else json.loads(text)
    except RecursionError:
        raise ValueError("JSON nested too deeply to read") from None


def version_of(body: object) -> int | None:
    """The integer version ``v`` of a token's JSON object, or None (``true`` is not a version)."""
    if not isinstance(body, dict):
        return None
    value = body.get("v")
    return value if type(value) is int else None
