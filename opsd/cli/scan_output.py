"""How `opsd scan` prints a report as text; shared by the full command (`opsd.cli.scan`) and
the quick one without a config file (`opsd.cli.scan_quick`), and light to import."""

from __future__ import annotations

from opsd.cli import output
from opsd.secretscan.findings import ScanReport
from opsd.secretscan.walk import VIRTUALENV, SkippedDirectory

EXIT_NEW_FINDINGS = 2  # `opsd scan`'s exit status when there are new findings
SKIPPED_SHOWN = 10  # directories named in the line; the count is always exact


def skipped_line(skipped: list[SkippedDirectory]) -> str:
    """`skipped 3 directories: .git, .venv (virtualenv), node_modules; --all to include them`.

    A virtualenv is recognised by its content, not its name, so the reason is shown for it.
    """
    names = [
        s.path + (f" ({s.reason})" if s.reason == VIRTUALENV else "")
        for s in skipped[:SKIPPED_SHOWN]
    ]
    more = len(skipped) - len(names)
    listed = ", ".join(names) + (f" and {more} more" if more else "")
    noun = "directory" if len(skipped) == 1 else "directories"
    return f"skipped {len(skipped)} {noun}: {listed}; --all to include them"


def print_report(report: ScanReport) -> None:
    """The findings table, then permission problems, unreadable paths, skips and totals."""
    findings = report.findings
    if findings:
        rows = [
            (
                f.severity if f.new else "accepted",
                f.rule,
                f"{f.path}:{f.line}:{f.column}",
                f.preview,
                f.note,
            )
            for f in findings
        ]
        output.table(rows, ("SEVERITY", "RULE", "LOCATION", "PREVIEW", "NOTE"))
        print()
    for problem in report.permissions:
        print(f"permissions: {problem.path}: {problem.message}")
    for problem in report.errors:
        print(f"unreadable: {problem.path}: {problem.message}")
    if report.skipped:
        print(skipped_line(report.skipped))
    new = len(report.new_findings)
    print(
        f"{report.files_scanned} files scanned ({report.files_read} read, "
        f"{report.bytes_scanned / 1e6:.1f} MB in {report.seconds:.2f} s): "
        f"{len(findings)} findings, {new} new"
    )
