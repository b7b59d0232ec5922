"""Notion integration tokens, both formats (one definition shared with `notion.token_format`)."""

from __future__ import annotations

from opsd.notion.tokens import LEGACY, NTN
from opsd.secretscan.rules.model import END, Matcher, Rule

RULES: tuple[Rule, ...] = (
    Rule(
        "notion-token", "Notion integration token (ntn_, issued since September 2024)",
        (Matcher(NTN.prefix, NTN.body + END),), entropy=3.5, verify="notion",
    ),
    Rule(
        "notion-token-legacy", "Notion integration token (secret_, legacy format)",
        (Matcher("cret", "_" + LEGACY.body + END, lead="se", folded=True),),
        entropy=3.5, verify="notion",
    ),
)
