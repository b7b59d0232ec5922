"""The detection rules, as data: what each kind of secret looks like, one module per family.

`model` says what a rule is and how the scanner searches for it; the families (`notion`,
`cloud`, `vcs`, `chat`, `payments`, `ai`, `packages`, `mail`, `services`, `generic`) hold the
rules. Order matters where two rules find the same text: the earlier specific rule wins, and
every specific rule wins over a generic one.
"""

from __future__ import annotations

import hashlib

from opsd.secretscan.rules import (
    ai,
    chat,
    cloud,
    generic,
    mail,
    notion,
    packages,
    payments,
    services,
    vcs,
)
from opsd.secretscan.rules.model import Matcher, Rule, Verifier

RULES: tuple[Rule, ...] = (
    *notion.RULES, *cloud.RULES, *vcs.RULES, *chat.RULES, *payments.RULES, *ai.RULES,
    *packages.RULES, *mail.RULES, *services.RULES, *generic.RULES,
)

RULES_BY_ID: dict[str, Rule] = {rule.id: rule for rule in RULES}


def ruleset_version() -> str:
    """A digest of every rule: cached scan results made under other rules are not reused."""
    text = repr(RULES).encode()
    return hashlib.sha256(text).hexdigest()[:16]


__all__ = ["RULES", "RULES_BY_ID", "Matcher", "Rule", "Verifier", "ruleset_version"]
