"""The bessa command: the demo walkthrough and argument handling."""

from __future__ import annotations

import io

import pytest

from bessa_async._cli import _walkthrough, main
from bessa_async.testing import FakeClock


async def test_demo_walkthrough_matches_every_figure() -> None:
    """The demo lists, sums, cross-checks the report, survives faults and exits 0."""
    out = io.StringIO()
    clock = FakeClock()
    code = await _walkthrough(out, 400, 0, clock=clock, sleep=clock.sleep)
    text = out.getvalue()
    assert code == 0, text
    assert "demo finished: every figure matched" in text
    assert "PermissionDeniedError" in text
    assert 1.0 in clock.sleeps  # the injected 429's Retry-After, waited in virtual time


def test_help_and_unknown_command(capsys: pytest.CaptureFixture[str]) -> None:
    """--help exits 0 with usage; an unknown command exits 2."""
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    assert "demo" in capsys.readouterr().out
    with pytest.raises(SystemExit) as info:
        main(["frobnicate"])
    assert info.value.code == 2
