"""The front door: one import site, a complete and sorted __all__."""

from __future__ import annotations

import inspect

import bessa_async
import bessa_async.testing


def _isort_style(name: str) -> tuple[int, str]:
    """ruff's RUF022 order: CONSTANTS, then Classes, then everything else."""
    kind = 0 if name.isupper() else 1 if name[0].isupper() else 2
    return kind, name


def test_all_is_sorted_and_complete() -> None:
    """Every public name is exported, nothing private leaks, and __all__ is sorted."""
    for module in (bessa_async, bessa_async.testing):
        exported = list(module.__all__)
        assert exported == sorted(exported, key=_isort_style)
        public = {
            name
            for name, value in vars(module).items()
            if not name.startswith("_")
            and not inspect.ismodule(value)
            and name not in {"annotations"}
        }
        assert public <= set(exported) | {"annotations"}
        for name in exported:
            assert hasattr(module, name), name


def test_errors_share_one_root() -> None:
    """Every exported exception derives from BessaError."""
    for name in bessa_async.__all__:
        value = getattr(bessa_async, name)
        if inspect.isclass(value) and issubclass(value, BaseException):
            assert issubclass(value, bessa_async.BessaError), name
