"""The doctor's report as a table for a terminal (``bessa doctor`` without ``--json``)."""

from __future__ import annotations

from ._report import DoctorReport

__all__ = ["doctor_table"]


def doctor_table(report: DoctorReport) -> str:
    """The doctor's report as a readable table (``bessa doctor`` without ``--json``)."""
    lines = [f"bessa doctor: {report.base_url} (bessa_async {report.version})"]
    if not report.token_accepted:
        lines.append("token      not accepted, or no answer said (see the errors)")
    else:
        names = ", ".join(report.companies) or "(none visible)"
        lines.append(f"token      accepted; companies: {names}")
    if report.resources:
        header = ("resource", "path", "status", "count", "next", "items", "differences")
        rows = [
            (
                finding.name,
                finding.path,
                "-" if finding.status is None else str(finding.status),
                {True: "yes", False: "NO", None: "-"}[finding.count],
                finding.next_form or "-",
                str(finding.items),
                str(len(finding.differences)) if finding.differences else "-",
            )
            for finding in report.resources
        ]
        widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
        lines.append("")
        for row in [header, *rows]:
            lines.append(
                "  ".join(
                    cell.ljust(width) for cell, width in zip(row, widths, strict=True)
                ).rstrip()
            )
    if report.filters:
        lines += ["", "filters (sent with a +02:00 offset)"]
        for check in report.filters:
            verdict = {True: "ok", False: "MISMATCH", None: "not checked"}[check.ok]
            lines.append(f"  {check.resource} {check.filter}: {verdict} - {check.detail}")
    if report.token_accepted:
        schema = report.schema
        where = (
            f"{schema.found_at} ({len(schema.paths)} paths)"
            if schema.found_at
            else "none found (tried " + ", ".join(schema.tried) + ")"
        )
        lines += ["", f"schema     {where}"]
    if report.jobs is not None:
        jobs = report.jobs
        words = ", ".join(dict.fromkeys(jobs.statuses)) or "(no jobs listed)"
        lines.append(
            f"jobs       GET {jobs.path}?limit=1 -> {jobs.status or '-'}; statuses: {words}"
        )
        if jobs.filters:
            shown = {True: "honoured", False: "IGNORED", None: "not shown"}
            verdicts = ", ".join(f"{name} {shown[ok]}" for name, ok in jobs.filters)
            lines.append(f"           job-list filters: {verdicts}")
    if report.differences:
        to_fix = sum(not difference.handled for difference in report.differences)
        lines += ["", f"{len(report.differences)} differences ({to_fix} need a fix):"]
        width = max(len(difference.resource) for difference in report.differences)
        for difference in report.differences:
            tag = "handled" if difference.handled else "FIX    "
            lines.append(f"  {tag}  {difference.resource.ljust(width)}  {difference.detail}")
            if difference.fix:
                lines.append(f"  {' ' * 7}  {' ' * width}  -> {difference.fix}")
    for title, entries in (("notes", report.notes), ("errors", report.errors)):
        if entries:
            lines += ["", f"{title}:"] + [f"  {entry}" for entry in entries]
    lines.append("")
    if report.errors:
        lines.append("could not check everything (exit 2)")
    elif report.differences:
        lines.append(
            "the API differs from the library's model (exit 1); attach "
            "'bessa doctor --json' to a bug report"
        )
    else:
        unread = sum(finding.status != 200 for finding in report.resources)
        but = f"; {unread} resources could not be read with this token" if unread else ""
        lines.append(f"everything checked matches the library's model (exit 0){but}")
    return "\n".join(lines)
