"""``bessa``'s progress display: a rich bar on a terminal, occasional plain lines elsewhere."""

from __future__ import annotations

import contextlib
import time
from typing import Any, TextIO, final

__all__ = ["Progress"]


@final
class Progress:
    """A rich progress bar on a terminal, occasional plain lines elsewhere."""

    def __init__(self, label: str, total: int | None, stream: TextIO) -> None:
        self._label = label
        self._total = total
        self._stream = stream
        self._done = 0
        self._last_line = 0.0
        self._bar: Any = None
        self._task: Any = None
        if stream.isatty():
            with contextlib.suppress(ImportError):
                from rich.progress import Progress as RichProgress

                self._bar = RichProgress(transient=True)
                self._task = self._bar.add_task(label, total=total)

    def __enter__(self) -> Progress:
        if self._bar is not None:
            self._bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()

    def advance(self, count: int) -> None:
        self._done += count
        if self._bar is not None:
            self._bar.update(self._task, completed=self._done)
            return
        now = time.monotonic()
        if now - self._last_line >= 2.0:
            self._last_line = now
            of = f" of {self._total}" if self._total is not None else ""
            print(f"{self._label}: {self._done}{of}", file=self._stream, flush=True)
