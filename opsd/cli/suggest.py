""""Did you mean …?" for names typed on the command line: commands, actions, check names.

One helper for every verb, so the wording is the same everywhere:
`opsd: unknown command 'stauts'; did you mean 'status'?`.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

# difflib's default cutoff (0.6) matches transpositions and one-letter slips of short names
# ("stauts", "histroy") without proposing unrelated words.
CUTOFF = 0.6


def closest(word: str, candidates: Iterable[str]) -> str | None:
    """The candidate closest to `word`, or None when none is close enough."""
    by_lower = {c.lower(): c for c in sorted(set(candidates), reverse=True)}
    matches = difflib.get_close_matches(word.lower(), list(by_lower), n=1, cutoff=CUTOFF)
    return by_lower[matches[0]] if matches else None


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """`; did you mean 'status'?` for the closest candidate, or '' when none is close."""
    match = closest(word, candidates)
    return f"; did you mean {match!r}?" if match is not None else ""
