"""The ``bessa`` command in a child process, started as a terminal would start it."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator

__all__ = ["HoldAfter", "running_cli", "standalone_sandbox"]

# A shell's background job starts with SIGINT ignored, and a child inherits that, so the tests'
# Ctrl-C would go unheard: the child gets Python's own handler back, as a terminal leaves it.
_BOOT = (
    "import runpy, signal; signal.signal(signal.SIGINT, signal.default_int_handler); "
    "runpy.run_module('bessa_async', run_name='__main__', alter_sys=True)"
)


@contextlib.asynccontextmanager
async def running_cli(
    *argv: str, stdout: int = asyncio.subprocess.PIPE
) -> AsyncIterator[asyncio.subprocess.Process]:
    """``python -m bessa_async ARGV`` with piped stderr (and stdout unless told otherwise);
    killed if left running."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _BOOT, *argv, stdout=stdout, stderr=asyncio.subprocess.PIPE
    )
    try:
        yield process
    finally:
        if process.returncode is None:
            process.kill()
        await process.communicate()  # drains and closes the pipes


@contextlib.asynccontextmanager
async def standalone_sandbox(
    *argv: str,
) -> AsyncIterator[tuple[asyncio.subprocess.Process, dict[str, str]]]:
    """``python -m bessa_async.testing --port 0 ARGV`` and what it printed at start-up (label ->
    value: ``"bessa sandbox listening on"``, ``"token (tenant A)"``, ...); killed if left
    running."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bessa_async.testing",
        "--port",
        "0",
        *argv,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        assert process.stdout is not None
        printed: dict[str, str] = {}
        async with asyncio.timeout(20):
            while "token (tenant A)" not in printed:
                line = (await process.stdout.readline()).decode()
                assert line, "the sandbox exited before printing its URL and token"
                label, _, value = line.strip().rpartition(" ")
                printed[label.strip().rstrip(":")] = value
        yield process, printed
    finally:
        if process.returncode is None:
            process.kill()
        await process.wait()


class HoldAfter:
    """A sandbox ``sleep`` that lets the first ``free`` delayed answers go and holds the rest
    until released, so a command cannot end before the test has stopped it."""

    def __init__(self, free: int) -> None:
        self.free = free
        self.released = asyncio.Event()

    async def __call__(self, seconds: float) -> None:
        if self.free > 0:
            self.free -= 1
            return
        await self.released.wait()
