"""`opsd scan --format sarif`: a scan report as SARIF 2.1.0, for code-scanning uploads.

One run; `tool.driver` names opsd and describes each rule that produced a result. A result
carries the rule, a level (`error` for a live or misplaced Notion token and for the specific
built-in rules, whose shape says what the secret is; `warning` for generic rules such as
`generic-secret`, for rules from `secrets.rules_file` and for revoked tokens), a message with
the redacted preview only, the place (a URI relative to `%SRCROOT%`: the working directory
when the scanned paths are inside it, else the directory they share; 1-based line and
Unicode code point columns) and `partialFingerprints` holding the same fingerprint as the
baseline, so a finding keeps its identity across commits wherever its line moves. Findings
the baseline accepts are reported as suppressed; unreadable files and readable files holding
secrets are the invocation's notifications. The secret itself is never in the document.
"""

from __future__ import annotations

import importlib.metadata
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

import opsd
from opsd.secretscan.findings import Finding, ScanReport
from opsd.secretscan.rules import RULES_BY_ID

SCHEMA = (
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
)
VERSION = "2.1.0"
SRCROOT = "SRCROOT"
FINGERPRINT_KEY = "opsdFingerprint/v1"
_HELP = (
    "{description}. Rotate the secret at its issuer first (it may already be copied), then "
    "remove it from the file and its history. If it is not a secret, accept it with "
    "`opsd scan --update-baseline FILE` or mark its line with `opsd:allow`."
)


def to_sarif(
    report: ScanReport, base: Path, descriptions: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The SARIF log of `report`; finding paths are made relative to `base` (%SRCROOT%).

    `descriptions` names rules that are not built in (from `secrets.rules_file`).
    """
    extra = dict(descriptions or {})
    rule_ids = sorted({f.rule for f in report.findings})
    index = {rule_id: i for i, rule_id in enumerate(rule_ids)}
    described = {rule_id: _description(rule_id, extra) for rule_id in rule_ids}
    base_uri = Path(os.path.abspath(base)).as_uri().rstrip("/") + "/"
    run: dict[str, Any] = {
        "tool": {"driver": _driver([_rule(r, described[r]) for r in rule_ids])},
        "originalUriBaseIds": {SRCROOT: {"uri": base_uri}},
        "columnKind": "unicodeCodePoints",
        "invocations": [_invocation(report, base)],
        "results": [_result(f, index[f.rule], described[f.rule], base)
                    for f in report.findings],
    }
    return {"$schema": SCHEMA, "version": VERSION, "runs": [run]}


def sarif_base(roots: list[Path]) -> Path:
    """%SRCROOT%: the working directory when every root is inside it (a CI job scanning
    `src` from its checkout gets `src/app.py`, the path code scanning knows), else the
    directory the roots share (the root itself when one directory is scanned)."""
    cwd = os.getcwd()
    absolute = [os.path.abspath(root) for root in roots]
    if all(os.path.commonpath([cwd, path]) == cwd for path in absolute):
        return Path(".")
    directories = [p if os.path.isdir(p) else os.path.dirname(p) for p in absolute]
    return Path(os.path.commonpath(directories))


def _driver(rules: list[dict[str, Any]]) -> dict[str, Any]:
    driver: dict[str, Any] = {
        "name": "opsd", "version": opsd.__version__, "semanticVersion": opsd.__version__,
    }
    uri = _information_uri()
    if uri:
        driver["informationUri"] = uri
    driver["rules"] = rules
    return driver


def _information_uri() -> str | None:
    """The project's home page, as its package metadata names it."""
    try:
        metadata = importlib.metadata.metadata("opsd")
    except importlib.metadata.PackageNotFoundError:
        return None
    for entry in metadata.get_all("Project-URL") or []:
        _, _, url = entry.partition(",")
        if url.strip().startswith("https://"):
            return url.strip()
    home = metadata.get_all("Home-page") or []
    return next((url for url in home if url.startswith("https://")), None)


def _description(rule_id: str, extra: Mapping[str, str]) -> str:
    builtin = RULES_BY_ID.get(rule_id)
    return builtin.description if builtin is not None else extra.get(rule_id, rule_id)


def _rule(rule_id: str, description: str) -> dict[str, Any]:
    precise = _high_confidence(rule_id)
    return {
        "id": rule_id,
        "name": "".join(part.capitalize() for part in rule_id.split("-")),
        "shortDescription": {"text": description},
        "help": {"text": _HELP.format(description=description)},
        "defaultConfiguration": {"level": "error" if precise else "warning"},
        "properties": {
            "tags": ["security", "secret"],
            "precision": "high" if precise else "medium",
            "security-severity": "9.0" if precise else "7.0",
        },
    }


def _high_confidence(rule_id: str) -> bool:
    """A specific built-in rule: the secret's own shape says what it is."""
    builtin = RULES_BY_ID.get(rule_id)
    return builtin is not None and not builtin.generic


def _level(finding: Finding) -> str:
    if finding.verdict == "live" or finding.severity == "CRITICAL":
        return "error"
    if finding.verdict == "revoked":
        return "warning"
    return "error" if _high_confidence(finding.rule) else "warning"


def _result(finding: Finding, rule_index: int, description: str, base: Path) -> dict[str, Any]:
    message = f"{description}: {finding.preview}"
    if finding.note:
        message += f" ({finding.note})"
    region: dict[str, Any] = {"startLine": finding.line, "startColumn": finding.column}
    if finding.end_column > finding.column:
        region["endColumn"] = finding.end_column
    result: dict[str, Any] = {
        "ruleId": finding.rule,
        "ruleIndex": rule_index,
        "level": _level(finding),
        "message": {"text": message},
        "locations": [{"physicalLocation": {
            "artifactLocation": _artifact(finding.path, base),
            "region": region,
        }}],
        "partialFingerprints": {FINGERPRINT_KEY: finding.fingerprint},
        "baselineState": "new" if finding.new else "unchanged",
    }
    if not finding.new:
        result["suppressions"] = [{
            "kind": "external", "status": "accepted",
            "justification": finding.note or "accepted in the baseline",
        }]
    if finding.verdict is not None:
        result["properties"] = {"verdict": finding.verdict}
    return result


def _invocation(report: ScanReport, base: Path) -> dict[str, Any]:
    """Files that could not be read, and files holding secrets that others can read."""
    notes = [
        {"level": "warning", "message": {"text": f"{kind}: {problem.message}"},
         "locations": [{"physicalLocation": {"artifactLocation": _artifact(problem.path, base)}}]}
        for kind, problems in (("unreadable", report.errors),
                               ("permissions", report.permissions))
        for problem in problems
    ]
    return {"executionSuccessful": True, "toolExecutionNotifications": notes}


def _artifact(path: str, base: Path) -> dict[str, Any]:
    """A URI relative to %SRCROOT%; a file outside it gets an absolute file URI."""
    relative = os.path.relpath(os.path.abspath(path), os.path.abspath(base))
    if relative.startswith(os.pardir):
        return {"uri": Path(os.path.abspath(path)).as_uri()}
    return {"uri": quote(Path(relative).as_posix()), "uriBaseId": SRCROOT}
