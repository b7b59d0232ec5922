"""A whole audit, shared by `opsd scan` and the `secrets.scan` check.

scan (in a worker thread, reusing the cache) -> which findings are new (baseline, the
configured token in its own config file) -> verification of new Notion tokens -> the cache
and findings saved -> secrets dropped from memory before anything is reported.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import SecretStr

from opsd.secretscan.baseline import Baseline
from opsd.secretscan.cache import load_cache, save_scan
from opsd.secretscan.engine import ScanOptions, is_config_file, scan_paths
from opsd.secretscan.findings import Finding, ScanReport, Severity, Verdict, fingerprint
from opsd.secretscan.gitleaks import load_rules_file
from opsd.secretscan.rules import RULES, RULES_BY_ID
from opsd.secretscan.walk import Selection

if TYPE_CHECKING:
    from opsd.config import SecretsConfig
    from opsd.store import StoreAccess

Probe = Callable[[str], Awaitable[Verdict]]

CONFIGURED_TOKEN = "the configured Notion token, outside a config file"
CONFIGURED_TOKEN_HOME = "the configured Notion token in a config file"
LIVE = "live token leaked"
REVOKED = "revoked token in file"
UNVERIFIED = "not verified: Notion itself did not answer (gateway, outage or network)"


def options_from_config(
    config: SecretsConfig, *, globs: list[str] | None = None, excludes: list[str] | None = None,
    include_all: bool = False,
) -> ScanOptions:
    """Scan options from `[secrets]`, with an entry's own globs and excludes on top;
    `include_all` also enters the directories skipped by default (`.git`, virtualenvs...)."""
    return ScanOptions(
        selection=Selection(
            globs=tuple(config.globs if globs is None else globs),
            excludes=(*config.excludes, *(excludes or ()), *config.allowlist),
            max_file_size=config.max_file_size,
            all=include_all,
        ),
        max_line_length=config.max_line_length,
        audit_permissions=config.audit_permissions,
        custom=load_rules_file(config.rules_file) if config.rules_file else None,
    )


@dataclass(frozen=True)
class AuditRequest:
    """What to scan and what counts as accepted."""

    roots: list[Path]
    options: ScanOptions = field(default_factory=ScanOptions)
    baseline: Baseline | None = None
    configured_token: SecretStr | None = None


async def run_audit(
    request: AuditRequest,
    *,
    store: StoreAccess | None = None,
    probe: Probe | None = None,
    now: Callable[[], float],
) -> ScanReport:
    """Scan, classify and (with a store) remember; the report holds no secret."""
    cache = await load_cache(store, request.roots) if store is not None else {}
    cancel = threading.Event()
    try:
        result = await asyncio.to_thread(
            scan_paths, request.roots, request.options, cache,
            reread_verifiable=probe is not None, cancel=cancel,
        )
    except asyncio.CancelledError:
        cancel.set()  # the worker thread stops at the next file
        raise
    report = result.report
    try:
        classify(report.findings, request.baseline, request.configured_token)
        if probe is not None:
            await verify(report.findings, probe)
        if store is not None:
            await save_scan(store, result, cache, now=now())
    finally:
        for finding in report.findings:
            finding.secret = None
    return report


def classify(
    findings: list[Finding], baseline: Baseline | None, configured_token: SecretStr | None
) -> None:
    """Set `new`, `severity` and `note`: what is accepted, what is the configured token."""
    configured = configured_fingerprints(configured_token)
    for finding in findings:
        finding.new = baseline is None or not baseline.accepts(finding)
        if finding.fingerprint in configured:
            if is_config_file(finding.path):
                finding.new, finding.note = False, CONFIGURED_TOKEN_HOME
            else:
                finding.note = CONFIGURED_TOKEN
        finding.severity = _severity(finding)


def configured_fingerprints(token: SecretStr | None) -> set[str]:
    """The fingerprints the configured token has under each Notion rule."""
    if token is None or not token.get_secret_value():
        return set()
    value = token.get_secret_value()
    return {fingerprint(rule.id, value) for rule in RULES if rule.verify == "notion"}


async def verify(findings: list[Finding], probe: Probe) -> None:
    """Try each distinct new, verifiable token once; live is CRITICAL, revoked WARNING."""
    verdicts: dict[str, Verdict] = {}
    for finding in findings:
        secret = _verifiable_secret(finding)
        if secret is None:
            continue
        if finding.fingerprint not in verdicts:
            verdicts[finding.fingerprint] = await probe(secret)
        finding.verdict = verdicts[finding.fingerprint]
        finding.note = {"live": LIVE, "revoked": REVOKED, "unknown": UNVERIFIED}.get(
            finding.verdict, finding.note)
        finding.severity = _severity(finding)


def _verifiable_secret(finding: Finding) -> str | None:
    """The token to try, for a new finding of a verifiable rule (not the configured token)."""
    rule = RULES_BY_ID.get(finding.rule)
    if rule is None or rule.verify is None or finding.secret is None:
        return None
    if not finding.new or finding.note == CONFIGURED_TOKEN:
        return None
    return finding.secret.get_secret_value()


def _severity(finding: Finding) -> Severity:
    if not finding.new:
        return "INFO"
    if finding.note in (CONFIGURED_TOKEN, LIVE):
        return "CRITICAL"
    return "WARNING"
