"""Every python block of the README and the guides runs against the sandbox.

Blocks are the ones ``docs/snippets.py`` type-checks (one extraction). Each runs in a
subprocess, as a reader would run it, against a standalone sandbox found the way the guides
say: ``BESSA_BASE_URL`` and ``BESSA_TOKEN`` in the environment. A block after
``<!-- not run: REASON -->`` is skipped with that reason. A block that is a coroutine's body
(it uses ``client``) gets a client made from that environment; a coroutine function without
parameters that a block defines but never runs (``async def try_it()``) is run too.
"""

from __future__ import annotations

import ast
import contextlib
import importlib.util
import io
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any, NamedTuple

import pytest

from bessa_async import BessaClient

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parent.parent
# A bound for a hung block, not a speed check: a dlt block spends seconds importing dlt, and
# a busy machine may take several times that.
_BLOCK_TIMEOUT = 150.0
_DATA = ["--receipts", "300"]
"""Every block runs on 300 receipts, not the default 2000: the dlt blocks copy them all, and
each of the suite's three Pythons would spend seconds on receipts that show nothing more."""


def _snippets() -> ModuleType:
    spec = importlib.util.spec_from_file_location("snippets", ROOT / "docs" / "snippets.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("snippets", module)  # NamedTuple needs its module while defined
    spec.loader.exec_module(module)
    return module


SNIPPETS = _snippets()


BLOCKS: list[Any] = SNIPPETS.blocks()  # snippets.Block: source, line, code, not_run


def _block(source: str, defines: str) -> str:
    """The code of the one block of ``source`` that defines ``defines``."""
    [code] = [str(b.code) for b in BLOCKS if b.source == source and f"def {defines}(" in b.code]
    return code


def _define(code: str) -> dict[str, Any]:
    namespace: dict[str, Any] = {"__name__": "docs_block"}
    exec(compile(code, "<docs block>", "exec"), namespace)  # our own docs
    return namespace


class Standalone(NamedTuple):
    url: str
    token: str


@pytest.fixture(scope="module")
def standalone() -> Iterator[Standalone]:
    """``bessa sandbox`` in its own process, holding June 2026 as the guides' examples do."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bessa_async.testing",
            "--port",
            "0",
            "--start",
            "2026-06-01",
            *_DATA,
        ],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert process.stdout is not None
        url = token = ""
        for line in process.stdout:
            if match := re.search(r"listening on (\S+)", line):
                url = match.group(1)
            if match := re.search(r"token \(tenant A\):\s+(\S+)", line):
                token = match.group(1)
                break
        assert url, "the standalone sandbox did not print its URL"
        assert token, "the standalone sandbox did not print tenant A's token"
        yield Standalone(url, token)
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()


_RUN_CLIENT = """

import asyncio as _asyncio


async def _run() -> None:
    async with BessaClient() as client:  # BESSA_BASE_URL and BESSA_TOKEN
        await _(client)


_asyncio.run(_run())
"""


def _run(code: str, standalone: Standalone, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "block.py"
    script.write_text(code, encoding="utf-8")
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "BESSA_BASE_URL": standalone.url,
        "BESSA_TOKEN": standalone.token,
        "DLT_DATA_DIR": str(tmp_path / "dlt"),  # dlt's pipeline state stays in the test, too
    }
    if redis_url := os.environ.get("BESSA_TEST_REDIS"):  # the shared rate gate's server
        env["REDIS_URL"] = redis_url
    return subprocess.run(
        [sys.executable, "-W", "error", str(script)],
        cwd=tmp_path,  # what a block writes (a CSV, a token file) stays in the test's directory
        env=env,
        capture_output=True,
        text=True,
        timeout=_BLOCK_TIMEOUT,
        check=False,
    )


def _runnable(code: str) -> list[str]:
    """The coroutine functions without parameters a block defines and never runs itself: an
    example such as "async def try_it()" is run, not only defined."""
    if "asyncio.run(" in code:
        return []
    return [
        node.name
        for node in ast.parse(code).body
        if isinstance(node, ast.AsyncFunctionDef) and not node.args.args and node.name != "_"
    ]


@pytest.mark.timeout(180)  # see _BLOCK_TIMEOUT
@pytest.mark.parametrize("block", BLOCKS, ids=[f"{b.source}:{b.line}" for b in BLOCKS])
def test_the_block_runs(block: Any, standalone: Standalone, tmp_path: Path) -> None:
    if block.not_run is not None:
        pytest.skip(f"marked not run: {block.not_run}")
    code = SNIPPETS.module_of(block.code)
    if code != block.code:  # a coroutine's body: run it with a client
        code += _RUN_CLIENT
    code += "".join(f"\n\nimport asyncio\nasyncio.run({name}())\n" for name in _runnable(code))
    result = _run(code, standalone, tmp_path)
    assert result.returncode == 0, f"{block.source}:{block.line} failed:\n{result.stderr}"


def test_every_block_not_run_says_why() -> None:
    assert all(b.not_run is None or b.not_run.strip() for b in BLOCKS)


async def test_prune_answers_the_ids_gone(bessa_client: BessaClient) -> None:
    prune: Callable[..., Any] = _define(_block("docs/sync.md", "prune"))["prune"]
    live = {str(a.id) async for a in bessa_client.articles.list()}
    gone = "00000000-0000-4000-8000-000000000000"
    assert await prune(bessa_client, live | {gone}) == {gone}


_SYNC_TWICE = """

import asyncio as _asyncio


async def _twice() -> None:
    db = sqlite3.connect("copy.sqlite")
    try:
        async with BessaClient() as client:  # BESSA_BASE_URL and BESSA_TOKEN
            first = await sync_receipts(client, db)
            [(count,)] = db.execute("SELECT count(*) FROM receipts").fetchall()
            [(saved,)] = db.execute("SELECT checkpoint FROM sync").fetchall()
            again = await sync_receipts(client, db)
            print(first, count, bool(saved), again)
    finally:
        db.close()


_asyncio.run(_twice())
"""


def test_the_exactly_once_example_keeps_its_checkpoint(
    standalone: Standalone, tmp_path: Path
) -> None:
    # sqlite3 blocks the loop (the guide says a real async driver goes there), so the example
    # runs in its own process, as the blocks do.
    result = _run(_block("docs/sync.md", "sync_receipts") + _SYNC_TWICE, standalone, tmp_path)
    assert result.returncode == 0, result.stderr
    first, count, saved, again = result.stdout.split()
    assert first == count != "0"  # every receipt stored once
    assert saved == "True"
    assert again == "0"  # the second run starts where the first ended: nothing repeated


def test_job_wait_help_shows_what_the_command_accepts() -> None:
    from bessa_async._cli.app import _parser

    parser = _parser()
    with pytest.raises(SystemExit), contextlib.redirect_stdout(io.StringIO()) as out:
        parser.parse_args(["job", "wait", "--help"])
    [example] = re.findall(r"^example: (bessa job wait .*?)(?:#.*)?$", out.getvalue(), re.M)
    parser.parse_args(shlex.split(example)[1:])  # an argument it rejects exits with 2


@pytest.mark.parametrize("mode", ["strict", "auto"])
def test_the_testing_guides_example_passes_in_both_modes(
    pytester: pytest.Pytester, mode: str
) -> None:
    [example] = [b.code for b in BLOCKS if b.source == "docs/testing.md" and "def test_" in b.code]
    pytester.makepyfile(test_example=example)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-o", f"asyncio_mode={mode}")
    result.assert_outcomes(passed=1)


def test_the_quickstart_installs_from_a_clone_until_published() -> None:
    text = (ROOT / "docs" / "quickstart.md").read_text(encoding="utf-8")
    installs = re.findall(r"^pip install (\S+)", text, re.MULTILINE)
    assert installs
    assert all(target.lstrip("'").startswith("/") for target in installs)
