"""Rules a team adds (`[secrets] rules_file`), matched after the built-in ones.

They follow gitleaks' semantics (`opsd.secretscan.gitleaks` reads its TOML format): a rule
runs only when one of its keywords is in the file (case-insensitive) and its path pattern,
if any, matches; the secret is its `secretGroup`, else its first non-empty group, else the
whole match; a secret whose Shannon entropy is not above the rule's floor is dropped; so is
one an allowlist allows. Allowlists of the whole file (gitleaks' `[allowlist]`) and those
aimed at a rule id (`targetRules`) apply to the built-in rules' findings too.

A built-in finding wins over a custom one at the same place, so moving from gitleaks to
opsd with both rule sets does not report a token twice. `opsd:allow` and gitleaks'
`gitleaks:allow` on a line silence custom rules there.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from opsd.secretscan.scanner import Hit, entropy

ALLOW_MARKERS = ("opsd:allow", "gitleaks:allow")

Condition = Literal["OR", "AND"]
RegexTarget = Literal["secret", "match", "line"]


@dataclass(frozen=True)
class Allowlist:
    """Findings not to report: by path, by a regex over the secret (or match, or line), by
    a stop word in the secret. OR: any check allows; AND: every check given must."""

    condition: Condition = "OR"
    paths: tuple[re.Pattern[str], ...] = ()
    regexes: tuple[re.Pattern[str], ...] = ()
    regex_target: RegexTarget = "secret"
    stopwords: tuple[str, ...] = ()  # lower case

    def allows(self, secret: str, match: str, line: str, path: str) -> bool:
        """Is this finding allowed (not reported)?"""
        target = {"secret": secret, "match": match, "line": line}[self.regex_target]
        checks = []
        if self.paths:
            checks.append(any(p.search(path) for p in self.paths))
        if self.regexes:
            checks.append(any(r.search(target) for r in self.regexes))
        if self.stopwords:
            lowered = secret.lower()
            checks.append(any(word in lowered for word in self.stopwords))
        return all(checks) if self.condition == "AND" else any(checks)


@dataclass(frozen=True)
class CustomRule:
    """One added rule (gitleaks' `[[rules]]`)."""

    id: str
    description: str
    regex: re.Pattern[str]
    secret_group: int = 0
    entropy: float = 0.0
    keywords: tuple[str, ...] = ()  # lower case
    path: re.Pattern[str] | None = None
    allowlists: tuple[Allowlist, ...] = ()


@dataclass(frozen=True)
class CustomRules:
    """A rules file's rules and allowlists; `digest` keys the scan cache."""

    digest: str
    rules: tuple[CustomRule, ...] = ()
    allowlists: tuple[Allowlist, ...] = ()
    targeted: tuple[tuple[str, Allowlist], ...] = ()  # (rule id, allowlist)
    descriptions: dict[str, str] = field(default_factory=dict, compare=False)

    def apply(self, data: bytes, path: str, hits: list[Hit], max_line_length: int) -> list[Hit]:
        """The built-in `hits` minus allowed ones, plus what the custom rules find."""
        text = data.decode("utf-8", "replace")
        lines = _Lines(text)
        shown = path.removeprefix("./")
        kept = [h for h in hits if not self._allowed(h.rule, h.secret, h.secret,
                                                      lines.text_of(h.line), shown)]
        taken = {(h.line, h.column, h.column + len(h.secret)) for h in kept}
        found = []
        lowered = text.lower()  # for the keywords
        for rule in self.rules:
            if rule.keywords and not any(k in lowered for k in rule.keywords):
                continue
            for hit, match in _rule_hits(rule, text, shown, lines, max_line_length):
                if _overlaps(hit, taken) or self._allowed(
                    rule.id, hit.secret, match, lines.text_of(hit.line), shown
                ):
                    continue
                taken.add((hit.line, hit.column, hit.column + len(hit.secret)))
                found.append(hit)
        return sorted([*kept, *found], key=lambda h: (h.line, h.column))

    def _allowed(self, rule_id: str, secret: str, match: str, line: str, path: str) -> bool:
        lists: Iterable[Allowlist] = (
            *self.allowlists, *(a for target, a in self.targeted if target == rule_id),
            *next((r.allowlists for r in self.rules if r.id == rule_id), ()),
        )
        return any(a.allows(secret, match, line, path) for a in lists)


class _Lines:
    """Line numbers and line text of a decoded file."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.starts = [0, *(m.end() for m in re.finditer("\n", text))]

    def locate(self, offset: int) -> tuple[int, int]:
        """1-based (line, column) of a character offset."""
        line = bisect.bisect_right(self.starts, offset)
        return line, offset - self.starts[line - 1] + 1

    def text_of(self, line: int) -> str:
        start = self.starts[line - 1]
        end = self.text.find("\n", start)
        return self.text[start:] if end < 0 else self.text[start:end]


def _rule_hits(
    rule: CustomRule, text: str, path: str, lines: _Lines, max_line_length: int
) -> Iterable[tuple[Hit, str]]:
    """Each (hit, whole match) of one rule in a file (its keywords are in it), before
    allowlists."""
    if rule.path is not None and not rule.path.search(path):
        return
    for match in rule.regex.finditer(text):
        start, end = _secret_span(rule, match)
        secret = text[start:end].strip("\n")
        start += len(text[start:end]) - len(text[start:end].lstrip("\n"))
        if not secret or (rule.entropy and entropy(secret) <= rule.entropy):
            continue
        line, column = lines.locate(start)
        line_text = lines.text_of(line)
        if len(line_text) > max_line_length or any(m in line_text for m in ALLOW_MARKERS):
            continue
        yield Hit(rule.id, secret, line, column), match.group(0)


def _secret_span(rule: CustomRule, match: re.Match[str]) -> tuple[int, int]:
    """gitleaks' choice: secretGroup, else the first non-empty group, else the match."""
    if rule.secret_group:
        return match.span(rule.secret_group)
    for index in range(1, (match.re.groups or 0) + 1):
        if match.group(index):
            return match.span(index)
    return match.span()


def _overlaps(hit: Hit, taken: set[tuple[int, int, int]]) -> bool:
    end = hit.column + len(hit.secret)
    return any(line == hit.line and start < end and hit.column < stop
               for line, start, stop in taken)
