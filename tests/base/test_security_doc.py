"""SECURITY.md names the test that holds each promise: every test it names exists, so a
renamed or deleted test cannot leave a promise held by nothing, and its count of bad-input
kinds is the table's."""

from __future__ import annotations

import re
from pathlib import Path

from test_bad_input import ROWS

ROOT = Path(__file__).resolve().parents[2]
_NAMED = re.compile(r"`(tests/[\w/]+\.py)(?:::(\w+))?`|`(test_\w+)`")


def _promises() -> list[str]:
    text = (ROOT / "SECURITY.md").read_text(encoding="utf-8")
    return [line for line in text.splitlines() if line.startswith("| **")]


def test_every_promise_names_tests_that_exist() -> None:
    """Each row's last cell names files and tests; a bare test name belongs to the file
    named before it."""
    missing: list[str] = []
    for row in _promises():
        held = row.rsplit(" | ", 1)[1]
        current: str | None = None
        for match in _NAMED.finditer(held):
            name = match.group(2) or match.group(3)
            if match.group(1):
                current = match.group(1)
                if not (ROOT / current).is_file():
                    missing.append(current)
                    continue
            if name and current is not None:
                source = (ROOT / current).read_text(encoding="utf-8")
                if not re.search(rf"def {name}\b", source):
                    missing.append(f"{current}::{name}")
    assert missing == []


def test_every_promise_is_held_by_a_test() -> None:
    assert all(_NAMED.search(row.rsplit(" | ", 1)[1]) for row in _promises())


def test_the_count_of_bad_input_kinds_is_the_tables() -> None:
    text = (ROOT / "SECURITY.md").read_text(encoding="utf-8")
    assert f"`tests/base/test_bad_input.py` ({len(ROWS)} kinds)" in text
