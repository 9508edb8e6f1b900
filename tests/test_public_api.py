"""The front door: one import site, a complete and sorted __all__."""

from __future__ import annotations

import importlib
import inspect

import pytest

import bessa_async
import bessa_async.doctor
import bessa_async.export
import bessa_async.hooks
import bessa_async.resources
import bessa_async.testing

PUBLIC_MODULES = (
    bessa_async,
    bessa_async.hooks,
    bessa_async.resources,
    bessa_async.doctor,
    bessa_async.export,
    bessa_async.testing,
)


def _isort_style(name: str) -> tuple[int, str]:
    """ruff's RUF022 order: CONSTANTS, then Classes, then everything else."""
    kind = 0 if name.isupper() else 1 if name[0].isupper() else 2
    return kind, name


def test_all_is_sorted_and_complete() -> None:
    """Every public name is exported, nothing private leaks, and __all__ is sorted."""
    for module in PUBLIC_MODULES:
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


def test_the_front_door_keeps_secondary_names_out() -> None:
    """Hook events, doctor findings, export helpers, the classes behind ``client.<name>`` and
    their filters live in their public modules, not at the top."""
    for name in bessa_async.__all__:
        value = getattr(bessa_async, name)
        module = getattr(value, "__module__", "") if inspect.isclass(value) else ""
        assert not module.startswith(
            ("bessa_async._instrument.events", "bessa_async._doctor", "bessa_async._models.export")
        ), name
        if inspect.isclass(value) and issubclass(value, bessa_async.Resource):
            assert value in (bessa_async.Resource, bessa_async.AnyResource), name
    for module in PUBLIC_MODULES[1:5]:
        assert set(module.__all__) - set(bessa_async.__all__), module.__name__


@pytest.mark.parametrize("name", sorted(bessa_async._MOVED))
def test_a_moved_name_still_works_from_the_front_door_with_a_warning(name: str) -> None:
    """For one release, ``from bessa_async import Receipts`` still works and says where to."""
    home = importlib.import_module(bessa_async._MOVED[name])
    assert name in home.__all__
    assert name not in bessa_async.__all__
    with pytest.warns(DeprecationWarning, match=rf"{name} moved to {home.__name__}\.{name}"):
        value = getattr(bessa_async, name)
    assert value is getattr(home, name)


def test_an_unknown_name_is_still_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        bessa_async.Nope  # noqa: B018
