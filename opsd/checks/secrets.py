"""Secret scanning as a check: leaked Notion tokens and credentials in logs, source and config."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import Field, StrictBool

from opsd.checks.base import CheckSpec, Params, check
from opsd.errors import CheckError, ConfigError
from opsd.results import Result, Status, skipped

if TYPE_CHECKING:
    from opsd.config import SecretsConfig
    from opsd.context import Context
    from opsd.secretscan import ScanReport

DETAIL_FINDINGS = 100  # findings listed in a result's details; the count is always exact
SUMMARY_FINDINGS = 3


class ScanParams(Params):
    paths: list[Path] = Field(
        default_factory=list, description="Files or directories; relative ones resolve "
        "against secrets.root. Default: secrets.paths.",
    )
    globs: list[str] | None = Field(
        None, description="Only files whose name or relative path matches (default: "
        "secrets.globs, else every text file).",
    )
    excludes: list[str] = Field(default_factory=list, description="More globs never read.")
    baseline: Path | None = Field(None, description="Default: secrets.baseline.")
    verify: StrictBool | None = Field(None, description="Default: secrets.verify.")
    all: StrictBool = Field(False, description="Also scan .git, node_modules, virtualenvs, "
                            "site-packages and caches (skipped by default, as by `opsd scan`).")


@check("secrets.scan", params=ScanParams, unit="count", warn=1,
       description="New secrets (Notion tokens, credentials) in files")
async def scan(spec: CheckSpec[ScanParams], ctx: Context) -> Result:
    """Scan the entry's paths; value = new findings. Live or misplaced Notion token: CRITICAL."""
    # The scanner's engine loads on first scan, not when a playbook naming it is validated.
    from opsd.secretscan import AuditRequest, load_baseline, run_audit
    from opsd.secretscan.audit import options_from_config

    params = spec.params
    config = ctx.settings.secrets
    paths = params.paths or config.paths
    if not paths:
        return skipped("no paths to scan: give the entry paths, or set secrets.paths")
    if config.root is None and any(not p.expanduser().is_absolute() for p in paths):
        return skipped("relative paths need secrets.root, the integration's directory")
    roots = [_resolve(path, config) for path in paths]
    present = [root for root in roots if root.exists()]
    missing = [str(root) for root in roots if not root.exists()]
    if not present:
        return skipped(f"nothing to scan: {', '.join(missing)} not found")
    baseline_path = params.baseline or config.baseline
    try:
        baseline = load_baseline(_resolve(baseline_path, config)) if baseline_path else None
        options = options_from_config(config, globs=params.globs, excludes=params.excludes,
                                      include_all=params.all)
    except ConfigError as exc:  # the baseline or secrets.rules_file
        raise CheckError(str(exc)) from None
    verify = config.verify if params.verify is None else params.verify
    request = AuditRequest(
        roots=present,
        options=options,
        baseline=baseline,
        configured_token=ctx.settings.notion.token,
    )
    report = await run_audit(
        request, store=ctx.store, probe=ctx.notion.probe_token if verify else None,
        now=ctx.now,
    )
    return judge(report, missing)


def _resolve(path: Path, config: SecretsConfig) -> Path:
    path = path.expanduser()
    return path if path.is_absolute() or config.root is None else config.root / path


def judge(report: ScanReport, missing: list[str]) -> Result:
    """The result of a scan: CRITICAL for a live or misplaced Notion token, WARNING for a
    revoked one or a readable config file holding a secret; otherwise thresholds decide."""
    new = sorted(report.new_findings, key=lambda f: (f.severity != "CRITICAL", f.path, f.line))
    if any(f.severity == "CRITICAL" for f in new):
        status = Status.CRITICAL
    elif any(f.verdict == "revoked" for f in new) or report.permissions:
        status = Status.WARNING
    else:
        status = Status.OK
    return Result(
        status,
        _summary(report, new, missing),
        value=float(len(new)),
        details={
            "findings": [f.to_dict() for f in new[:DETAIL_FINDINGS]],
            "accepted": len(report.findings) - len(new),
            "permissions": [p.to_dict() for p in report.permissions],
            "errors": [e.to_dict() for e in report.errors],
            "missing": missing,
            # Left out by default (`all = true` scans them); listed like findings, capped.
            "skipped": [d.to_dict() for d in report.skipped[:DETAIL_FINDINGS]],
            "files_scanned": report.files_scanned,
            "files_read": report.files_read,
            "bytes_scanned": report.bytes_scanned,
            "seconds": round(report.seconds, 3),
        },
    )


def _summary(report: ScanReport, new: list, missing: list[str]) -> str:
    if new:
        shown = "; ".join(
            f"{f.rule} {f.path}:{f.line} {f.preview}" + (f" ({f.note})" if f.note else "")
            for f in new[:SUMMARY_FINDINGS]
        )
        more = f" and {len(new) - SUMMARY_FINDINGS} more" if len(new) > SUMMARY_FINDINGS else ""
        text = f"{len(new)} new secret{'s' if len(new) != 1 else ''}: {shown}{more}"
    else:
        text = f"no new secrets in {report.files_scanned} files"
    if report.permissions:
        text += f"; {len(report.permissions)} readable config files holding secrets"
    if report.errors:
        text += f"; {len(report.errors)} unreadable"
    if missing:
        text += f"; not found: {', '.join(missing)}"
    return text
