"""What a scan reports: findings (never the secret itself) and the scan's totals."""

from __future__ import annotations

import dataclasses
import hashlib
from typing import Any, Literal

from opsd.redact import redact_secret
from opsd.secretscan.rules import RULES_BY_ID
from opsd.secretscan.walk import SkippedDirectory

Verdict = Literal["live", "revoked", "unknown"]
Severity = Literal["CRITICAL", "WARNING", "INFO"]


class HeldSecret:
    """A found secret held in memory: the value only on request, masked in `repr` and `str`
    (pydantic's `SecretStr` contract, without importing pydantic into every scan)."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get_secret_value(self) -> str:
        """The secret itself (for verification; never printed)."""
        return self._value

    def __repr__(self) -> str:
        return "HeldSecret('**********')"

    def __str__(self) -> str:
        return "**********"


def preview(rule: str, secret: str) -> str:
    """The redacted form shown for a secret: its public prefix only when the rule has one
    (`ntn_…abcd`); a password or key body shows just its tail (`…cd`)."""
    shown = redact_secret(secret)
    known = RULES_BY_ID.get(rule)
    if known is not None and known.public_prefix:
        return shown
    return shown[shown.index("…"):]


def fingerprint(rule: str, secret: str) -> str:
    """sha256 of (rule, secret): stable when lines move, the same on every machine."""
    return hashlib.sha256(f"{rule}\0{secret}".encode()).hexdigest()


@dataclasses.dataclass
class Finding:
    """One secret at one place. `secret` lives in memory only (for verification)."""

    rule: str
    path: str
    line: int
    column: int
    fingerprint: str
    preview: str
    secret: HeldSecret | None = dataclasses.field(default=None, repr=False, compare=False)
    new: bool = True
    severity: Severity = "INFO"
    verdict: Verdict | None = None
    note: str = ""
    end_column: int = 0  # just past the secret on its line; 0 when it spans lines

    @classmethod
    def of(
        cls, rule: str, secret: str, path: str, line: int, column: int, note: str = ""
    ) -> Finding:
        """A finding for `secret`, with its fingerprint and redacted preview. `note`: where
        it was found when not in plain text ("in a base64 value": its place is the value's,
        so no end column)."""
        return cls(
            rule=rule, path=path, line=line, column=column,
            fingerprint=fingerprint(rule, secret), preview=preview(rule, secret),
            secret=HeldSecret(secret), note=note,
            end_column=0 if note else _end_column(rule, secret, column),
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of `opsd scan --json` (no secret, ever)."""
        data: dict[str, Any] = {
            "rule": self.rule,
            "path": self.path,
            "line": self.line,
            "column": self.column,
            "fingerprint": self.fingerprint,
            "preview": self.preview,
            "new": self.new,
            "severity": self.severity,
        }
        if self.verdict is not None:
            data["verdict"] = self.verdict
        if self.note:
            data["note"] = self.note
        return data

    def cached(self) -> dict[str, Any]:
        """What the incremental cache keeps of a finding: position and identity only."""
        return {
            "rule": self.rule, "line": self.line, "column": self.column,
            "fingerprint": self.fingerprint, "preview": self.preview,
            "end_column": self.end_column, **({"note": self.note} if self.note else {}),
        }

    @classmethod
    def from_cache(cls, data: dict[str, Any], path: str) -> Finding:
        """A finding from the incremental cache (position and identity, no secret)."""
        return cls(path=path, **data)


def _end_column(rule: str, secret: str, column: int) -> int:
    known = RULES_BY_ID.get(rule)
    if (known is not None and known.multiline) or "\n" in secret:
        return 0
    return column + len(secret)


@dataclasses.dataclass
class Problem:
    """A file that could not be scanned, or a file holding secrets with loose permissions."""

    path: str
    message: str

    def to_dict(self) -> dict[str, str]:
        """The JSON shape: path and message."""
        return {"path": self.path, "message": self.message}


@dataclasses.dataclass
class ScanReport:
    """Everything one scan saw."""

    findings: list[Finding] = dataclasses.field(default_factory=list)
    errors: list[Problem] = dataclasses.field(default_factory=list)
    permissions: list[Problem] = dataclasses.field(default_factory=list)
    skipped: list[SkippedDirectory] = dataclasses.field(default_factory=list)
    files_scanned: int = 0
    files_read: int = 0
    bytes_scanned: int = 0
    seconds: float = 0.0

    @property
    def new_findings(self) -> list[Finding]:
        """Findings neither in the baseline nor expected where they are."""
        return [f for f in self.findings if f.new]

    def to_dict(self) -> dict[str, Any]:
        """The JSON object `opsd scan --json` prints."""
        return {
            "findings": [f.to_dict() for f in self.findings],
            "files_scanned": self.files_scanned,
            "files_read": self.files_read,
            "bytes_scanned": self.bytes_scanned,
            "seconds": round(self.seconds, 3),
            "errors": [e.to_dict() for e in self.errors],
            "permissions": [p.to_dict() for p in self.permissions],
            "skipped": [s.to_dict() for s in self.skipped],
        }
