"""Development sessions: `nox -s tests lint typecheck docs` is what CI runs."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import nox

nox.options.sessions = ["tests", "lint", "typecheck", "docs"]
nox.options.default_venv_backend = "venv"

PYPROJECT = nox.project.load_toml("pyproject.toml")
DEV = nox.project.dependency_groups(PYPROJECT, "dev")


CI = os.environ.get("BESSA_REQUIRE_SERVICES") == "1"
"""Set by .ci/run: there a Python the classifiers promise that cannot be found fails the run."""
nox.options.error_on_missing_interpreters = CI


def _runs(python: str) -> bool:
    try:
        return subprocess.run([python, "-c", ""], capture_output=True).returncode == 0
    except OSError:
        return False


def _pyenv_root() -> Path:
    if root := os.environ.get("PYENV_ROOT"):
        return Path(root)
    if pyenv := shutil.which("pyenv"):
        done = subprocess.run([pyenv, "root"], capture_output=True, text=True)
        if done.returncode == 0 and done.stdout.strip():
            return Path(done.stdout.strip())
    return Path.home() / ".pyenv"


def _patch(python: Path) -> int:
    """3.12.1's 1, from .../versions/3.12.1/bin/python3.12 (a build like 3.13.0t: -1, last)."""
    found = re.fullmatch(r"\d+\.\d+\.(\d+)", python.parent.parent.name)
    return int(found[1]) if found else -1


def interpreter(version: str) -> str | None:
    """A `pythonX.Y` that runs: the one on PATH, else the newest of pyenv's installs.

    pyenv's shim for a version that is installed but not selected (`pyenv global`) exits
    with "command not found", so the interpreters under `pyenv root` are tried as well.
    """
    name = f"python{version}"
    installed = sorted(_pyenv_root().glob(f"versions/{version}.*/bin/{name}"), key=_patch)
    for python in [shutil.which(name), *map(str, reversed(installed))]:
        if python and _runs(python):
            return python
    return None


def _put_on_path(found: dict[str, str | None]) -> None:
    """Make each found `pythonX.Y` the one on PATH, so that nox finds it by its version.

    A directory of links named `pythonX.Y` goes first on PATH (this process and its children):
    nothing else on PATH is shadowed, and the sessions keep their names (tests-3.12).
    """
    links = Path(".nox", "interpreters").absolute()
    for version, python in found.items():
        link = links / f"python{version}"
        if python is None or shutil.which(link.name) == python:
            continue
        links.mkdir(parents=True, exist_ok=True)
        link.unlink(missing_ok=True)
        link.symlink_to(python)
        if str(links) not in os.environ["PATH"].split(os.pathsep):
            os.environ["PATH"] = os.pathsep.join([str(links), os.environ["PATH"]])


INTERPRETERS = {v: interpreter(v) for v in nox.project.python_versions(PYPROJECT)}
"""Every Python the classifiers promise, and where it is on this machine (None: nowhere)."""
_put_on_path(INTERPRETERS)
PYTHONS = list(INTERPRETERS)
"""The tests' Pythons: one that cannot be found is skipped, or fails the run in CI."""
COVERED = PYTHONS[0]
"""The one the whole suite runs on, under coverage."""
ON_EVERY_PYTHON = [
    "tests/base",
    "tests/models",
    "tests/transport",
    "tests/instrument",
    "tests/client",
    "tests/resources",
    "tests/typing",
    "tests/test_public_api.py",
    "tests/test_pickle_errors.py",
    "tests/test_ci_pythons.py",
]
"""What the other Pythons run: the rooms where the interpreter's version shows (asyncio and the
wire, URL codecs, typing, the models' conversion, pickling, the front door). The listings,
jobs, commands, sandbox, copy and docs run on COVERED only: three whole runs on a busy 2-core
machine take longer than CI's fifteen minutes."""
_NOT_ON_EVERY_PYTHON = ("mypy", "ruff", "fastapi", "arq", "celery", "kombu", "import-linter")
EXTRAS = ".[cli,otel,dlt,redis]"
"""Every extra, so that every module is tested and type-checked."""
POSTGRES_DRIVER = "dlt[postgres]"
"""What dlt needs to load into PostgreSQL (BESSA_TEST_POSTGRES, which .ci/run starts)."""


@nox.session(python=PYTHONS)
def tests(session: nox.Session) -> None:
    """Run the test suite (every extra included); on COVERED under coverage, with the report.

    The environment reaches pytest as it is: BESSA_TEST_POSTGRES names the PostgreSQL server
    the copy tests load into, BESSA_TEST_REDIS the Redis server of the shared rate gate's tests;
    BESSA_REQUIRE_SERVICES=1 fails them instead of skipping without.
    """
    # Two workers (one per core here) roughly halve the run; `-- -n 0` runs in one process.
    pytest = ["pytest", "-n", "auto", *session.posargs]
    if session.python != COVERED and not session.posargs:
        # What those rooms' tests need: neither the copy's and workers' stacks nor the linters.
        lean = [req for req in DEV if not req.startswith(_NOT_ON_EVERY_PYTHON)]
        session.install("-e", ".[cli,otel,redis]", *lean)
        session.run("python", "-m", *pytest, *ON_EVERY_PYTHON)
        return
    session.install("-e", EXTRAS, POSTGRES_DRIVER, *DEV)
    if session.python != COVERED:
        session.run("python", "-m", *pytest)
        return
    session.run("coverage", "erase")
    session.run("coverage", "run", "-m", *pytest)
    session.run("coverage", "combine", "--quiet")
    session.run("coverage", "report")


@nox.session
def lint(session: nox.Session) -> None:
    """Ruff (lint and formatting) and the import contracts that keep the layers."""
    session.install(*(req for req in DEV if req.startswith(("ruff", "import-linter"))))
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("lint-imports")


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy --strict over the package, the tests, and the README's and guides' code blocks."""
    session.install("-e", EXTRAS, *DEV)
    session.run("mypy", "--strict")
    # Here, not in `docs`: these need every extra, and one environment with them is enough.
    session.run("python", "docs/snippets.py")  # every python block of the README and guides


@nox.session
def docs(session: nox.Session) -> None:
    """Build the site (warnings fail it); the API reference is read from the package."""
    session.install("-e", ".[otel]", *nox.project.dependency_groups(PYPROJECT, "docs"))
    out = session.posargs[0] if session.posargs else "docs/_build/html"
    session.run("sphinx-build", "-W", "--keep-going", "-q", "-b", "html", "docs", out)


@nox.session
def demo(session: nox.Session) -> None:
    """The main job: a walkthrough of the client against the bundled sandbox."""
    session.install("-e", ".[cli]")
    session.run("python", "-m", "bessa_async", "demo", *session.posargs)


@nox.session(default=False)
def soak(session: nox.Session) -> None:
    """The long fault soak (20k receipts under random faults); CI runs a short version."""
    session.install("-e", ".[cli]", *DEV)
    env = {"BESSA_SOAK": "long"}
    session.run("pytest", "-m", "soak", *session.posargs, env=env)


@nox.session(default=False)
def bench(session: nox.Session) -> None:
    """Benchmarks (not part of the tests): ratios against a baseline in the same run."""
    # httpx is P1's "what users write instead" baseline: needed here only, not by the library;
    # the OpenTelemetry SDK records P1's traced side.
    # The redis extra: Q1's shared gate (benchmarks/shared_gate.py).
    session.install("-e", ".[cli,otel,redis]", "httpx", "opentelemetry-sdk")
    session.run("python", "benchmarks/run.py", *session.posargs)
