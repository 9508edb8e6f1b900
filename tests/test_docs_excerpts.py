"""The guides show the code they talk about in their own Markdown, so that they read the same on
the repository page as on the site: an excerpt names its file and is checked against it."""

from __future__ import annotations

import re
from typing import Any

import pytest
from test_docs_run import ROOT, SNIPPETS

EXCERPTS: list[Any] = SNIPPETS.excerpts()  # snippets.Block: source, line, code, not_run
FILE = "examples/sandbox_kit/test_control.py"
LINES = (ROOT / FILE).read_text(encoding="utf-8").splitlines()


def _problem(*lines: str, file: str = FILE) -> str | None:
    problem = SNIPPETS.excerpt_problem("\n".join([f"# {file}", *lines, ""]))
    assert problem is None or isinstance(problem, str)
    return problem


def test_no_guide_pulls_in_code_its_markdown_does_not_show() -> None:
    # On the repository page a directive shows its own text, not the code it includes.
    for source in SNIPPETS.SOURCES:
        text = source.read_text(encoding="utf-8")
        assert re.search(r"\{literalinclude\}", text) is None, source.name


@pytest.mark.parametrize("block", EXCERPTS, ids=[f"{b.source}:{b.line}" for b in EXCERPTS])
def test_each_excerpt_is_its_files_own_lines(block: Any) -> None:
    assert SNIPPETS.excerpt_problem(block.code) is None


def test_the_guides_show_the_example_suites_the_shop_and_the_workers() -> None:
    shown = {SNIPPETS.EXCERPT.match(block.code)["path"] for block in EXCERPTS}
    assert shown == {
        "examples/fastapi_shop/shop.py",
        "examples/fastapi_shop/test_shop.py",
        "examples/sandbox_kit/test_control.py",
        "examples/arq_tenants/worker.py",
        "examples/celery_tenants/worker.py",
    }


def test_excerpts_are_checked_against_their_file_not_type_checked_alone() -> None:
    # An excerpt's function needs the imports its file has; the file is type-checked itself.
    assert not any(SNIPPETS.EXCERPT.match(block.code) for block in SNIPPETS.blocks())


def test_runs_of_lines_between_elisions_match_in_the_files_order() -> None:
    first, last = LINES.index("import pytest"), len(LINES) - 1
    assert _problem(*LINES) is None
    assert _problem(LINES[first], "...", LINES[last]) is None
    assert _problem("...", f"    {SNIPPETS.ELISION}", LINES[last], "...") is None


def test_a_line_that_changed_is_caught() -> None:
    changed = LINES[LINES.index("import pytest") :][:3]
    changed[1] += "  # edited in the guide only"
    problem = _problem(*changed)
    assert problem is not None
    assert FILE in problem
    assert "import pytest" in problem


def test_runs_out_of_order_or_run_together_are_caught() -> None:
    first, last = LINES.index("import pytest"), len(LINES) - 1
    assert _problem(LINES[last], "...", LINES[first]) is not None
    assert _problem(LINES[first], LINES[last]) is not None  # the lines between left out unsaid


def test_an_excerpt_must_show_a_line_of_a_file_that_exists() -> None:
    assert "examples/gone.py" in (_problem(LINES[0], file="examples/gone.py") or "")
    assert _problem("...") == f"it shows no line of {FILE}"
    assert SNIPPETS.excerpt_problem("import pytest\n") is not None
