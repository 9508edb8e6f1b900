"""``bessa_async.typing``: the public home of the clock, sleep and hook types (pure)."""

from __future__ import annotations

import ast
from pathlib import Path

import bessa_async
import bessa_async.typing as public


def test_the_types_are_public_and_sorted() -> None:
    assert public.__all__ == ["Clock", "Hook", "Sleep"]
    for name in public.__all__:
        assert getattr(public, name) is not None


def test_no_other_module_defines_a_clock_sleep_or_hook_alias() -> None:
    """One definition each: a module that needs one imports it from ``bessa_async.typing``."""
    package = Path(bessa_async.__file__).parent
    defined = []
    for path in sorted(package.rglob("*.py")):
        if path.name == "typing.py" and path.parent == package:
            continue
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            targets = (
                node.targets
                if isinstance(node, ast.Assign)
                else [node.target]
                if isinstance(node, ast.AnnAssign)
                else []
            )
            names = [t.id for t in targets if isinstance(t, ast.Name)]
            defined += [f"{path.relative_to(package)}: {n}" for n in names if n in public.__all__]
    assert defined == []
