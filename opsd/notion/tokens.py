"""What a Notion token looks like: the one definition that `notion.token_format`, the secret
scanner's Notion rules and the sandbox's own token all follow. Pure, standard library only.

- `ntn_` tokens (issued since September 2024): `ntn_`, 11 digits, 35 letters or digits —
  50 characters in all.
- legacy `secret_` tokens: `secret_` and 43 letters or digits — 50 characters in all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

TokenShape = Literal["ntn", "secret"]


@dataclass(frozen=True)
class Shape:
    """One token format: its public prefix and the regex of the rest (`body`)."""

    name: TokenShape
    prefix: str
    body: str
    length: int
    description: str

    @property
    def pattern(self) -> str:
        """The whole token as a regex (no anchors)."""
        return re.escape(self.prefix) + self.body


NTN = Shape("ntn", "ntn_", r"[0-9]{11}[A-Za-z0-9]{35}", 50,
            "ntn_ followed by 11 digits and 35 letters or digits")
LEGACY = Shape("secret", "secret_", r"[A-Za-z0-9]{43}", 50,
               "secret_ followed by 43 letters or digits")
SHAPES: tuple[Shape, ...] = (NTN, LEGACY)

NTN_BODY = NTN.body
"""The part of an `ntn_` token after its prefix (the secret scanner's matcher uses it)."""
LEGACY_BODY = LEGACY.body
"""The part of a legacy token after `secret_`."""
NTN_PATTERN = NTN.pattern
LEGACY_PATTERN = LEGACY.pattern

_COMPILED = {shape.name: re.compile(shape.pattern) for shape in SHAPES}
_ALNUM = re.compile(r"[A-Za-z0-9]*")


def token_shape(token: str) -> TokenShape | None:
    """`ntn` or `secret` (legacy) if `token` has exactly a known shape, else None (pure)."""
    for shape in SHAPES:
        if _COMPILED[shape.name].fullmatch(token):
            return shape.name
    return None


def near_miss(token: str) -> str | None:
    """Why a token with a known prefix is not of its shape (None when it is, or has no known
    prefix): 'ntn_ token has 49 characters, expected 50', '… no 11 digits after ntn_', …"""
    shape = next((s for s in SHAPES if token.startswith(s.prefix)), None)
    if shape is None or token_shape(token) == shape.name:
        return None
    label = f"{shape.prefix} token"
    if len(token) != shape.length:
        return f"{label} has {len(token)} characters, expected {shape.length}"
    rest = token[len(shape.prefix):]
    if not _ALNUM.fullmatch(rest):
        return f"{label} has characters other than letters and digits after {shape.prefix}"
    if shape is NTN and not rest[:11].isdigit():
        return f"{label} does not start with 11 digits after ntn_"
    return f"{label} does not match {shape.description}"
