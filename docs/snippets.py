"""Type-check every ``python`` code block of the README and the guides with ``mypy --strict``.

Each block becomes a module of its own. A block written as the body of a coroutine (it awaits
at the top level, as the guides show code that runs inside your ``async def``) is wrapped in
``async def _(client: BessaClient) -> None``, its imports hoisted; so a block may use ``client``
and nothing else it does not define or import. Run: ``python docs/snippets.py``.

``tests/test_docs_run.py`` also runs every block against the sandbox, except a block right after
a line ``<!-- not run: REASON -->``: the reader sees the reason in the Markdown source and on the
repository page's "raw" view, and the runner skips the block with it.

A block whose first line is a comment naming a file (``# examples/fastapi_shop/shop.py``, from
the repository's root) is an excerpt of that file, written out so that the guide reads the same on
the repository page as on the site (no ``literalinclude``): it is neither type-checked nor run
here (the file is, where it lives), but each run of its lines between lines ``...`` must be the
file's own lines, in the file's order (:func:`excerpt_problem`).
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parent.parent
SOURCES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(
    r"(?:^<!-- not run: (?P<reason>[^\n]*?) -->\n)?^```python\n(?P<code>.*?)^```",
    re.MULTILINE | re.DOTALL,
)
_WRAPPER = "async def _(client: BessaClient) -> None:\n"
EXCERPT = re.compile(r"# (?P<path>[\w./-]+\.py)\n")
"""An excerpt's first line: the file it shows, from the repository's root."""
ELISION = "..."
"""An excerpt's line (indented or not) that stands for lines of the file left out."""


def _is_coroutine_body(code: str) -> bool:
    """Whether the block is a coroutine's body: it awaits at the top level, or uses a
    ``client`` it does not make."""
    try:
        compile(code, "<block>", "exec")  # parsing alone accepts a top-level await
    except SyntaxError:
        return True
    uses = re.search(r"\bclient\b", code) is not None
    return uses and re.search(r"\bclient\s*=|\bas client\b|client:", code) is None


def module_of(code: str) -> str:
    """The block as a module mypy can check."""
    if not _is_coroutine_body(code):
        return code
    lines = code.splitlines()
    hoisted: set[int] = set()
    for node in ast.parse(code).body:  # ast accepts a top-level await; compile() does not
        if isinstance(node, ast.Import | ast.ImportFrom):
            hoisted.update(range(node.lineno - 1, (node.end_lineno or node.lineno)))
    imports = [line for i, line in enumerate(lines) if i in hoisted]
    body = [line for i, line in enumerate(lines) if i not in hoisted]
    head = ["from __future__ import annotations", "from bessa_async import BessaClient", *imports]
    return "\n".join(head) + "\n\n\n" + _WRAPPER + textwrap.indent("\n".join(body), "    ") + "\n"


class Block(NamedTuple):
    """A python block: where it is, its code, and why it is not run (None: it is)."""

    source: str
    line: int
    code: str
    not_run: str | None


def _python_blocks() -> list[Block]:
    found = []
    for source in SOURCES:
        text = source.read_text(encoding="utf-8")
        for match in BLOCK.finditer(text):
            line = text.count("\n", 0, match.start("code")) + 1
            code, reason = match.group("code"), match.group("reason")
            found.append(Block(str(source.relative_to(ROOT)), line, code, reason))
    return found


def blocks() -> list[Block]:
    """Every python block of the README and the guides, but the excerpts of files."""
    return [block for block in _python_blocks() if not EXCERPT.match(block.code)]


def excerpts() -> list[Block]:
    """Every excerpt of a file in the README and the guides."""
    return [block for block in _python_blocks() if EXCERPT.match(block.code)]


def _trimmed(lines: list[str]) -> list[str]:
    blank = [not line.strip() for line in lines]
    if all(blank):
        return []
    return lines[blank.index(False) : len(lines) - blank[::-1].index(False)]


def excerpt_problem(code: str) -> str | None:
    """What makes an excerpt differ from its file, or None: each run of its lines between
    lines ``...`` must be lines of the file, one after the other, each run below the last
    (blank lines at a run's ends aside)."""
    header = EXCERPT.match(code)
    if header is None:
        return "its first line does not name a file (# examples/...)"
    path = ROOT / header["path"]
    if not path.is_file():
        return f"{header['path']} is not a file of the repository"
    lines = path.read_text(encoding="utf-8").splitlines()
    runs: list[list[str]] = [[]]
    for line in code[header.end() :].splitlines():
        if line.strip() == ELISION:
            runs.append([])
        else:
            runs[-1].append(line)
    # The blank lines around a `...` are the excerpt's layout (ruff formats it), not the file's.
    runs = [run for run in (_trimmed(run) for run in runs) if run]
    if not runs:
        return f"it shows no line of {header['path']}"
    start = 0
    for run in runs:
        at = next(
            (i for i in range(start, len(lines) - len(run) + 1) if lines[i : i + len(run)] == run),
            None,
        )
        if at is None:
            where = f" below its line {start}" if start else ""
            return (
                f"the lines from {run[0]!r} on are not lines of {header['path']}{where}"
                " (copy them again from the file; mark lines left out with `...`)"
            )
        start = at + len(run)
    return None


def main() -> int:
    found = blocks()
    with tempfile.TemporaryDirectory() as tmp:
        names = {}
        for index, (source, line, code, _) in enumerate(found):
            path = Path(tmp) / f"snippet_{index:03d}.py"
            path.write_text(module_of(code), encoding="utf-8")
            names[path.name] = f"{source}:{line}"
        result = subprocess.run(
            [sys.executable, "-m", "mypy", "--strict", "--no-incremental", tmp],
            capture_output=True,
            text=True,
            check=False,
        )
    report = result.stdout
    for name, where in names.items():  # name each error by the block it is in
        report = report.replace(f"{tmp}/{name}", f"{where}, generated line")
    print(report.strip())
    print(f"checked {len(found)} python blocks in {len(SOURCES)} files")
    drifted = [(b, problem) for b in excerpts() if (problem := excerpt_problem(b.code))]
    for block, problem in drifted:
        print(f"{block.source}:{block.line}: the excerpt differs from its file: {problem}")
    return result.returncode or int(bool(drifted))


if __name__ == "__main__":
    raise SystemExit(main())
