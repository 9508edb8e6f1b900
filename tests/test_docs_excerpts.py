"""The guides' excerpts of the repository's files (a block after ``<!-- from: PATH -->``) are
the file's own lines, in order, so a guide never shows a drifting copy of the examples."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from test_docs_run import SNIPPETS  # docs/snippets.py: one extraction of the blocks

ROOT = Path(__file__).resolve().parent.parent

EXCERPTS: list[Any] = SNIPPETS.excerpts()


def test_the_task_queue_guides_show_the_examples() -> None:
    shown = {(e.source, e.origin) for e in EXCERPTS}
    assert ("docs/sync.md", "examples/arq_tenants/worker.py") in shown
    assert ("docs/cookbook.md", "examples/arq_tenants/worker.py") in shown
    assert ("docs/cookbook.md", "examples/celery_tenants/worker.py") in shown


@pytest.mark.parametrize("excerpt", EXCERPTS, ids=lambda e: f"{e.source}:{e.line}")
def test_an_excerpt_is_the_files_own_lines(excerpt: Any) -> None:
    origin = ROOT / excerpt.origin
    assert origin.is_file(), f"{excerpt.source}:{excerpt.line} shows {excerpt.origin}: no such file"
    assert excerpt.code.strip(), "an empty excerpt"
    text = origin.read_text(encoding="utf-8")
    assert "\n" + excerpt.code in "\n" + text, (
        f"{excerpt.source}:{excerpt.line} is not a run of whole lines of {excerpt.origin}"
    )
