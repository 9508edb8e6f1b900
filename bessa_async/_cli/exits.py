"""What each exit code of ``bessa`` means: one table, read by every command and by ``--help``."""

from __future__ import annotations

import signal
from typing import Final

__all__ = ["DOCTOR_EXIT_CODES", "EXIT_CODES"]

EXIT_CODES: Final = {
    "ok": 0,
    "mismatch": 1,
    "usage": 2,
    "auth": 3,
    "validation": 4,
    "job_failed": 5,
    "timeout": 6,
    "outcome_unknown": 7,
    "error": 8,
    "interrupted": 130,
    "terminated": 128 + signal.SIGTERM,
}
"""What each exit code of ``bessa`` means."""
DOCTOR_EXIT_CODES: Final = {"ok": 0, "differences": 1, "error": 2}
"""``bessa doctor``: everything matches, differences were found, or it could not check."""
