"""Redaction: how a secret may be shown (`ntn_…abcd`: its public prefix and last 4 characters)."""

from __future__ import annotations

import re

_PREFIX = re.compile(r"^(?:[A-Za-z]{2,12}[_-](?:[A-Za-z]{2,8}[_-])?|AKIA|ASIA|AIza|eyJ)")


def redact_secret(secret: str) -> str:
    """A safe preview of `secret`: known prefix, an ellipsis, and a short tail.

    Short secrets show less of their tail, so no preview reveals more than a fraction.
    """
    prefix_match = _PREFIX.match(secret)
    prefix = prefix_match.group(0) if prefix_match else ""
    rest = secret[len(prefix):]
    if len(rest) >= 24:
        tail = rest[-4:]
    elif len(rest) >= 12:
        tail = rest[-2:]
    else:
        tail = ""
    return f"{prefix}…{tail}"
