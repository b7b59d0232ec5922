"""What a rule is: matchers (where to look and the shape to find) and how to judge a match.

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
Patterns keep to the syntax Python's `re` and Hyperscan share: no backreferences, and
look-arounds only at the end (`END`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

Verifier = Literal["notion"]

# After a fixed-length token: the next character must not continue it.
END = r"(?![A-Za-z0-9])"
# The same after a token whose alphabet has `_` and `-` (base64url).
END_URLSAFE = r"(?![A-Za-z0-9_\-])"
# Generic assignments: the rest of a key name, an optional closing quote, an optional type
# (`var token string = …`, `token: str = …`), the operator (`=`, `:`, `:=`, `=>`, PHP's `.=`,
# Makefile's `::=`, `?=`, not `==`), or a quoted key's comma (`setProperty("X_TOKEN", "…")`)
# or an XML element's `>`, then an optionally quoted value.
_TYPE = r"(?:[ \t]{1,4}(?:string|str|char\*|text)|[ \t]{0,2}:[ \t]{0,2}(?:string|str))?"
_OPERATOR = (
    r"(?:(?:\\?[\"'])?" + _TYPE + r"[ \t]{0,4}(?:=>|:::=|::=|:=|\?=|\.=|=(?!=)|:)"
    r"|\\?[\"'][ \t]{0,4}(?P<comma>,)|(?P<tag>>))"
)
_VALUE = r"[ \t]{0,4}(?P<quote>\\?[\"'`])?(?P<secret>[^\s\"'`\\,;&<>(){}\[\]]{%d,256})"
ASSIGN = r"(?P<key>[a-z0-9_.\-]{0,24})" + _OPERATOR + _VALUE % 8
# The same where the keyword is the whole rest of the key (`user_auth =`, not `auth_grant:`)
# and the value at least 16 characters (`auth` and `credentials` are common words).
ASSIGN_EXACT = r"(?P<key>)" + _OPERATOR + _VALUE % 16
# A key name the assignment-shaped rules of one service accept (`aws_secret_access_key`,
# `DD_API_KEY`, `"AccountKey"`), then the operator and an optional quote. A `:` must be
# followed by a space or a quote: `arn:aws:iam::aws:policy/…` is a name, not an assignment.
KEY_THEN_VALUE = (
    r"[a-z0-9_.\-]{0,40}(?:\\?[\"'])?[ \t]{0,4}"
    r"(?:(?:=>|:=|=(?!=))[ \t]{0,4}\\?[\"'`]?|:(?:[ \t]{1,4}\\?[\"'`]?|\\?[\"'`]))"
)
_GROUP = re.compile(r"\(\?P<\w+>")


@dataclass(frozen=True)
class Matcher:
    """`before` + `lead` + `anchor` (literals) + `rest` (a regex). The search starts at the
    anchor, so the anchor should begin with a rare character (`cret` of `secret`, not `s`).

    `before` is a regex of exactly `before_width` characters matched ahead of the lead
    (Azure AD client secrets: three characters and a digit before their `Q~`)."""

    anchor: str
    rest: str
    lead: str = ""
    folded: bool = False
    before: str = ""
    before_width: int = 0
    ignore_case: bool = False

    @property
    def pattern(self) -> str:
        """The full pattern, matched `offset` characters before where the anchor was found
        (case-insensitively with `ignore_case`: a key such as `DATADOG_API_KEY`)."""
        flags = "(?i)" if self.ignore_case else ""
        return flags + self.before + re.escape(self.lead + self.anchor) + self.rest

    @property
    def offset(self) -> int:
        """How far before the anchor the full pattern starts."""
        return self.before_width + len(self.lead)

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
    are not part of it. `verify`: found secrets can be tried against their API. `classes`:
    how many of lower case, upper case and digits the secret must mix (a loose shape such as
    40 base64 characters is otherwise a path or words: `policy/AWSBillingReadOnlyAccess`).
    `weak_ok`: a
    generic rule whose secret may be a plain word of one character class (a URL's password,
    `postgres://root:root@db`): weak passwords leak too.  (opsd:allow)
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
    classes: int = 0
    weak_ok: bool = False


def assignment(lead: str, anchor: str, rest_of_word: str, *, exact: bool = False) -> Matcher:
    """`<lead><anchor><rest of key> = <value>`, searched case-insensitively. `exact`: the key
    ends with `rest_of_word` (for common words such as `auth`)."""
    return Matcher(anchor, rest_of_word + (ASSIGN_EXACT if exact else ASSIGN), lead=lead,
                   folded=True)


def prefixed(prefix: str, body: str, end: str = END) -> Matcher:
    """A token that starts with a literal prefix (`glrt-`, `npm_`): the prefix is the anchor."""
    return Matcher(prefix, body + end)


def keyed(keyword: str, value: str, *, lead: str = "", end: str = END) -> Matcher:
    """A value of a known shape assigned to a key that names its service (`datadog`,
    `heroku`), the way gitleaks' semi-generic rules do. The keyword is searched in the
    lower-cased text and the pattern matched case-insensitively, so `keyword` is lower case and
    `value`'s character classes name both cases (`[A-Za-z0-9/+]`)."""
    return Matcher(
        keyword, KEY_THEN_VALUE + f"(?P<secret>{value})" + end, lead=lead, folded=True,
        ignore_case=True,
    )
