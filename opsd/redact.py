"""Redaction: how a secret may be shown (`ntn_…abcd`: its public prefix and last 4 characters)."""

from __future__ import annotations

# Prefixes that token issuers publish as the token's type marker: showing one says what leaked
# without revealing any secret part. Anything else shows no prefix at all.
KNOWN_PREFIXES = (
    "github_pat_", "sk_live_", "rk_live_", "sk-proj-", "sk-ant-", "secret_", "glpat-",
    "xoxb-", "xoxp-", "xoxa-", "xoxr-", "xoxs-", "xapp-", "ntn_", "ghp_", "gho_", "ghu_",
    "ghs_", "ghr_", "AKIA", "ASIA", "AIza", "SG.", "sk-", "eyJ",
)


def redact_secret(secret: str) -> str:
    """A safe preview of `secret`: known prefix, an ellipsis, and a short tail.

    Short secrets show less of their tail, so no preview reveals more than a fraction.
    """
    prefix = next((p for p in KNOWN_PREFIXES if secret.startswith(p)), "")
    rest = secret[len(prefix):]
    if len(rest) >= 24:
        tail = rest[-4:]
    elif len(rest) >= 12:
        tail = rest[-2:]
    else:
        tail = ""
    return f"{prefix}…{tail}"
