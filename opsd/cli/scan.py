"""`opsd scan [PATH...] [--all] [--format text|json|sarif] [--json] [--baseline FILE]
[--update-baseline FILE]`.

Works without a config file. With one (given, $OPSD_CONFIG or /etc/opsd/opsd.toml), its
`[secrets]` section applies and the store keeps the incremental cache and the findings.
Found Notion tokens are verified only when verification is on and a Notion API is configured
(a config file, or OPSD_NOTION__BASE_URL): a bare `opsd scan` sends nothing anywhere.
Version control, dependency, virtualenv, site-packages and cache directories are skipped (and
named in one line) unless `--all` is given. Exit 0 without new findings, 2 with, 3 when the
scan could not run. `--format sarif` prints SARIF 2.1.0 for code scanning; `--json` is
`--format json`. Several PATHs (as pre-commit passes the staged files) are one scan.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from pathlib import Path

from opsd.cli import output
from opsd.cli.scan_output import EXIT_NEW_FINDINGS, print_report
from opsd.config import Settings, config_file_of, load_settings
from opsd.errors import UsageError
from opsd.secretscan import AuditRequest, ScanReport, load_baseline, run_audit, write_baseline
from opsd.secretscan.audit import Probe, options_from_config
from opsd.secretscan.sarif import sarif_base, to_sarif
from opsd.store import Store

__all__ = ["EXIT_NEW_FINDINGS", "cmd_scan"]


def cmd_scan(args: argparse.Namespace) -> int:
    """Scan PATHs (default: secrets.paths, else .), print findings, 2 if any is new."""
    fmt = _output_format(args)
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
    if fmt == "sarif":
        custom = request.options.custom
        output.print_json(to_sarif(report, sarif_base(roots),
                                   custom.descriptions if custom is not None else None))
    elif fmt == "json":
        output.print_json(report.to_dict())
    else:
        print_report(report)
        if written is not None:
            print(f"baseline {args.update_baseline}: {written} findings accepted")
    return EXIT_NEW_FINDINGS if report.new_findings else 0


def _output_format(args: argparse.Namespace) -> str:
    """`--format`, with `--json` as its old spelling of `--format json`."""
    if args.json and args.format not in (None, "json"):
        raise UsageError(f"scan: --json and --format {args.format} disagree: give one")
    return "json" if args.json else (args.format or "text")


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
