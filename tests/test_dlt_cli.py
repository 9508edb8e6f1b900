"""bessa mirror: the tenant copied into a DuckDB file in the current directory, changes only."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

pytest.importorskip("dlt")

import dlt

from bessa_async._cli import EXIT_CODES, main

os.environ["RUNTIME__DLTHUB_TELEMETRY"] = "false"


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DLT_DATA_DIR", str(tmp_path / "dlt"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_mirror_copies_the_sandbox_into_duckdb_and_then_only_what_changed(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """On the sandbox: one line per resource; the copy holds every receipt with its lines."""
    argv = ["--sandbox", "--sandbox-receipts", "40", "mirror", "receipts", "tax-rates"]
    assert main(argv) == EXIT_CODES["ok"]
    out = capsys.readouterr().out
    assert "receipts: 40 new or changed (+" in out
    assert "tax_rates: " in out
    assert (here / "bessa_mirror.duckdb").exists()
    pipeline = dlt.pipeline("bessa_mirror", destination="duckdb", dataset_name="bessa")
    with pipeline.sql_client() as client:
        rows = client.execute_sql("SELECT count(*), count(DISTINCT id) FROM receipts")
        lines = client.execute_sql("SELECT count(*) FROM receipts__lines")
    assert rows == [(40, 40)]
    assert lines
    assert lines[0][0] > 0


def test_mirror_says_how_to_fix_a_refused_token(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A refused token ends with the auth exit code and the library's message, not dlt's
    traceback; the token is not shown."""
    token = "x" * 40
    code = main(["--sandbox", "--token", token, "mirror", "articles"])
    err = capsys.readouterr().err
    assert code == EXIT_CODES["auth"]
    assert "AuthenticationError" in err
    assert token not in err


@pytest.mark.parametrize(
    "argv",
    [
        ["mirror", "receipt"],
        ["mirror", "--pipeline", "bessa", "--dataset", "bessa"],
    ],
)
def test_mirror_refuses_bad_arguments_as_usage_errors(
    here: Path, argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == EXIT_CODES["usage"]
    assert "error: argument" in capsys.readouterr().err
