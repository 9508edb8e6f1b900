"""Development sessions: `nox -s tests lint typecheck docs` is what CI runs."""

from __future__ import annotations

import subprocess

import nox

nox.options.sessions = ["tests", "lint", "typecheck", "docs"]
nox.options.default_venv_backend = "venv"

PYPROJECT = nox.project.load_toml("pyproject.toml")
DEV = nox.project.dependency_groups(PYPROJECT, "dev")


def _runs(python: str) -> bool:
    try:
        return subprocess.run([python, "-c", ""], capture_output=True).returncode == 0
    except OSError:
        return False


# Every Python the classifiers promise that this machine can run (else nox's own).
PYTHONS = [v for v in nox.project.python_versions(PYPROJECT) if _runs(f"python{v}")] or None
EXTRAS = ".[cli,otel,dlt,redis]"
"""Every extra, so that every module is tested and type-checked."""
POSTGRES_DRIVER = "dlt[postgres]"
"""What dlt needs to load into PostgreSQL (BESSA_TEST_POSTGRES, which .ci/run starts)."""


@nox.session(python=PYTHONS)
def tests(session: nox.Session) -> None:
    """Run the test suite under coverage and print the report (every extra included).

    The environment reaches pytest as it is: BESSA_TEST_POSTGRES names the PostgreSQL server
    the copy tests load into, BESSA_TEST_REDIS the Redis server of the shared rate gate's tests;
    BESSA_REQUIRE_SERVICES=1 fails them instead of skipping without.
    """
    session.install("-e", EXTRAS, POSTGRES_DRIVER, *DEV)
    session.run("coverage", "erase")
    # Two workers (one per core here) roughly halve the run; `-- -n 0` runs in one process.
    session.run("coverage", "run", "-m", "pytest", "-n", "auto", *session.posargs)
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
    """mypy --strict over the package and the tests."""
    session.install("-e", EXTRAS, *DEV)
    session.run("mypy", "--strict")


@nox.session
def docs(session: nox.Session) -> None:
    """Type-check the README's and guides' code blocks, then build the site (warnings fail it)."""
    session.install("-e", EXTRAS, *DEV, *nox.project.dependency_groups(PYPROJECT, "docs"))
    session.run("python", "docs/snippets.py")  # every python block of the README and guides
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
