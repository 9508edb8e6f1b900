"""Reading many waiting jobs of one kind from the jobs list: the query and its checks.

A *round* reads the jobs list (``requests/orders/``) instead of one job: with
``updated__gte=<since>`` it answers the jobs that changed since the last round, whatever their
number. The filters are inferred, so every answered item is checked against the filter sent: an
``updated`` older than asked for proves ``updated__gte`` is ignored, and the rounds fall back to
the list of unfinished jobs (``status=pending&status=processing``), where a job that is missing
is read on its own; a status outside those proves ``status`` is ignored, and the jobs of that
kind are polled one by one again. Everything here is pure.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any, Final, Literal

import attrs

from .._base.wire_time import instant
from .model import Job, JobStatus

__all__ = [
    "GRACE",
    "OVERLAP",
    "PAGE_LIMIT",
    "RUNNING",
    "ListState",
    "Mode",
    "contradicts",
    "lacks_outcome",
]

Mode = Literal["changes", "unfinished", "off"]

RUNNING: Final = (str(JobStatus.PENDING), str(JobStatus.PROCESSING))
"""The unfinished words a ``status=`` list asks for (an unknown word is unfinished too, but
cannot be asked for: such a job is polled on its own)."""
PAGE_LIMIT: Final = 500
"""Jobs per list page asked for (the API may clamp it)."""
OVERLAP: Final = timedelta(seconds=0.5)
"""How far before the newest ``updated`` seen a round reads again, beyond the last round's own
duration: a change stamped before it but listed late (a commit that lagged, a job that changed
while the previous round was paging) is seen on the next round."""
GRACE: Final = 30.0
"""Seconds (client clock) after the newest ``updated`` last moved during which rounds keep the
overlap; later, a round asks only for what is newer than it (so an idle list costs one page)."""


@attrs.define
class ListState:
    """What one kind's rounds know: which filters the API honours, and where to read from."""

    path: str
    updated: bool | None = None
    """Whether ``updated__gte`` is honoured (None: not proven either way yet)."""
    status: bool | None = None
    """Whether ``status=`` is honoured (None: not proven either way yet)."""
    newest: datetime | None = None
    """The newest ``updated`` any answer of the list carried."""
    moved_at: float | None = None
    """When (client clock) :attr:`newest` last moved."""
    lowest: datetime | None = None
    """The oldest ``updated`` of a job that joined since the last round (read from there)."""
    last_duration: float = 0.0
    """How long the last complete round took (client clock)."""

    @property
    def mode(self) -> Mode:
        """``changes`` (by ``updated__gte``), ``unfinished`` (by ``status``) or ``off``."""
        if self.updated is not False:
            return "changes"
        if self.status is not False:
            return "unfinished"
        return "off"

    def join(self, updated: datetime | None) -> None:
        """A job whose last known ``updated`` is this joined the rounds."""
        if updated is not None and (self.lowest is None or updated < self.lowest):
            self.lowest = updated

    def since(self, now: float) -> datetime | None:
        """The ``updated__gte`` bound of the next round (None: no bound known yet)."""
        bound = self.newest
        if bound is not None and self.moved_at is not None and now - self.moved_at <= GRACE:
            bound -= OVERLAP + timedelta(seconds=self.last_duration)
        if self.lowest is not None and (bound is None or self.lowest < bound):
            bound = self.lowest
        return bound

    def query(self, now: float) -> dict[str, Any]:
        """The first page's parameters of the next round (its mode must not be ``off``)."""
        if self.mode == "changes":
            return {"updated__gte": self.since(now), "limit": PAGE_LIMIT}
        return {"status": RUNNING, "limit": PAGE_LIMIT}

    def saw(self, stamps: Iterable[datetime], now: float) -> None:
        """A complete round in ``changes`` mode answered items stamped ``stamps``."""
        top = max(stamps, default=None)
        if top is None and self.newest is None:
            return  # nothing listed yet: keep reading from the joined jobs' own stamps
        if top is not None and (self.newest is None or top > self.newest):
            self.newest = top
            self.moved_at = now
        self.lowest = None


def contradicts(item: Mapping[str, Any], query: Mapping[str, Any]) -> str | None:
    """The filter of ``query`` that ``item`` proves ignored, or None. Pure.

    An item without a readable ``updated`` (or ``status``) cannot show the filter was applied,
    so it counts as proof that it was not.
    """
    since = query.get("updated__gte")
    if isinstance(since, datetime):
        updated = instant(item.get("updated"))
        if updated is None or updated < since:
            return "updated__gte"
    statuses = query.get("status")
    if statuses is not None and item.get("status") not in statuses:
        return "status"
    return None


def lacks_outcome(job: Job) -> bool:
    """Whether a finished job's list entry misses what ``wait()`` returns (a completed job
    without its ``result``, a failed one without its ``error``): read it by id. Pure."""
    if job.succeeded:
        return job.result is None
    return job.finished and job.error is None
