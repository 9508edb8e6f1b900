"""The registry of typed resources: each class once, in the order the doctor reports them.

Every list of resources is computed from :data:`RESOURCES`: the default paths, the names
``paths=`` accepts, and the doctor's table of models.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Final, Protocol

from ._base import paths as _paths
from ._jobs.endpoints import OrderJobs, PaymentJobs
from ._listing.filters import LIST_DEFAULTS, RequestOptions
from ._resources.resource import (
    ArticleGroups,
    ArticleOptions,
    Articles,
    Closings,
    Companies,
    Locations,
    PaymentMethods,
    Receipts,
    Reports,
    Resource,
    SalesPoints,
    StockLevels,
    Tables,
    TaxRates,
    Users,
    filter_spec_of,
    model_of,
)

__all__ = [
    "DEFAULT_PATHS",
    "NATURAL_KEYS",
    "RESOURCES",
    "SYNCABLE",
    "TYPED",
    "TYPED_RESOURCES",
    "change_filters",
    "client_paths",
    "natural_key",
    "parse_paths",
]


class Registered(Protocol):
    """What the registry needs of a resource class."""

    name: ClassVar[str]
    """Its key in ``paths=`` (and, for the typed resources, the client attribute)."""
    default_path: ClassVar[str]


TYPED_RESOURCES: Final[tuple[type[Resource[Any]], ...]] = (
    Companies,
    Locations,
    SalesPoints,
    TaxRates,
    ArticleGroups,
    Articles,
    ArticleOptions,
    PaymentMethods,
    Tables,
    Users,
    Receipts,
    Closings,
    StockLevels,
)
"""The list resources with a model; companies first (the doctor's first read checks the token)."""
RESOURCES: Final[tuple[type[Registered], ...]] = (
    *TYPED_RESOURCES,
    Reports,
    OrderJobs,
    PaymentJobs,
)
DEFAULT_PATHS: Final[Mapping[str, str]] = {cls.name: cls.default_path for cls in RESOURCES}
"""Each typed resource's path relative to the base URL (inferred: override with ``paths=``)."""
TYPED: Final[tuple[tuple[str, type[Any]], ...]] = tuple(
    (cls.name, model) for cls in TYPED_RESOURCES if (model := model_of(cls)) is not None
)
"""Each list resource's name and model, in registry order."""
SYNCABLE: Final[Mapping[str, type[Resource[Any]]]] = {
    cls.name: cls for cls in TYPED_RESOURCES if filter_spec_of(cls) is not None
}
"""The resources with a ``changes()`` feed, by name: what ``bessa sync`` and the dlt source
follow."""
NATURAL_KEYS: Final[Mapping[str, tuple[str, ...]]] = {StockLevels.name: ("article", "location")}
"""The fields that identify an item of a resource without an ``id`` of its own: a stock level is
one per article and location. Every other resource is identified by ``id``."""


def natural_key(name: str) -> tuple[str, ...]:
    """The fields that identify one item of the resource ``name`` (a store's primary key)."""
    return NATURAL_KEYS.get(name, ("id",))


def client_paths(overrides: Mapping[str, str] | None) -> dict[str, str]:
    """The paths a client uses: ``overrides`` (or, when None, ``BESSA_PATHS``) over the defaults.

    Raises:
        ConfigurationError: an unknown name or a path that is not relative.
    """
    if overrides is None:
        overrides = _paths.paths_from_env(DEFAULT_PATHS)
    return _paths.resolve_paths(overrides, DEFAULT_PATHS)


def parse_paths(text: str) -> dict[str, str]:
    """Path overrides from ``BESSA_PATHS``-style text, checked against the registry's names."""
    return _paths.parse_paths(text, DEFAULT_PATHS)


def change_filters(name: str) -> frozenset[str]:
    """The equality filters the changes feed of resource ``name`` takes: its list's filters but
    the time windows the feed sets itself and the listing and request options."""
    spec = filter_spec_of(SYNCABLE[name])
    assert spec is not None  # every syncable resource declares its filters
    windows = {f"{w}__{b}" for w in spec.windows for b in ("gte", "lt")}
    options = {"cursor", "limit", *LIST_DEFAULTS, *RequestOptions.__annotations__}
    return spec.keys - windows - options
