"""Type-check every ``python`` code block of the README and the guides with ``mypy --strict``.

Each block becomes a module of its own. A block written as the body of a coroutine (it awaits
at the top level, as the guides show code that runs inside your ``async def``) is wrapped in
``async def _(client: BessaClient) -> None``, its imports hoisted; so a block may use ``client``
and nothing else it does not define or import. Run: ``python docs/snippets.py``.

``tests/test_docs_run.py`` also runs every block against the sandbox, except a block right after
a line ``<!-- not run: REASON -->``: the reader sees the reason in the Markdown source and on the
repository page's "raw" view, and the runner skips the block with it.

A block right after a line ``<!-- from: PATH -->`` is an excerpt of that file of the repository
(checked and tested there): it is neither type-checked nor run alone, and
``tests/test_docs_excerpts.py`` checks that its lines are the file's own.
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
    r"(?:^<!-- not run: (?P<reason>[^\n]*?) -->\n|^<!-- from: (?P<origin>[^\n]*?) -->\n)?"
    r"^```python\n(?P<code>.*?)^```",
    re.MULTILINE | re.DOTALL,
)
_WRAPPER = "async def _(client: BessaClient) -> None:\n"


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


class Excerpt(NamedTuple):
    """A python block that shows lines of a file of the repository (``origin``)."""

    source: str
    line: int
    code: str
    origin: str


def _matches() -> list[tuple[str, int, re.Match[str]]]:
    found = []
    for source in SOURCES:
        text = source.read_text(encoding="utf-8")
        for match in BLOCK.finditer(text):
            line = text.count("\n", 0, match.start("code")) + 1
            found.append((str(source.relative_to(ROOT)), line, match))
    return found


def blocks() -> list[Block]:
    """Every python block of the README and the guides that stands alone."""
    return [
        Block(source, line, match.group("code"), match.group("reason"))
        for source, line, match in _matches()
        if match.group("origin") is None
    ]


def excerpts() -> list[Excerpt]:
    """Every python block that shows lines of a file of the repository."""
    return [
        Excerpt(source, line, match.group("code"), match.group("origin"))
        for source, line, match in _matches()
        if match.group("origin") is not None
    ]


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
    return result.returncode


if __name__ == "__main__":
    raise SystemExit(main())
