"""Read extra rules written in gitleaks' TOML format (`[secrets] rules_file`).

For teams moving from gitleaks: `[[rules]]` with `id`, `description`, `regex`,
`secretGroup`, `entropy`, `keywords`, `path`, `tags` (ignored) and allowlists
(`[[rules.allowlists]]` or the older `[rules.allowlist]`: `paths`, `regexes`,
`regexTarget`, `stopwords`, `condition`); the file's own `[allowlist]` or `[[allowlists]]`
(with `targetRules`) apply to every rule, built-in ones included. Keys are case-insensitive,
as gitleaks reads them. Patterns are RE2: `opsd.secretscan.re2` rewrites them for Python.

What opsd cannot do the gitleaks way is refused in one line naming the file, the rule and
the key (exit 3), never skipped quietly: `[extend]` (opsd's own rules are always on),
composite rules (`[[rules.required]]`), path-only rules, allowlisted `commits` (opsd scans
files, not history) and RE2 syntax with no Python equivalent.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from pathlib import Path
from typing import Any, cast

from opsd.errors import ConfigError
from opsd.secretscan.custom_rules import (
    Allowlist,
    Condition,
    CustomRule,
    CustomRules,
    RegexTarget,
)
from opsd.secretscan.re2 import UnsupportedPattern, to_python
from opsd.secretscan.rules import RULES_BY_ID

_TOP_KEYS = frozenset({"title", "description", "minversion", "rules", "allowlist", "allowlists"})
_RULE_KEYS = frozenset({
    "id", "description", "regex", "secretgroup", "entropy", "keywords", "path", "tags",
    "allowlist", "allowlists",
})
_ALLOWLIST_KEYS = frozenset({
    "description", "condition", "paths", "regexes", "regextarget", "stopwords",
})
_UNSUPPORTED = {
    "extend": "opsd's own rules are always on; put the rules themselves in this file",
    "required": "composite rules are not supported",
    "skipreport": "composite rules are not supported",
    "commits": "opsd scans files, not commits: allow by path, regex or stop word",
}


class _Invalid(Exception):
    """A problem at one place in the file: `where` + `key` + message."""

    def __init__(self, where: str, key: str, message: str) -> None:
        super().__init__(f"{where}{key}: {message}" if key else f"{where}{message}")


def load_rules_file(path: Path) -> CustomRules:
    """The rules and allowlists of a gitleaks-style TOML file; ConfigError (one line naming
    the file, the rule id and the key) when it cannot be used as written."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"rules_file {path}: no such file") from None
    except OSError as exc:
        raise ConfigError(f"rules_file {path}: cannot read: {exc.strerror or exc}") from None
    try:
        document = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"rules_file {path}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"rules_file {path}: not valid TOML: {exc}") from None
    try:
        return _translate(_lower_keys(document), hashlib.sha256(raw).hexdigest()[:16])
    except _Invalid as exc:
        raise ConfigError(f"rules_file {path}: {exc}") from None


def _lower_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k).lower(): _lower_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_lower_keys(v) for v in value]
    return value


def _translate(document: dict[str, Any], digest: str) -> CustomRules:
    _check_keys(document, _TOP_KEYS, "")
    rules = [_rule(entry, index) for index, entry in enumerate(_tables(document, "rules", ""))]
    ids = [rule.id for rule in rules]
    for rule in rules:
        if ids.count(rule.id) > 1:
            raise _Invalid(f"rule {rule.id!r}: ", "id", "defined more than once")
    allowlists, targeted = [], []
    for index, entry in enumerate(_allowlist_tables(document, "")):
        where = f"allowlists[{index}]: "
        targets = _strings(entry.pop("targetrules", []), where, "targetRules")
        allowlist = _allowlist(entry, where)
        for target in targets:
            if target not in ids and target not in RULES_BY_ID:
                raise _Invalid(where, "targetRules", f"no rule has the id {target!r}")
            targeted.append((target, allowlist))
        if not targets:
            allowlists.append(allowlist)
    return CustomRules(
        digest=digest, rules=tuple(rules), allowlists=tuple(allowlists),
        targeted=tuple(targeted), descriptions={r.id: r.description for r in rules},
    )


def _rule(entry: Any, index: int) -> CustomRule:
    where = f"rules[{index}]: "
    if not isinstance(entry, dict):
        raise _Invalid(where, "", "must be a table")
    rule_id = entry.get("id")
    if not isinstance(rule_id, str) or not rule_id.strip():
        raise _Invalid(where, "id", "missing")
    where = f"rule {rule_id!r}: "
    _check_keys(entry, _RULE_KEYS, where)
    if rule_id in RULES_BY_ID:
        raise _Invalid(where, "id", "a built-in rule has this id: rename the rule")
    if "regex" not in entry:
        raise _Invalid(where, "regex", "missing (path-only rules are not supported)")
    regex = _pattern(entry["regex"], where, "regex")
    group = entry.get("secretgroup", 0)
    if not isinstance(group, int) or isinstance(group, bool) or not 0 <= group <= regex.groups:
        raise _Invalid(where, "secretGroup", f"must be a group number from 0 to {regex.groups}")
    floor = entry.get("entropy", 0.0)
    if not isinstance(floor, int | float) or isinstance(floor, bool) or not 0 <= floor <= 8:
        raise _Invalid(where, "entropy", "must be a number from 0 to 8")
    _strings(entry.get("tags", []), where, "tags")
    description = entry.get("description", rule_id)
    if not isinstance(description, str):
        raise _Invalid(where, "description", "must be a string")
    return CustomRule(
        id=rule_id, description=description or rule_id, regex=regex, secret_group=group,
        entropy=float(floor),
        keywords=tuple(k.lower() for k in _strings(entry.get("keywords", []), where,
                                                   "keywords")),
        path=_pattern(entry["path"], where, "path") if "path" in entry else None,
        allowlists=tuple(
            _allowlist(a, f"{where}allowlists[{i}]: ")
            for i, a in enumerate(_allowlist_tables(entry, where))
        ),
    )


def _allowlist(entry: dict[str, Any], where: str) -> Allowlist:
    _check_keys(entry, _ALLOWLIST_KEYS, where)
    condition = str(entry.get("condition", "OR")).upper()
    if condition not in ("OR", "AND"):
        raise _Invalid(where, "condition", "must be OR or AND")
    target = entry.get("regextarget", "") or "secret"
    if target not in ("secret", "match", "line"):
        raise _Invalid(where, "regexTarget", "must be match or line (or unset: the secret)")
    paths = tuple(_pattern(p, where, "paths") for p in _strings(entry.get("paths", []),
                                                                 where, "paths"))
    regexes = tuple(_pattern(r, where, "regexes") for r in _strings(entry.get("regexes", []),
                                                                    where, "regexes"))
    stopwords = tuple(w.lower() for w in _strings(entry.get("stopwords", []), where,
                                                  "stopwords"))
    if not (paths or regexes or stopwords):
        raise _Invalid(where, "", "an allowlist needs paths, regexes or stopwords")
    return Allowlist(condition=cast(Condition, condition), paths=paths, regexes=regexes,
                     regex_target=cast(RegexTarget, target), stopwords=stopwords)


def _allowlist_tables(entry: dict[str, Any], where: str) -> list[dict[str, Any]]:
    """`[[…allowlists]]`, or the older single `[…allowlist]` (not both, as in gitleaks)."""
    if "allowlist" in entry and "allowlists" in entry:
        raise _Invalid(where, "allowlist", "use either allowlist or allowlists, not both")
    if "allowlist" in entry:
        single = entry["allowlist"]
        if not isinstance(single, dict):
            raise _Invalid(where, "allowlist", "must be a table")
        return [dict(single)]
    return [dict(t) for t in _tables(entry, "allowlists", where)]


def _tables(entry: dict[str, Any], key: str, where: str) -> list[Any]:
    value = entry.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise _Invalid(where, key, "must be an array of tables ([[…]])")
    return value


def _check_keys(entry: dict[str, Any], known: frozenset[str], where: str) -> None:
    for key in entry:
        if key in _UNSUPPORTED:
            raise _Invalid(where, key, f"not supported: {_UNSUPPORTED[key]}")
        if key not in known:
            raise _Invalid(where, key, "unknown key")


def _strings(value: Any, where: str, key: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _Invalid(where, key, "must be a list of strings")
    return value


def _pattern(value: Any, where: str, key: str) -> re.Pattern[str]:
    if not isinstance(value, str):
        raise _Invalid(where, key, "must be a string")
    try:
        return to_python(value)
    except UnsupportedPattern as exc:
        raise _Invalid(where, key, str(exc)) from None
