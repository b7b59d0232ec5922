"""`opsd scan [PATH...] [--all] [--json] [--baseline FILE] [--update-baseline FILE]`.

Works without a config file. With one (given, $OPSD_CONFIG or /etc/opsd/opsd.toml), its
`[secrets]` section applies and the store keeps the incremental cache and the findings.
Found Notion tokens are verified only when verification is on and a Notion API is configured
(a config file, or OPSD_NOTION__BASE_URL): a bare `opsd scan` sends nothing anywhere.
Version control, dependency, virtualenv, site-packages and cache directories are skipped (and
named in one line) unless `--all` is given. Exit 0 without new findings, 2 with, 3 when the
scan could not run.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from pathlib import Path

from opsd.cli import output
from opsd.config import Settings, config_file_of, load_settings
from opsd.errors import UsageError
from opsd.secretscan import AuditRequest, ScanReport, load_baseline, run_audit, write_baseline
from opsd.secretscan.audit import Probe, options_from_config
from opsd.secretscan.walk import VIRTUALENV, SkippedDirectory
from opsd.store import Store

EXIT_NEW_FINDINGS = 2


def cmd_scan(args: argparse.Namespace) -> int:
    """Scan PATHs (default: secrets.paths, else .), print findings, 2 if any is new."""
    settings = load_settings(args.config)
    roots = [Path(p) for p in args.paths] or settings.secrets.paths or [Path(".")]
    for root in roots:
        if not os.path.lexists(root):
            raise UsageError(f"scan: {root}: no such file or directory")
    baseline_file = args.baseline or settings.secrets.baseline
    request = AuditRequest(
        roots=roots,
        options=options_from_config(settings.secrets, include_all=args.all),
        baseline=load_baseline(Path(baseline_file)) if baseline_file else None,
        configured_token=settings.notion.token,
    )
    has_config = config_file_of(settings) is not None
    store = Store.open(settings.storage.path) if has_config else None
    try:
        report = asyncio.run(_audit(request, settings, store, verify=_should_verify(settings)))
    finally:
        if store is not None:
            store.close()
    written = None
    if args.update_baseline:
        written = write_baseline(Path(args.update_baseline), report.findings)
        for finding in report.findings:
            finding.new, finding.severity = False, "INFO"
    if args.json:
        output.print_json(report.to_dict())
    else:
        _print_report(report)
        if written is not None:
            print(f"baseline {args.update_baseline}: {written} findings accepted")
    return EXIT_NEW_FINDINGS if report.new_findings else 0


def _should_verify(settings: Settings) -> bool:
    """Verify only against a Notion API someone configured, never by default."""
    has_api = "base_url" in settings.notion.model_fields_set
    return settings.secrets.verify and (config_file_of(settings) is not None or has_api)


async def _audit(
    request: AuditRequest, settings: Settings, store: Store | None, *, verify: bool
) -> ScanReport:
    if not verify:
        return await run_audit(request, store=store, now=time.time)
    from opsd.notion.service import NotionService

    service = NotionService(settings.notion, store=store)
    probe: Probe = service.probe_token
    try:
        return await run_audit(request, store=store, probe=probe, now=time.time)
    finally:
        await service.aclose()


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


def _print_report(report: ScanReport) -> None:
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
