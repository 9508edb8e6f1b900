"""A file that appears whole or not at all, so a failed write never replaces a good file.

The text goes to ``PATH.part`` beside the target; only :meth:`AtomicFile.commit` (flush, fsync,
rename over ``PATH``, fsync the directory) makes it ``PATH``. Until then an error, Ctrl-C or a
kill leaves the old ``PATH`` as it was, and ``PATH.part`` holds what was written so far. Every
method blocks: call them from a thread, or outside the event loop.

An existing ``PATH.part`` is never followed or written through (it may be a symlink planted to
make the write land elsewhere): the text goes to a file created under a fresh name with
``O_EXCL | O_NOFOLLOW``, which is then renamed to ``PATH.part`` (a rename replaces a symlink
itself, not what it points to); going on with a ``.part`` opens it with ``O_NOFOLLOW``.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
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
        """Create (or with ``append`` go on with) the ``.part`` file and return it for writing,
        as UTF-8.

        Raises:
            OSError: with ``append``, the ``.part`` is a symlink or not a regular file.
        """
        if self.part is None:
            mode: Literal["a", "w"] = "a" if self.append else "w"
            self._file = open(self.path, mode, newline="", encoding="utf-8")  # noqa: SIM115
            return self._file
        descriptor = _open_appending(self.part) if self.append else _create(self.part, self.path)
        self._file = open(descriptor, "a", newline="", encoding="utf-8")  # noqa: SIM115
        return self._file

    def commit(self) -> None:
        """Make the written text ``path``: durably on disk first, then renamed over the old."""
        if self._file is None:
            raise RuntimeError("commit() before open()")
        try:
            self._file.flush()
            if self.part is not None:
                os.fsync(self._file.fileno())
                written = os.fstat(self._file.fileno())
        finally:
            self._file.close()
        if self.part is not None:
            named = os.lstat(self.part)
            if (named.st_dev, named.st_ino) != (written.st_dev, written.st_ino):
                raise OSError(
                    errno.EINVAL,
                    f"{self.part!r} was replaced while it was written; {self.path!r} is unchanged",
                )
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


_FLAGS: Final = os.O_WRONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)


def _create(part: str, path: str) -> int:
    """A new, empty file named ``part``, open for writing, with ``path``'s mode if it exists.

    It is created under a fresh name beside ``part`` (``O_EXCL``: never an existing file or
    symlink) and renamed to ``part``, replacing whatever had that name.
    """
    folder, name = os.path.split(part)
    while True:
        fresh = os.path.join(folder, f".{name}.{secrets.token_hex(8)}")
        try:
            descriptor = os.open(fresh, _FLAGS | os.O_CREAT | os.O_EXCL, 0o666)
            break
        except FileExistsError:
            continue
    try:
        # The replacement keeps the old file's mode (no fchmod on Windows: the default there).
        with contextlib.suppress(OSError, AttributeError):
            os.fchmod(descriptor, stat.S_IMODE(os.stat(path).st_mode))
        os.replace(fresh, part)
    except BaseException:
        os.close(descriptor)
        with contextlib.suppress(OSError):
            os.unlink(fresh)
        raise
    return descriptor


def _open_appending(part: str) -> int:
    """The ``.part`` a stopped write left, open for appending; never through a symlink, and
    never waiting for a reader of a FIFO (``O_NONBLOCK``)."""
    refused = OSError(
        errno.EINVAL, f"{part!r} is a symlink or not a regular file; not written through"
    )
    try:
        descriptor = os.open(part, _FLAGS | os.O_APPEND | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENXIO, errno.EMLINK):
            raise refused from None
        raise
    if not stat.S_ISREG(os.fstat(descriptor).st_mode):
        os.close(descriptor)
        raise refused
    return descriptor


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
