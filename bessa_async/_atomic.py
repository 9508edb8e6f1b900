"""A file that appears whole or not at all, so a failed write never replaces a good file.

The text goes to ``PATH.part`` beside the target; only :meth:`AtomicFile.commit` (flush, fsync,
rename over ``PATH``, fsync the directory) makes it ``PATH``. Until then an error, Ctrl-C or a
kill leaves the old ``PATH`` as it was, and ``PATH.part`` holds what was written so far. Every
method blocks: call them from a thread, or outside the event loop.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from types import TracebackType
from typing import Final, Literal, TextIO, final

__all__ = ["PART_SUFFIX", "AtomicFile"]

PART_SUFFIX: Final = ".part"


@final
class AtomicFile:
    """Text for ``path``, written to ``path + ".part"`` until committed.

    A target that exists but is not a regular file (``/dev/null``, a FIFO) cannot be replaced
    by a rename; it is written directly, and :attr:`part` is None.

    Example::

        with AtomicFile("june.csv") as out:   # commits when the block ends without an error
            out.write(text)
    """

    def __init__(self, path: str | os.PathLike[str], *, append: bool = False) -> None:
        self.path: Final = os.fspath(path)
        self.append: Final = append
        """Go on with the ``.part`` an earlier, stopped write left, instead of emptying it."""
        special = os.path.exists(self.path) and not os.path.isfile(self.path)
        self.part: Final = None if special else self.path + PART_SUFFIX
        """Where the text is written until the commit (None: written to ``path`` directly)."""
        self._file: TextIO | None = None
        self.committed = False
        """Whether the text has become ``path`` (the rename is done)."""

    @property
    def opened(self) -> bool:
        """Whether :meth:`open` succeeded (so :attr:`part` holds what was written)."""
        return self._file is not None

    def open(self) -> TextIO:
        """Create (or empty, or with ``append`` go on with) the ``.part`` file and return it for
        writing, as UTF-8."""
        mode: Literal["a", "w"] = "a" if self.append else "w"
        self._file = open(self.part or self.path, mode, newline="", encoding="utf-8")  # noqa: SIM115
        return self._file

    def commit(self) -> None:
        """Make the written text ``path``: durably on disk first, then renamed over the old."""
        if self._file is None:
            raise RuntimeError("commit() before open()")
        try:
            self._file.flush()
            if self.part is not None:
                os.fsync(self._file.fileno())
        finally:
            self._file.close()
        if self.part is not None:
            with contextlib.suppress(OSError):  # the replacement keeps the old file's mode
                shutil.copymode(self.path, self.part)
            os.replace(self.part, self.path)
        self.committed = True
        if self.part is not None:
            _fsync_directory(os.path.dirname(os.path.abspath(self.path)))

    def close(self) -> None:
        """Close without committing: ``path`` stays as it was, :attr:`part` keeps the text."""
        if self._file is not None:
            self._file.close()

    def __enter__(self) -> TextIO:
        return self.open()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.close()


def _fsync_directory(path: str) -> None:
    """Make the rename itself durable; not every platform can open a directory (Windows)."""
    try:
        descriptor = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(descriptor)
    finally:
        os.close(descriptor)
