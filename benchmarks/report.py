"""The report writer of the benchmarks: README sections between markers, and their header.

``run.py`` and ``jobs.py`` each own a section of ``benchmarks/README.md``, delimited by HTML
comment markers; a run replaces its own section and leaves the rest of the file alone.
"""

from __future__ import annotations

import contextlib
import os
import platform
import shlex
import subprocess
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
from harness import httpx

from bessa_async import __version__

README = Path(__file__).with_name("README.md")


def command_line(script: str, argv: Sequence[str] | None) -> str:
    """The command as a user would type it again (``argv`` None: this process's arguments)."""
    return shlex.join(["python", script, *(sys.argv[1:] if argv is None else argv)])


def preamble(begin_mark: str, command: str) -> list[str]:
    """The first lines of a section: its marker, when it was measured and the command."""
    return [
        begin_mark,
        "",
        f"- Date: {datetime.now(UTC):%Y-%m-%d %H:%M UTC}",
        f"- Command: `{command}`",
    ]


def machine_facts() -> dict[str, str]:
    """The machine and the versions measured, for the header of a figures section."""
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "cores": f"{usable} usable ({os.cpu_count()} logical)",
        "cpu": cpu,
        "os": platform.platform(terse=True),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "aiohttp": aiohttp.__version__,
        "httpx": httpx.__version__ if httpx is not None else "(not installed)",
        "bessa_async": __version__,
    }


def source_state() -> str:
    """The commit measured, and whether the library's files differed from it (others' edits)."""
    root = Path(__file__).resolve().parent.parent

    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", *args], cwd=root, capture_output=True, text=True, check=False, timeout=10
        )
        return done.stdout.rstrip() if done.returncode == 0 else ""

    try:
        commit = git("rev-parse", "--short", "HEAD")
        changed = git("status", "--porcelain", "--", "bessa_async").splitlines()
    except (OSError, subprocess.SubprocessError):
        return "unknown (no git)"
    if not commit:
        return "unknown (no git)"
    if not changed:
        return f"commit {commit}, bessa_async/ as committed"
    names = sorted(line[3:].removeprefix("bessa_async/") for line in changed)
    shown = ", ".join(names) if len(names) <= 6 else ", ".join(names[:6]) + ", ..."
    return f"commit {commit} with {len(names)} uncommitted files under bessa_async/ ({shown})"


def write_section(section: str, *, begin_mark: str, end_mark: str, heading: str) -> None:
    """Replace the text between the markers of README.md, or append it under ``heading``."""
    text = README.read_text(encoding="utf-8") if README.exists() else "# Benchmarks\n"
    start, end = text.find(begin_mark), text.find(end_mark)
    if start != -1 and end > start:
        text = text[:start] + section + text[end + len(end_mark) :]
    else:
        text = text.rstrip("\n") + f"\n\n## {heading}\n\n" + section + "\n"
    README.write_text(text, encoding="utf-8")
