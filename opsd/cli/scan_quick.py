"""`opsd scan PATH...` with nothing configured: the same scan and output, without loading the
configuration (pydantic), the store or asyncio, so a pre-commit hook or a CI step starts in a
fraction of the time.

The quick path is taken only when nothing could change the result: PATHs given, no config
file (none given, no $OPSD_CONFIG, no /etc/opsd/opsd.toml), no `OPSD_*` setting and no systemd
credentials in the environment (no configured token, no verification), no baseline, text or
JSON output. Anything else goes to `opsd.cli.scan`. A test holds both to the same output.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping
from pathlib import Path

from opsd.cli.scan_output import EXIT_NEW_FINDINGS, print_report
from opsd.config.paths import resolve_config_path

_QUIET_VARIABLES = frozenset({"OPSD_SCAN_ENGINE"})  # read by the scanner itself


def cmd_scan(args: argparse.Namespace) -> int:
    """Scan PATHs; exit 2 when there are findings (all are new without a baseline)."""
    if not is_quick(args, os.environ):
        from opsd.cli.scan import cmd_scan as full_scan

        return full_scan(args)
    from opsd.cli import output
    from opsd.secretscan.engine import ScanOptions, scan_paths
    from opsd.secretscan.walk import Selection

    roots = [Path(p) for p in args.paths]
    options = ScanOptions(selection=Selection(all=args.all))
    report = scan_paths(roots, options).report
    for finding in report.findings:
        finding.new, finding.severity, finding.secret = True, "WARNING", None
    if args.json or args.format == "json":
        output.print_json(report.to_dict())
    else:
        print_report(report)
    return EXIT_NEW_FINDINGS if report.findings else 0


def is_quick(args: argparse.Namespace, env: Mapping[str, str]) -> bool:
    """Can the scan run without the configuration, giving the same result?"""
    if not args.paths or args.baseline or args.update_baseline:
        return False
    if getattr(args, "format", None) not in (None, "text", "json"):
        return False
    if args.json and getattr(args, "format", None) not in (None, "json"):
        return False  # the full command explains the conflict
    if not all(os.path.lexists(path) for path in args.paths):
        return False  # the full command names the missing path
    if any(name.upper().startswith("OPSD_") and name.upper() not in _QUIET_VARIABLES
           for name in env):
        return False
    if env.get("CREDENTIALS_DIRECTORY"):
        return False
    return resolve_config_path(getattr(args, "config", None), env) is None
