"""The detection rules, as data: what each kind of secret looks like.

Speed: Python's `re` only uses its fast literal search when a pattern starts with a literal,
and each search is a pass over the whole file. So every matcher names an `anchor` literal
(`ntn_`, `AKIA`'s `A`, `://`); the scanner searches each distinct anchor once per file with a
regex built from it and the `rest` of every matcher sharing it (`A(?:KIA…|Iza…)`), so only
real candidates leave C, and then runs the matching rules' full patterns at those places.
The character before a match is checked in code (`boundary`), not with `\\b` or a
look-behind, which would turn the search into a slow byte-by-byte scan.

A pattern's named group `secret` is the secret (the whole match when there is none).
`folded` anchors are searched in the lower-cased text, as are the patterns of rules with
`lowercase=True`; the secret itself is always taken, at the same offsets, from the original.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Literal

from opsd.notion.tokens import LEGACY, NTN

Verifier = Literal["notion"]

# After a fixed-length token: the next character must not continue it.
_END = r"(?![A-Za-z0-9])"
# Generic assignments: the rest of a key name, an optional closing quote, the operator
# (`=`, `:`, `:=`, `=>`, not `==`), and an optionally quoted value.
_ASSIGN = (
    r"(?P<key>[a-z0-9_.\-]{0,24})(?:\\?[\"'])?[ \t]{0,4}(?:=>|:=|=(?!=)|:)[ \t]{0,4}"
    r"(?P<quote>\\?[\"'`])?(?P<secret>[^\s\"'`\\,;&<>(){}\[\]]{8,256})"
)
_GROUP = re.compile(r"\(\?P<\w+>")


@dataclass(frozen=True)
class Matcher:
    """`lead` + `anchor` (literals) + `rest` (a regex). The search starts at the anchor, so
    the anchor should begin with a rare character (`cret` of `secret`, not `s`)."""

    anchor: str
    rest: str
    lead: str = ""
    folded: bool = False

    @property
    def pattern(self) -> str:
        """The full pattern, matched where the anchor was found (minus the lead)."""
        return re.escape(self.lead + self.anchor) + self.rest

    @property
    def bare_rest(self) -> str:
        """`rest` without named groups, to be joined with the rest of other matchers."""
        return _GROUP.sub("(?:", self.rest)


@dataclass(frozen=True)
class Rule:
    """One kind of secret: its matchers, the entropy floor of the secret, and how to judge it.

    `boundary`: the secret must not continue a word on its left. `public_prefix`: the secret
    starts with a prefix that says what it is (`ntn_`), safe to show. `generic`: a weaker rule
    (an assignment, a URL, a header) that yields to specific ones and rejects values that name
    or template a secret. `multiline`: the secret spans lines; whitespace and escaped newlines
    are not part of it. `verify`: found secrets can be tried against their API.
    """

    id: str
    description: str
    matchers: tuple[Matcher, ...]
    entropy: float = 0.0
    boundary: bool = True
    public_prefix: bool = True
    verify: Verifier | None = None
    generic: bool = False
    lowercase: bool = False
    multiline: bool = False


def _assignment(lead: str, anchor: str, rest_of_word: str) -> Matcher:
    """`<lead><anchor><rest of key> = <value>`, searched case-insensitively."""
    return Matcher(anchor, rest_of_word + _ASSIGN, lead=lead, folded=True)


RULES: tuple[Rule, ...] = (
    Rule(
        "notion-token", "Notion integration token (ntn_, issued since September 2024)",
        (Matcher(NTN.prefix, NTN.body + _END),), entropy=3.5, verify="notion",
    ),
    Rule(
        "notion-token-legacy", "Notion integration token (secret_, legacy format)",
        (Matcher("cret", "_" + LEGACY.body + _END, lead="se", folded=True),),
        entropy=3.5, verify="notion",
    ),
    Rule(
        "aws-access-key-id", "AWS access key ID",
        (Matcher("A", r"(?:KIA|SIA|BIA|CCA)[A-Z2-7]{16}" + _END),), entropy=3.0,
    ),
    Rule(
        "github-token", "GitHub token (personal, OAuth, user, server, refresh, fine-grained)",
        (
            Matcher("g", r"h[pousr]_[A-Za-z0-9]{36}" + _END),
            Matcher("g", r"ithub_pat_[A-Za-z0-9_]{82}" + _END),
        ),
        entropy=3.5,
    ),
    Rule(
        "gitlab-token", "GitLab personal access token",
        (Matcher("glpat-", r"[A-Za-z0-9_\-]{20,64}" + _END),), entropy=3.0,
    ),
    Rule(
        "slack-token", "Slack token (bot, user, app, refresh)",
        (Matcher("xox", r"[abeoprs]-[A-Za-z0-9\-]{10,250}" + _END),), entropy=3.0,
    ),
    Rule(
        "slack-webhook", "Slack incoming webhook URL",
        (Matcher("://", r"hooks\.slack\.com/(?:services|workflows)/"
                        r"(?P<secret>T[A-Z0-9]{8,12}/[AB][A-Z0-9]{8,12}/[A-Za-z0-9]{24})" + _END),),
        entropy=3.0, boundary=False, public_prefix=False,
    ),
    Rule(
        "stripe-live-key", "Stripe live secret or restricted key",
        (
            Matcher("k_live_", r"[A-Za-z0-9]{24,99}" + _END, lead="s"),
            Matcher("k_live_", r"[A-Za-z0-9]{24,99}" + _END, lead="r"),
        ),
        entropy=3.0,
    ),
    Rule(
        "google-api-key", "Google API key",
        (Matcher("A", r"Iza[A-Za-z0-9_\-]{35}" + _END),), entropy=3.0,
    ),
    Rule(
        "sendgrid-api-key", "SendGrid API key",
        (Matcher("S", r"G\.[A-Za-z0-9_\-]{22}\.[A-Za-z0-9_\-]{43}" + _END),), entropy=3.5,
    ),
    Rule(
        "twilio-api-key", "Twilio API key SID",
        (Matcher("S", r"K[0-9a-f]{32}" + _END),), entropy=3.0,
    ),
    Rule(
        "openai-api-key", "OpenAI API key",
        (Matcher("k-", r"(?:[a-z]{3,10}-)?[A-Za-z0-9_\-]{20,200}T3BlbkFJ[A-Za-z0-9_\-]{20,200}"
                       + _END, lead="s"),),
        entropy=3.5,
    ),
    Rule(
        "anthropic-api-key", "Anthropic API key",
        (Matcher("k-", r"ant-[a-z]{3,8}\d\d-[A-Za-z0-9_\-]{80,120}" + _END, lead="s"),),
        entropy=3.5,
    ),
    Rule(
        "private-key", "PEM private key",
        (Matcher("-----BEGIN", r"[A-Z ]{0,24} PRIVATE KEY(?: BLOCK)?-----"
                               r"(?P<secret>[A-Za-z0-9+/=\s\\:,\-]{64,16384}?)-----END"),),
        entropy=4.0, boundary=False, public_prefix=False, multiline=True,
    ),
    Rule(
        "jwt", "JSON Web Token",
        (Matcher("J", r"[A-Za-z0-9_\-]{10,}\.eyJ[A-Za-z0-9_\-]{10,}\.[A-Za-z0-9_\-]{10,}"
                      + _END, lead="ey"),),
        entropy=3.5,
    ),
    Rule(
        "url-password", "Password embedded in a URL (scheme://user:password@host)",
        (Matcher("://", r"[^\s/@:'\"`<>{}]{0,64}:"
                        r"(?P<secret>[^\s/@:'\"`<>{}]{3,128})@[A-Za-z0-9]"),),
        boundary=False, public_prefix=False, generic=True,
    ),
    Rule(
        "bearer-token", "Opaque bearer token (Authorization header)",
        (Matcher("bearer", r"[ \t]+(?P<secret>[a-z0-9\-._~+/]{20,512}=*)" + _END, folded=True),),
        entropy=3.5, public_prefix=False, generic=True, lowercase=True,
    ),
    Rule(
        "generic-secret", "High-entropy value assigned to a token/secret/password/api_key key",
        (
            _assignment("", "pass", "(?:word|wd|phrase)?s?"),
            _assignment("se", "cret", "(?:s|key)?"),
            _assignment("to", "ken", "s?"),
            _assignment("a", "pi", r"[_.\-]?key"),
            _assignment("a", "ccess", r"[_.\-]?key"),
        ),
        entropy=3.0, boundary=False, public_prefix=False, generic=True, lowercase=True,
    ),
)

RULES_BY_ID: dict[str, Rule] = {rule.id: rule for rule in RULES}


def ruleset_version() -> str:
    """A digest of every rule: cached scan results made under other rules are not reused."""
    text = repr(RULES).encode()
    return hashlib.sha256(text).hexdigest()[:16]
