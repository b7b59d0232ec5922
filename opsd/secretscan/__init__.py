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

from opsd.secretscan.audit import AuditRequest, run_audit
from opsd.secretscan.baseline import Baseline, load_baseline, write_baseline
from opsd.secretscan.engine import ScanOptions
from opsd.secretscan.findings import Finding, ScanReport
from opsd.secretscan.rules import RULES
from opsd.secretscan.scanner import scan_bytes
from opsd.secretscan.walk import Selection

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
