"""What ``client.doctor()`` and ``bessa doctor`` report: the findings and their table.

``await client.doctor()`` returns a :class:`DoctorReport`; its findings are these classes, for
code that reads a report rather than printing it (``print(doctor_table(report))``).
"""

from __future__ import annotations

from ._doctor import (
    Difference,
    DoctorReport,
    FilterFinding,
    JobsFinding,
    ResourceFinding,
    SchemaFinding,
    doctor_table,
)

__all__ = [
    "Difference",
    "DoctorReport",
    "FilterFinding",
    "JobsFinding",
    "ResourceFinding",
    "SchemaFinding",
    "doctor_table",
]
