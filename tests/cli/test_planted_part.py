"""A ``.part`` planted as a symlink is never written through: not by AtomicFile, not by
``bessa export``, not by ``bessa sync`` saving its state."""

from __future__ import annotations

import asyncio
import os
import stat
from pathlib import Path

import pytest

from bessa_async._cli.app import main
from bessa_async._cli.files import AtomicFile
from bessa_async.testing import Sandbox

VICTIM = "the victim's own text\n"


def _plant(tmp_path: Path, part: Path) -> Path:
    victim = tmp_path / "victim.txt"
    victim.write_text(VICTIM, encoding="utf-8")
    part.symlink_to(victim)
    return victim


class _Failed(Exception):
    """A failure part-way through writing."""


def test_a_planted_part_symlink_is_replaced_not_followed(tmp_path: Path) -> None:
    """Written and committed: the target is the new text, the symlink's target untouched."""
    target = tmp_path / "out.csv"
    victim = _plant(tmp_path, Path(f"{target}.part"))
    with AtomicFile(target) as out:
        out.write("new\n")
    assert target.read_text(encoding="utf-8") == "new\n"
    assert victim.read_text(encoding="utf-8") == VICTIM
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv", "victim.txt"]


def test_a_failed_write_leaves_its_part_as_a_file_of_its_own(tmp_path: Path) -> None:
    """Stopped part-way: what was written is in a regular OUT.part, the victim untouched."""
    target = tmp_path / "out.csv"
    part = Path(f"{target}.part")
    victim = _plant(tmp_path, part)

    def write_half() -> None:
        with AtomicFile(target) as out:
            out.write("half")
            raise _Failed

    with pytest.raises(_Failed):
        write_half()
    assert not part.is_symlink()
    assert part.read_text(encoding="utf-8") == "half"
    assert victim.read_text(encoding="utf-8") == VICTIM


def test_going_on_with_a_symlinked_part_is_refused(tmp_path: Path) -> None:
    """append=True on a planted symlink: an OSError naming it, nothing written anywhere."""
    target = tmp_path / "out.csv"
    victim = _plant(tmp_path, Path(f"{target}.part"))
    with pytest.raises(OSError, match="symlink or not a regular file"):
        AtomicFile(target, append=True).open()
    assert victim.read_text(encoding="utf-8") == VICTIM


def test_a_fifo_part_is_refused_without_waiting(tmp_path: Path) -> None:
    """append=True on a FIFO: refused at once, never blocked waiting for a reader."""
    target = tmp_path / "out.csv"
    os.mkfifo(f"{target}.part")
    with pytest.raises(OSError, match="not a regular file"):
        AtomicFile(target, append=True).open()


def test_the_new_file_gets_the_old_files_mode_from_the_start(tmp_path: Path) -> None:
    """A private file stays private, and its replacement is never readable by others while
    it is written."""
    target = tmp_path / "out.csv"
    target.write_text("old\n", encoding="utf-8")
    target.chmod(0o600)
    atomic = AtomicFile(target)
    atomic.open()
    assert atomic.part is not None
    assert stat.S_IMODE(os.stat(atomic.part).st_mode) == 0o600
    atomic.commit()
    assert stat.S_IMODE(target.stat().st_mode) == 0o600


async def test_bessa_export_does_not_write_through_a_planted_part(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    target = tmp_path / "out.csv"
    victim = await asyncio.to_thread(_plant, tmp_path, Path(f"{target}.part"))
    argv = ["--base-url", sandbox.url, "--token", sandbox.token, "export", "receipts"]
    argv += ["--day", "2026-06-10", "--output", str(target)]
    assert await asyncio.to_thread(main, argv) == 0
    assert await asyncio.to_thread(victim.read_text, encoding="utf-8") == VICTIM
    assert (await asyncio.to_thread(target.read_text, encoding="utf-8")).startswith("receipt_id,")


async def test_bessa_sync_does_not_write_its_state_through_a_planted_part(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    state = tmp_path / "state.json"
    victim = await asyncio.to_thread(_plant, tmp_path, Path(f"{state}.part"))
    argv = ["--base-url", sandbox.url, "--token", sandbox.token, "sync", "tax_rates"]
    argv += ["--state", str(state), "--output", str(tmp_path / "out.jsonl")]
    assert await asyncio.to_thread(main, argv) == 0
    assert await asyncio.to_thread(victim.read_text, encoding="utf-8") == VICTIM
    assert await asyncio.to_thread(state.read_text, encoding="utf-8")
