"""Which filters of the jobs list the API honours, judged from what it answers (pure).

The scheduler reads many waiting jobs from the jobs list with ``updated__gte`` (falling back to
``status``); reconciliation looks a submission up by ``reference``. DRF ignores a filter it does
not know and answers the unfiltered list, so each filter is sent with a value taken from a listed
job and every answered item is checked against it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from .._base.wire_time import instant

__all__ = ["JOB_FILTERS", "filter_probes", "honoured"]

JOB_FILTERS: Final = ("status", "updated__gte", "sales_point", "reference")
"""The job-list filters the library relies on, in the order they are reported."""


def _matches(name: str, value: Any, item: Mapping[str, Any]) -> bool:
    if name == "updated__gte":
        updated = instant(item.get("updated"))
        return updated is not None and updated >= value
    return bool(item.get(name) == value)


def filter_probes(sample: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Each filter's value: the first listed job's (for ``updated__gte`` the newest stamp, so
    that older jobs are left out)."""
    probes: dict[str, Any] = {}
    stamps = [s for item in sample if (s := instant(item.get("updated"))) is not None]
    if stamps:
        probes["updated__gte"] = max(stamps)
    for name in JOB_FILTERS:
        values = [item.get(name) for item in sample if isinstance(item.get(name), str)]
        if values and name != "updated__gte":
            probes[name] = values[0]
    return {name: probes[name] for name in JOB_FILTERS if name in probes}


def honoured(
    name: str,
    value: Any,
    sample: Sequence[Mapping[str, Any]],
    answered: Sequence[Mapping[str, Any]],
) -> bool | None:
    """True: every answered item matches and the unfiltered ``sample`` held one that does not
    (so the filter removed something); False: an answered item contradicts it; None: the jobs
    listed cannot tell (every one of them matches anyway)."""
    if not all(_matches(name, value, item) for item in answered):
        return False
    if all(_matches(name, value, item) for item in sample):
        return None
    return True
