"""`nox -s tests` runs on every Python the classifiers promise, found the way a fresh machine of
CI's image has them: installed under pyenv, with shims that fail for a version not selected."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import TypedDict, cast

import pytest

ROOT = Path(__file__).resolve().parent.parent
_SHOW = """
import json, os, nox, noxfile
print(json.dumps({
    "pythons": noxfile.PYTHONS,
    "covered": noxfile.COVERED,
    "found": noxfile.INTERPRETERS,
    "path": os.environ["PATH"].split(os.pathsep)[0],
    "strict": nox.options.error_on_missing_interpreters,
}))
"""


def _executable(path: Path, target: str | None = None) -> Path:
    """A working interpreter (a link to this one), or with no target a pyenv shim's failure."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if target is None:
        path.write_text("#!/bin/sh\necho 'pyenv: command not found' >&2\nexit 127\n")
        path.chmod(0o755)
    else:
        path.symlink_to(target)
    return path


@pytest.fixture
def machine(tmp_path: Path) -> dict[str, str]:
    """PYENV_ROOT with 3.11, 3.12 and 3.13 installed, and only failing shims on PATH."""
    pyenv = tmp_path / "pyenv"
    for version in ("3.11", "3.12", "3.13"):
        _executable(pyenv / "shims" / f"python{version}")
    for installed in ("3.11.7", "3.12.1", "3.12.10", "3.13.0"):
        minor = installed.rsplit(".", 1)[0]
        _executable(pyenv / "versions" / installed / "bin" / f"python{minor}", sys.executable)
    _executable(pyenv / "versions" / "3.13.2" / "bin" / "python3.13")  # a broken build
    (tmp_path / "project").mkdir()
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "project")
    return {"PYENV_ROOT": str(pyenv), "PATH": str(pyenv / "shims"), "PYTHONPATH": str(ROOT)}


class Shown(TypedDict):
    """What the noxfile decided, loaded in a process of its own (it changes PATH)."""

    pythons: list[str]
    covered: str
    found: dict[str, str | None]
    path: str
    strict: bool


def _noxfile(env: dict[str, str], cwd: Path) -> Shown:
    done = subprocess.run(
        [sys.executable, "-c", _SHOW], env=env, cwd=cwd, capture_output=True, text=True, timeout=20
    )
    assert done.returncode == 0, done.stderr
    return cast("Shown", json.loads(done.stdout))


def test_every_promised_python_is_found_under_pyenv_when_its_shim_fails(
    machine: dict[str, str], tmp_path: Path
) -> None:
    shown = _noxfile(machine, tmp_path / "project")
    assert shown["pythons"] == ["3.11", "3.12", "3.13"]
    assert shown["covered"] == "3.11"
    versions = Path(machine["PYENV_ROOT"]) / "versions"
    assert shown["found"] == {  # the newest patch release that runs
        "3.11": str(versions / "3.11.7" / "bin" / "python3.11"),
        "3.12": str(versions / "3.12.10" / "bin" / "python3.12"),
        "3.13": str(versions / "3.13.0" / "bin" / "python3.13"),
    }
    # nox looks for `python3.12` on PATH: first there is now a link to the one that runs.
    links = Path(shown["path"])
    assert links == tmp_path / "project" / ".nox" / "interpreters"
    for version, python in shown["found"].items():
        assert python is not None
        assert (links / f"python{version}").resolve() == Path(python).resolve()
    assert shown["strict"] is False  # on a developer's machine a missing Python is skipped


def test_in_ci_a_promised_python_that_is_missing_fails_the_run(
    machine: dict[str, str], tmp_path: Path
) -> None:
    shutil.rmtree(Path(machine["PYENV_ROOT"]) / "versions" / "3.13.0")
    shown = _noxfile({**machine, "BESSA_REQUIRE_SERVICES": "1"}, tmp_path / "project")
    assert shown["pythons"] == ["3.11", "3.12", "3.13"]  # still listed, not dropped
    assert shown["found"]["3.13"] is None
    assert shown["strict"] is True


def test_a_python_on_path_that_runs_is_taken_as_it_is(
    machine: dict[str, str], tmp_path: Path
) -> None:
    on_path = tmp_path / "bin"
    own = _executable(on_path / "python3.12", sys.executable)
    shown = _noxfile(
        {**machine, "PATH": os.pathsep.join([str(on_path), machine["PATH"]])}, tmp_path / "project"
    )
    assert shown["found"]["3.12"] == str(own)
    assert not (tmp_path / "project" / ".nox" / "interpreters" / "python3.12").exists()
