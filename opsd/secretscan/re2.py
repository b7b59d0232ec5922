"""Go RE2 patterns (as gitleaks writes them) rewritten for Python's `re`.

The two dialects agree on almost everything a secret rule uses. Where they differ, the
RE2 form is rewritten: `\\z` (end of text) is `\\Z`; `(?<name>…)` is `(?P<name>…)`;
`\\Q…\\E` quotes literally; `\\x{41}` is one code point; POSIX classes (`[[:alnum:]]`) become
ranges; a flag group in mid-pattern (`/Users/(?i)[a-z]+`), which Python refuses, applies to
the rest of its group as `(?i:…)`. `[`, `&`, `~` and `|` inside a class are escaped, as
RE2 reads them literally. What Python cannot express (Unicode classes `\\pL`, the ungreedy
flag `U`, `\\C`) raises `UnsupportedPattern`. Matching uses `re.ASCII`, as RE2 does: `\\w`,
`\\d`, `\\s` and `\\b` are ASCII only.
"""

from __future__ import annotations

import re

_POSIX = {
    "alnum": "0-9A-Za-z", "alpha": "A-Za-z", "ascii": "\\x00-\\x7f", "blank": "\\t ",
    "cntrl": "\\x00-\\x1f\\x7f", "digit": "0-9", "graph": "!-~", "lower": "a-z",
    "print": " -~", "punct": "!-/:-@\\[-`{-~", "space": "\\t\\n\\v\\f\\r ", "upper": "A-Z",
    "word": "0-9A-Za-z_", "xdigit": "0-9A-Fa-f",
}
_FLAGS = re.compile(r"\(\?([imsU-]+)([):])")
_HEX_CODE = re.compile(r"\\x\{([0-9A-Fa-f]{1,6})\}")


class UnsupportedPattern(ValueError):
    """The pattern uses RE2 syntax that Python's `re` has no equivalent for."""


def to_python(pattern: str) -> re.Pattern[str]:
    """Compile an RE2 pattern with Python's `re` (ASCII classes, as in RE2)."""
    converted = convert(pattern)
    try:
        return re.compile(converted, re.ASCII)
    except re.error as exc:
        raise UnsupportedPattern(f"not a valid regular expression: {exc}") from None


def convert(pattern: str) -> str:
    """The Python spelling of an RE2 pattern (see the module docstring)."""
    out: list[str] = []
    scoped: list[list[str]] = [[]]  # per open group (the pattern first): flag groups opened
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            text, i = _escape(pattern, i)
            out.append(text)
        elif char == "[":
            text, i = _char_class(pattern, i)
            out.append(text)
        elif char == "(":
            text, i, flags = _group(pattern, i, at_start=not out)
            out.append(text)
            if flags is None:
                scoped.append([])
            elif flags:
                scoped[-1].append(flags)
        elif char == ")":
            out.append(")" * len(scoped.pop() if len(scoped) > 1 else ()) + ")")
            i += 1
        elif char == "|":  # flags last until the end of the alternative's group: reopen
            opened = scoped[-1]
            out.append(")" * len(opened) + "|" + "".join(f"(?{f}:" for f in opened))
            i += 1
        else:
            out.append(char)
            i += 1
    out.append(")" * len(scoped[0]))
    return "".join(out)


def _group(pattern: str, i: int, *, at_start: bool) -> tuple[str, int, str | None]:
    """A `(` at `i` -> (Python text, index after it, the flags of a scoped flag group it
    opens, "" for bare flags at the start, None for any other group)."""
    flags = _FLAGS.match(pattern, i)
    if flags and "U" in flags.group(1):
        raise UnsupportedPattern("the ungreedy flag (?U) has no Python equivalent")
    if flags and flags.group(2) == ")":
        if at_start:
            return flags.group(0), flags.end(), ""
        return f"(?{flags.group(1)}:", flags.end(), flags.group(1)
    if pattern.startswith("(?<", i) and not pattern.startswith(("(?<=", "(?<!"), i):
        return "(?P<", i + 3, None
    return "(", i + 1, None


def _escape(pattern: str, i: int) -> tuple[str, int]:
    """One escape sequence at `i` -> (Python text, index after it)."""
    nxt = pattern[i + 1:i + 2]
    if nxt == "z":
        return r"\Z", i + 2
    if nxt == "Q":
        end = pattern.find(r"\E", i + 2)
        end = len(pattern) if end < 0 else end
        return re.escape(pattern[i + 2:end]), min(end + 2, len(pattern))
    if nxt in ("p", "P"):
        raise UnsupportedPattern(f"Unicode classes (\\{nxt}…) have no Python equivalent")
    if nxt == "C":
        raise UnsupportedPattern("\\C (any byte) has no Python equivalent")
    code = _HEX_CODE.match(pattern, i)
    if code:
        return re.escape(chr(int(code.group(1), 16))), code.end()
    return pattern[i:i + 2], i + 2


def _char_class(pattern: str, i: int) -> tuple[str, int]:
    """A bracket expression at `i` -> (Python text, index after its `]`)."""
    out = ["["]
    j = i + 1
    if pattern.startswith("^", j):
        out.append("^")
        j += 1
    if pattern.startswith("]", j):  # a leading `]` is literal
        out.append(r"\]")
        j += 1
    while j < len(pattern) and pattern[j] != "]":
        posix = re.match(r"\[:(\^?)([a-z]+):\]", pattern[j:])
        if posix:
            negated, name = posix.groups()
            if name not in _POSIX:
                raise UnsupportedPattern(f"unknown character class [:{name}:]")
            if negated:
                raise UnsupportedPattern(f"negated class [:^{name}:] has no Python equivalent")
            out.append(_POSIX[name])
            j += posix.end()
        elif pattern[j] == "\\":
            text, j = _escape(pattern, j)
            out.append(text)
        elif pattern[j] in "[&~|":
            out.append("\\" + pattern[j])
            j += 1
        else:
            out.append(pattern[j])
            j += 1
    if j >= len(pattern):
        raise UnsupportedPattern("missing ] at the end of a character class")
    out.append("]")
    return "".join(out), j + 1
