"""The detection rules, as data: what each kind of secret looks like.

Python's `re` only uses its fast literal search when a pattern starts with a literal, so every
pattern here begins with one (`ntn_`, `AKIA`, `-----BEGIN`), and the character before a match
is checked in code (`boundary`) instead of with `\\b` or a look-behind, which would turn the
search into a slow byte-by-byte scan. `keywords` are the prefilter: a rule's patterns only run
over a file that contains one of them.

A pattern's named group `secret` is the secret (the whole match when there is none). Patterns
of rules with `lowercase=True` run over the lower-cased text (the secret itself is then taken,
at the same offsets, from the original).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Literal

Verifier = Literal["notion"]

# After a fixed-length token: the next character must not continue it.
_END = r"(?![A-Za-z0-9])"
# Generic assignments: the rest of a key name, an optional closing quote, the operator
# (`=`, `:`, `:=`, `=>`, not `==`), and an optionally quoted value.
_ASSIGN = (
    r"(?P<key>[a-z0-9_.\-]{0,24})(?:\\?[\"'])?[ \t]{0,4}(?:=>|:=|=(?!=)|:)[ \t]{0,4}"
    r"(?P<quote>\\?[\"'`])?(?P<secret>[^\s\"'`\\,;&<>(){}\[\]]{8,256})"
)


@dataclass(frozen=True)
class Rule:
    """One kind of secret."""

    id: str
    description: str
    keywords: tuple[bytes, ...]
    patterns: tuple[str, ...]
    entropy: float = 0.0
    boundary: bool = True
    verify: Verifier | None = None
    generic: bool = False
    lowercase: bool = False
    multiline: bool = False


RULES: tuple[Rule, ...] = (
    Rule(
        "notion-token", "Notion integration token (ntn_, issued since September 2024)",
        keywords=(b"ntn_",), patterns=(r"ntn_[A-Za-z0-9]{40,56}" + _END,),
        entropy=3.5, verify="notion",
    ),
    Rule(
        "notion-token-legacy", "Notion integration token (secret_, legacy format)",
        keywords=(b"secret_",), patterns=(r"secret_[A-Za-z0-9]{43}" + _END,),
        entropy=3.5, verify="notion",
    ),
    Rule(
        "aws-access-key-id", "AWS access key ID",
        keywords=(b"A",), patterns=(r"A(?:KIA|SIA|BIA|CCA)[A-Z2-7]{16}" + _END,),
        entropy=3.0,
    ),
    Rule(
        "github-token", "GitHub token (personal, OAuth, user, server, refresh, fine-grained)",
        keywords=(b"gh",),
        patterns=(r"gh[pousr]_[A-Za-z0-9]{36}" + _END, r"github_pat_[A-Za-z0-9_]{82}" + _END),
        entropy=3.5,
    ),
    Rule(
        "gitlab-token", "GitLab personal access token",
        keywords=(b"glpat-",), patterns=(r"glpat-[A-Za-z0-9_\-]{20,64}" + _END,), entropy=3.0,
    ),
    Rule(
        "slack-token", "Slack token (bot, user, app, refresh)",
        keywords=(b"xox",), patterns=(r"xox[abeoprs]-[A-Za-z0-9\-]{10,250}" + _END,),
        entropy=3.0,
    ),
    Rule(
        "slack-webhook", "Slack incoming webhook URL",
        keywords=(b"hooks.slack.com/",),
        patterns=(
            r"hooks\.slack\.com/(?:services|workflows)/"
            r"(?P<secret>T[A-Z0-9]{8,12}/[AB][A-Z0-9]{8,12}/[A-Za-z0-9]{24})" + _END,
        ),
        entropy=3.0, boundary=False,
    ),
    Rule(
        "stripe-live-key", "Stripe live secret or restricted key",
        keywords=(b"k_live_",),
        patterns=(r"sk_live_[A-Za-z0-9]{24,99}" + _END, r"rk_live_[A-Za-z0-9]{24,99}" + _END),
        entropy=3.0,
    ),
    Rule(
        "google-api-key", "Google API key",
        keywords=(b"AIza",), patterns=(r"AIza[A-Za-z0-9_\-]{35}" + _END,), entropy=3.0,
    ),
    Rule(
        "sendgrid-api-key", "SendGrid API key",
        keywords=(b"SG.",), patterns=(r"SG\.[A-Za-z0-9_\-]{22}\.[A-Za-z0-9_\-]{43}" + _END,),
        entropy=3.5,
    ),
    Rule(
        "twilio-api-key", "Twilio API key SID",
        keywords=(b"SK",), patterns=(r"SK[0-9a-f]{32}" + _END,), entropy=3.0,
    ),
    Rule(
        "openai-api-key", "OpenAI API key",
        keywords=(b"T3BlbkFJ",),
        patterns=(r"sk-(?:[a-z]{3,10}-)?[A-Za-z0-9_\-]{20,200}T3BlbkFJ[A-Za-z0-9_\-]{20,200}"
                  + _END,),
        entropy=3.5,
    ),
    Rule(
        "anthropic-api-key", "Anthropic API key",
        keywords=(b"sk-ant-",), patterns=(r"sk-ant-[a-z]{3,8}\d\d-[A-Za-z0-9_\-]{80,120}" + _END,),
        entropy=3.5,
    ),
    Rule(
        "private-key", "PEM private key",
        keywords=(b"-----BEGIN",),
        patterns=(
            r"-----BEGIN[A-Z ]{0,24} PRIVATE KEY(?: BLOCK)?-----"
            r"(?P<secret>[A-Za-z0-9+/=\s\\:,\-]{64,16384}?)-----END",
        ),
        entropy=4.0, boundary=False, multiline=True,
    ),
    Rule(
        "jwt", "JSON Web Token",
        keywords=(b"eyJ",),
        patterns=(r"eyJ[A-Za-z0-9_\-]{10,}\.eyJ[A-Za-z0-9_\-]{10,}\.[A-Za-z0-9_\-]{10,}" + _END,),
        entropy=3.5,
    ),
    Rule(
        "url-password", "Password embedded in a URL (scheme://user:password@host)",
        keywords=(b"://",),
        patterns=(r"://[^\s/@:'\"`<>{}]{0,64}:(?P<secret>[^\s/@:'\"`<>{}]{3,128})@[A-Za-z0-9]",),
        boundary=False, generic=True,
    ),
    Rule(
        "bearer-token", "Opaque bearer token (Authorization header)",
        keywords=(b"earer ",),
        patterns=(
            r"Bearer[ \t]+(?P<secret>[A-Za-z0-9\-._~+/]{20,512}=*)" + _END,
            r"bearer[ \t]+(?P<secret>[A-Za-z0-9\-._~+/]{20,512}=*)" + _END,
        ),
        entropy=3.5, generic=True,
    ),
    Rule(
        "generic-secret", "High-entropy value assigned to a token/secret/password/api_key key",
        keywords=(b"pass", b"secret", b"token", b"api", b"access"),
        patterns=(
            r"pass(?:word|wd|phrase)?s?" + _ASSIGN,
            r"secret(?:s|key)?" + _ASSIGN,
            r"token(?:s)?" + _ASSIGN,
            r"api[_.\-]?key" + _ASSIGN,
            r"access[_.\-]?key" + _ASSIGN,
        ),
        entropy=3.0, boundary=False, generic=True, lowercase=True,
    ),
)

RULES_BY_ID: dict[str, Rule] = {rule.id: rule for rule in RULES}


def ruleset_version() -> str:
    """A digest of every rule: cached scan results made under other rules are not reused."""
    text = repr(RULES).encode()
    return hashlib.sha256(text).hexdigest()[:16]
