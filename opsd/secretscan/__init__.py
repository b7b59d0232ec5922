"""Secret scanning: Notion tokens and common credentials in files, fast and without leaking them.

- `rules` — what each kind of secret looks like (data);
- `scanner` — the rules over one file's bytes (pure);
- `walk` — which files to read (symlinks, skips, globs);
- `engine` — one scan with the incremental cache;
- `baseline` — accepted findings;
- `audit` — scan + baseline + configured token + verification + the store, for the CLI and
  the `secrets.scan` check.

A secret never leaves memory: findings carry a fingerprint (sha256 of rule and secret) and a
redacted preview, and `run_audit` drops the secrets before it returns.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from opsd.secretscan.audit import AuditRequest, run_audit
    from opsd.secretscan.baseline import Baseline, load_baseline, write_baseline
    from opsd.secretscan.engine import ScanOptions
    from opsd.secretscan.findings import Finding, ScanReport
    from opsd.secretscan.rules import RULES
    from opsd.secretscan.scanner import scan_bytes
    from opsd.secretscan.walk import Selection

# Imported on first use: a scan worker process or `opsd scan PATH` needs the scanner, not the
# audit's asyncio and pydantic.
_EXPORTS = {
    "AuditRequest": "audit", "run_audit": "audit",
    "Baseline": "baseline", "load_baseline": "baseline", "write_baseline": "baseline",
    "ScanOptions": "engine", "Finding": "findings", "ScanReport": "findings",
    "RULES": "rules", "scan_bytes": "scanner", "Selection": "walk",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


__all__ = [
    "RULES",
    "AuditRequest",
    "Baseline",
    "Finding",
    "ScanOptions",
    "ScanReport",
    "Selection",
    "load_baseline",
    "run_audit",
    "scan_bytes",
    "write_baseline",
]
