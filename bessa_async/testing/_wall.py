"""The sandbox's wall clock: the server's time, for ``updated`` stamps and the ``Date`` header.

It moves with the sandbox's monotonic ``clock`` (a :class:`FakeClock` in tests), from a start
time that can be given, and it can run ahead of (or behind) the client's clock by an offset, as
a real server's clock does. Stamps are written at a chosen precision: whole seconds or
microseconds, the two the API might have.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Final, Literal, final

from ._cursor import Item
from ._query import format_timestamp

__all__ = ["PRECISIONS", "Precision", "WallClock", "prepare_item"]

Precision = Literal["seconds", "microseconds"]
PRECISIONS: Final = ("seconds", "microseconds")
_STAMPED: Final = ("created", "updated", "deleted")


@final
class WallClock:
    """The server's wall-clock time: ``start`` plus the seconds ``clock`` moved, plus
    ``offset``."""

    def __init__(
        self,
        clock: Callable[[], float],
        *,
        start: datetime | None,
        offset: timedelta,
        precision: Precision,
    ) -> None:
        if start is not None and start.utcoffset() is None:
            raise ValueError("start must be an aware datetime (e.g. tzinfo=UTC)")
        if precision not in PRECISIONS:
            raise ValueError('updated_precision must be "seconds" or "microseconds"')
        self._clock = clock
        self._origin = (start or datetime.now(UTC)).astimezone(UTC), clock()
        self.offset = offset
        self.precision: Precision = precision

    def now(self) -> datetime:
        """The server's time now (full precision)."""
        origin, at = self._origin
        return origin + timedelta(seconds=self._clock() - at) + self.offset

    def client_now(self) -> datetime:
        """The time on the client's side: the server's less its offset."""
        origin, at = self._origin
        return origin + timedelta(seconds=self._clock() - at)

    def truncate(self, moment: datetime) -> datetime:
        """``moment`` at this clock's stamp precision."""
        return moment.replace(microsecond=0) if self.precision == "seconds" else moment

    def stamp(self, moment: datetime | None = None) -> str:
        """A timestamp as the API renders it, at this clock's precision (default: now)."""
        return format_timestamp(self.truncate(self.now() if moment is None else moment))

    def http_date(self) -> str:
        """The ``Date`` header of an answer made now (HTTP dates have whole seconds)."""
        return format_datetime(self.now().replace(microsecond=0), usegmt=True)


def prepare_item(*, precision: Precision, soft_deletes: bool) -> Callable[[Item], Item] | None:
    """How a generated item is served under these options (a copy), or None: as generated."""
    if precision == "microseconds" and not soft_deletes:
        return None

    def prepare(item: Item) -> Item:
        served = dict(item)
        if precision == "seconds":
            for field in _STAMPED:
                if isinstance(served.get(field), str):
                    moment = datetime.fromisoformat(served[field]).replace(microsecond=0)
                    served[field] = format_timestamp(moment)
        if soft_deletes:
            served.setdefault("deleted", None)
        return served

    return prepare
