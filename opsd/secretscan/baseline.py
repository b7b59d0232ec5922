"""The baseline: findings someone has accepted, so only new ones alert.

A JSON file (meant to be committed next to the code it describes)::

    {"version": 1, "findings": [{"fingerprint": "…", "rule": "notion-token",
                                 "path": "config/.env", "preview": "ntn_…abcd"}]}

An entry accepts a finding with the same fingerprint in the same file, wherever the line
moves. Paths are relative to the baseline file's directory, so the file stays valid when the
tree is scanned from elsewhere. No secret is ever written: only fingerprints and previews.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from opsd.errors import ConfigError
from opsd.secretscan.findings import Finding

BASELINE_VERSION = 1


@dataclass(frozen=True)
class Baseline:
    """Accepted (fingerprint, path) pairs; paths relative to `directory`."""

    directory: Path
    accepted: frozenset[tuple[str, str]] = frozenset()

    def accepts(self, finding: Finding) -> bool:
        """Is this secret accepted in this file?"""
        return (finding.fingerprint, _relative(finding.path, self.directory)) in self.accepted


def load_baseline(path: Path) -> Baseline:
    """Read a baseline file; a missing or malformed file is a ConfigError naming it."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"baseline {path}: no such file (create it with "
                          f"`opsd scan --update-baseline {path}`)") from None
    except OSError as exc:
        raise ConfigError(f"baseline {path}: cannot read: {exc.strerror}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"baseline {path}: not valid JSON: {exc}") from None
    entries = data.get("findings") if isinstance(data, dict) else None
    if not isinstance(entries, list) or not all(
        isinstance(e, dict) and isinstance(e.get("fingerprint"), str)
        and isinstance(e.get("path"), str) for e in entries
    ):
        raise ConfigError(f"baseline {path}: findings: must be a list of "
                          "{fingerprint, path} objects")
    directory = Path(os.path.abspath(path)).parent
    return Baseline(directory, frozenset((e["fingerprint"], e["path"]) for e in entries))


def write_baseline(path: Path, findings: Iterable[Finding]) -> int:
    """Record `findings` as accepted (replacing the file); returns how many entries."""
    directory = Path(os.path.abspath(path)).parent
    entries = sorted(
        {
            (_relative(f.path, directory), f.fingerprint): {
                "fingerprint": f.fingerprint, "rule": f.rule,
                "path": _relative(f.path, directory), "preview": f.preview,
            }
            for f in findings
        }.items()
    )
    document = {"version": BASELINE_VERSION, "findings": [entry for _, entry in entries]}
    try:
        path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n",
                        encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"baseline {path}: cannot write: {exc.strerror}") from None
    return len(entries)


def _relative(path: str, directory: Path) -> str:
    return Path(os.path.relpath(os.path.abspath(path), directory)).as_posix()
