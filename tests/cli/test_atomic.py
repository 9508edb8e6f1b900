"""AtomicFile: the target is the old file or the complete new text, never part of it (pure)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bessa_async._cli.files import AtomicFile

OLD = "yesterday's complete export\n"


class _Failed(Exception):
    """A failure part-way through writing."""


def test_a_commit_replaces_the_file_and_leaves_no_part(tmp_path: Path) -> None:
    """Committed: the target holds the new text exactly, and the .part is gone."""
    target = tmp_path / "out.csv"
    target.write_text(OLD, encoding="utf-8")
    with AtomicFile(target) as out:
        out.write("a,b\r\n1,2\r\n")
        assert target.read_text(encoding="utf-8") == OLD  # nothing visible before the commit
    assert target.read_bytes() == b"a,b\r\n1,2\r\n"  # newline="": written as given
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv"]


def test_a_failure_keeps_the_old_file_and_the_part(tmp_path: Path) -> None:
    """An error inside the block: the old file untouched, the .part holds what was written."""
    target = tmp_path / "out.csv"
    target.write_text(OLD, encoding="utf-8")
    atomic = AtomicFile(target)

    def write_half() -> None:
        with atomic as out:
            out.write("half")
            raise _Failed

    with pytest.raises(_Failed):
        write_half()
    assert target.read_text(encoding="utf-8") == OLD
    assert atomic.part == f"{target}.part"
    assert Path(atomic.part).read_text(encoding="utf-8") == "half"
    assert atomic.opened
    assert not atomic.committed


def test_a_new_file_appears_only_when_complete(tmp_path: Path) -> None:
    """No old file: nothing at the target until the commit."""
    target = tmp_path / "new.jsonl"
    atomic = AtomicFile(target)
    out = atomic.open()
    out.write("{}\n")
    assert not target.exists()
    atomic.commit()
    assert target.read_text(encoding="utf-8") == "{}\n"


def test_the_replacement_keeps_the_old_files_mode(tmp_path: Path) -> None:
    """A file the user made private stays private after the rename."""
    target = tmp_path / "out.csv"
    target.write_text(OLD, encoding="utf-8")
    target.chmod(0o600)
    with AtomicFile(target) as out:
        out.write("new\n")
    assert stat.S_IMODE(target.stat().st_mode) == 0o600


@pytest.mark.skipif(not os.path.exists(os.devnull), reason="needs a null device")
def test_a_device_is_written_directly() -> None:
    """A target that is not a regular file cannot be renamed over: it is written as it is."""
    atomic = AtomicFile(os.devnull)
    assert atomic.part is None
    with atomic as out:
        out.write("discarded\n")
    assert atomic.committed


def test_commit_before_open_is_refused(tmp_path: Path) -> None:
    """Committing nothing is a bug in the caller, said plainly."""
    with pytest.raises(RuntimeError, match="before open"):
        AtomicFile(tmp_path / "x").commit()


@given(chunks=st.lists(st.text(max_size=20), max_size=8), fail_at=st.integers(0, 8))
def test_the_target_is_never_partial(
    tmp_path_factory: pytest.TempPathFactory, chunks: list[str], fail_at: int
) -> None:
    """Whatever the point of failure: the old text, or all of the new, nothing in between."""
    target = tmp_path_factory.mktemp("atomic") / "out.txt"
    target.write_text(OLD, encoding="utf-8")
    try:
        with AtomicFile(target) as out:
            for n, chunk in enumerate(chunks):
                if n == fail_at:
                    raise _Failed
                out.write(chunk)
    except _Failed:
        assert target.read_text(encoding="utf-8") == OLD
        assert Path(f"{target}.part").read_bytes() == "".join(chunks[:fail_at]).encode()
    else:
        assert target.read_bytes() == "".join(chunks).encode()
