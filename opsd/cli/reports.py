"""Handler of `opsd report daily|weekly|monthly`: print the report, and with `--send` /
`--notion` deliver it too, saying where it went (on stderr when the report itself goes to
stdout, so `opsd report weekly --format html > week.html` stays a clean file).

Exit codes: 0 when the report was produced (and every asked delivery succeeded), 1 when a
delivery failed, 3 (one line) for a delivery with nowhere to go, e.g. `--notion` without
`[reports] notion_database` (or naming no `[[notion.databases]]` entry).
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from opsd.cli.core import open_app, run_async


def cmd_report(args: argparse.Namespace) -> int:
    from opsd.reports.produce import check_deliveries, produce

    fmt = "json" if args.json else args.format
    app = open_app(args)
    check_deliveries(app.settings, send=args.send, notion=args.notion)
    produced = run_async(app, produce(
        app.settings, app.store, kind=args.period, now=time.time(), previous=args.previous,
        html=fmt == "html", send=args.send, publish=args.notion,
        notion=lambda: app.resources.notion))
    redact = app.settings.redact  # a secret in a stored summary is never printed
    if fmt == "json":
        data = produced.report.to_dict()
        data["delivered"] = produced.deliveries() if (args.send or args.notion) else None
        data["problems"] = produced.problems
        print(redact(json.dumps(data, indent=2, ensure_ascii=False)))
    else:
        sys.stdout.write(redact(produced.html if fmt == "html" else produced.markdown))
    if args.send or args.notion:
        print(f"opsd: {produced.report.period.title}: {produced.deliveries()}", file=sys.stderr)
    for problem in produced.problems:
        print(redact(f"opsd: {problem}"), file=sys.stderr)
    return 1 if produced.failures else 0
