"""The one-pass candidate search: every matcher in one Hyperscan database, one scan per file.

Hyperscan reports where matches END (no start-of-match tracking, which would cost speed), for
every matcher at once, in a single pass over the buffer. The scanner then finds the matcher's
anchor literal in a short window before each end and lets Python's `re` decide, at exactly the
places and in exactly the order the anchor search would (see `scanner`), so both engines give
the same hits; a property test holds them to it.

What Hyperscan compiles is not the matcher's pattern but a relaxation of it that matches a
prefix of every match (`relax`): look-arounds and anchors dropped, and the pattern cut at a
wide repeat that ends it (`{8,256}` becomes `{8}`; one followed by more, as in a JWT's
`[\\w-]{10,}\\.eyJ`, loses its upper bound and the window before an end is then unbounded).
That keeps the database small and quick to compile, and a token yields one reported end
instead of one per possible length. A pattern the relaxation or Hyperscan cannot handle leaves
its whole anchor group to the Python search (logged at debug), so any `Matcher.pattern` works.
A search without an anchor literal (the base64 values) is found the same way.

The database is compiled once per process, or loaded from the user's cache directory where the
last compile of the same expressions left it (0.2 s to compile, milliseconds to load); scratch
space is per thread and per process (a forked worker makes its own).
"""

from __future__ import annotations

import hashlib
import logging
import os
import platform
import re
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hyperscan

log = logging.getLogger(__name__)

_parser: Any = re._parser  # type: ignore[attr-defined]
_constants: Any = re._constants  # type: ignore[attr-defined]
_MAXREPEAT = _constants.MAXREPEAT
# A repeat wider than this ends the relaxed pattern (keeping its minimum) or, when more follows,
# loses its upper bound.
_WIDE_REPEAT = 64
_CATEGORIES: dict[Any, frozenset[int]] = {
    _constants.CATEGORY_DIGIT: frozenset(range(48, 58)),
    _constants.CATEGORY_SPACE: frozenset(b" \t\n\r\f\v"),
    _constants.CATEGORY_WORD: frozenset(
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_"
    ),
}
_ALL_BYTES = frozenset(range(256))
for _category, _negated in (("DIGIT", "NOT_DIGIT"), ("SPACE", "NOT_SPACE"),
                            ("WORD", "NOT_WORD")):
    _CATEGORIES[getattr(_constants, f"CATEGORY_{_negated}")] = (
        _ALL_BYTES - _CATEGORIES[getattr(_constants, f"CATEGORY_{_category}")]
    )


class Unsupported(ValueError):
    """A construct the relaxation does not translate (a conditional group, say)."""


@dataclass(frozen=True)
class GroupSearch:
    """What the scanner needs to find one anchor group's candidates from reported ends."""

    anchor: bytes  # empty: the search starts with a class; `relaxed` finds where it may start
    window: int  # the longest relaxed match: a match starts at most this far before an end
    shortest: int  # the shortest relaxed match
    relaxed: re.Pattern[bytes] | None = None  # without an anchor: the relaxed expression


def relax(pattern: str) -> str:
    """A Hyperscan expression matching a prefix of every match of `pattern` (a bytes regex).

    Every byte set is written out as `\\xHH` ranges, so Python's and Hyperscan's ideas of `\\s`
    or `.` cannot differ; what is dropped only ever widens the match, never narrows it.
    """
    return relax_with_widths(pattern)[0]


def relax_with_widths(pattern: str) -> tuple[str, int, int]:
    """`relax(pattern)` with the shortest and longest match of the result (`MAXREPEAT` or
    more: unbounded), from the one parse."""
    parsed = _parser.parse(pattern, 0)
    flags = parsed.state.flags
    if flags & ~(re.IGNORECASE | re.ASCII | re.UNICODE | re.VERBOSE | re.DOTALL | re.MULTILINE):
        raise Unsupported(f"flags {flags}")
    items = _cut(_flatten(list(parsed)), parsed.state)[0]
    body = _sequence(items)
    if flags & re.IGNORECASE:
        body = f"(?i:{body})"
    least, longest = _parser.SubPattern(parsed.state, items).getwidth()
    return body, int(least), int(longest)


def _flatten(items: list[Any]) -> list[Any]:
    """Top-level groups without flags dissolve into the sequence, so a cut can reach inside."""
    out: list[Any] = []
    for op, av in items:
        if op is _constants.SUBPATTERN and not av[1] and not av[2]:
            out.extend(_flatten(list(av[3])))
        else:
            out.append((op, av))
    return out


def _cut(items: list[Any], state: Any) -> tuple[list[Any], bool]:
    """(`items` up to the first wide repeat, was there one). A wide repeat followed by more
    than assertions (`[\\w-]{10,}\\.eyJ`) loses its upper bound instead, so what follows still
    filters; a branch whose alternatives end in one is cut in each and ends the sequence."""
    out: list[Any] = []
    for index, (op, av) in enumerate(items):
        if op in (_constants.MAX_REPEAT, _constants.MIN_REPEAT, _POSSESSIVE):
            low, high, sub = av
            if high is _MAXREPEAT or high - low > _WIDE_REPEAT:
                if _has_width(items[index + 1:]):
                    out.append((_constants.MAX_REPEAT, (low, _MAXREPEAT, sub)))
                    continue
                if low:
                    out.append((_constants.MAX_REPEAT, (low, low, sub)))
                return out, True
        elif op is _constants.BRANCH:
            alternatives = [_cut(_flatten(list(alt)), state) for alt in av[1]]
            if any(cut for _, cut in alternatives):
                out.append((op, (None, [_parser.SubPattern(state, alt)
                                        for alt, _ in alternatives])))
                return out, True
        out.append((op, av))
    return out, False


def _has_width(items: list[Any]) -> bool:
    """Must `items` consume something (`\\.eyJ`, not just `={0,2}` or a look-ahead)?"""
    return _least(items) > 0


def _least(items: Sequence[Any]) -> int:
    """The fewest bytes `items` match (0 for what this does not know: the safe side)."""
    c = _constants
    total = 0
    for op, av in items:
        if op in (c.LITERAL, c.NOT_LITERAL, c.IN, c.ANY):
            total += 1
        elif op in (c.MAX_REPEAT, c.MIN_REPEAT, _POSSESSIVE):
            total += av[0] * _least(av[2])
        elif op is c.SUBPATTERN:
            total += _least(av[3])
        elif op is c.BRANCH:
            total += min(_least(alt) for alt in av[1])
    return total


_POSSESSIVE = getattr(_constants, "POSSESSIVE_REPEAT", object())
_ATOMIC = getattr(_constants, "ATOMIC_GROUP", object())


def _sequence(items: Sequence[Any]) -> str:
    return "".join(_node(op, av) for op, av in items)


def _node(op: Any, av: Any) -> str:
    c = _constants
    if op is c.LITERAL:
        return _byte(av)
    if op is c.NOT_LITERAL:
        return _class(_ALL_BYTES - {av})
    if op is c.ANY:
        return _class(_ALL_BYTES)
    if op is c.IN:
        return _class(_set_of(av))
    if op in (c.MAX_REPEAT, c.MIN_REPEAT, _POSSESSIVE):
        low, high, sub = av
        bound = f"{{{low},}}" if high is _MAXREPEAT else f"{{{low},{high}}}"
        return f"(?:{_sequence(sub)}){bound}"
    if op is c.SUBPATTERN:
        _, add, _, sub = av
        return f"(?i:{_sequence(sub)})" if add & re.IGNORECASE else f"(?:{_sequence(sub)})"
    if op is _ATOMIC:
        return f"(?:{_sequence(av)})"
    if op is c.BRANCH:
        return "(?:" + "|".join(_sequence(alt) for alt in av[1]) + ")"
    if op in (c.AT, c.ASSERT, c.ASSERT_NOT):
        return ""  # zero-width: dropping it only widens the match
    raise Unsupported(str(op))


def _set_of(items: list[Any]) -> frozenset[int]:
    c = _constants
    values: set[int] = set()
    negate = False
    for op, av in items:
        if op is c.NEGATE:
            negate = True
        elif op is c.LITERAL:
            values.add(av)
        elif op is c.RANGE:
            values.update(range(av[0], av[1] + 1))
        elif op is c.CATEGORY and av in _CATEGORIES:
            values.update(_CATEGORIES[av])
        else:
            raise Unsupported(f"{op} {av}")
    return _ALL_BYTES - values if negate else frozenset(values)


def _byte(value: int) -> str:
    if value > 0xFF:
        raise Unsupported(f"character {value:#x} is not a byte")
    return f"\\x{value:02x}"


def _class(values: frozenset[int]) -> str:
    """`[\\x30-\\x39\\x5f]`: contiguous runs as ranges."""
    if not values:
        raise Unsupported("empty character class")
    ordered = sorted(values)
    parts: list[str] = []
    start = previous = ordered[0]
    for value in [*ordered[1:], -2]:
        if value == previous + 1:
            previous = value
            continue
        parts.append(_byte(start) if start == previous else f"{_byte(start)}-{_byte(previous)}")
        start = previous = value
    return "[" + "".join(parts) + "]"


def width(expression: str) -> int:
    """The longest match of a relaxed expression (`MAXREPEAT` or more: unbounded)."""
    return int(_parser.parse(expression, 0).getwidth()[1])


@dataclass(frozen=True)
class MatcherSpec:
    """One matcher as the engine sees it: its anchor group, pattern and case folding. A search
    without an anchor literal (`anchor=""`) is any regex whose matches are wanted."""

    group: int
    anchor: str
    pattern: str  # `anchor` + the matcher's bare rest, as searched (without the lead)
    folded: bool


class Engine:
    """The compiled database and, per anchor group, how to turn ends into anchor positions."""

    def __init__(self, specs: Sequence[MatcherSpec]) -> None:
        relaxed: list[tuple[MatcherSpec, str]] = []
        python_only: set[int] = set()
        widths: dict[str, tuple[int, int]] = {}
        for spec in specs:
            try:
                expression, least, longest = relax_with_widths(spec.pattern)
                relaxed.append((spec, expression))
                widths[expression] = (least, longest)
            except (Unsupported, re.error) as exc:
                _python_only(spec, exc, python_only)
        try:
            self._database = _compile(relaxed, python_only)
        except hyperscan.error:  # find the culprits one by one, then compile the rest
            for spec, expression in relaxed:
                try:
                    _compile([(spec, expression)], set(), cached=False)
                except hyperscan.error as exc:
                    _python_only(spec, exc, python_only)
            self._database = _compile(relaxed, python_only)
        kept = [(s, e) for s, e in relaxed if s.group not in python_only]
        self.owners = tuple(spec.group for spec, _ in kept)
        self.groups: dict[int, GroupSearch] = {}
        for spec, expression in kept:
            known = self.groups.get(spec.group)
            least, longest = widths[expression]
            if known is not None:
                longest, least = max(longest, known.window), min(least, known.shortest)
            if least == 0 or (not spec.anchor and longest >= _MAXREPEAT):
                _python_only(spec, Unsupported("no anchor and no bound"), python_only)
            relaxed_search = None if spec.anchor else re.compile(
                expression.encode(), re.IGNORECASE if spec.folded else 0)
            self.groups[spec.group] = GroupSearch(
                spec.anchor.encode(), longest, least, relaxed_search)
        self.python_only = frozenset(python_only)
        for group in self.python_only:
            self.groups.pop(group, None)
        self._local = threading.local()

    def ends(self, data: bytes) -> dict[int, list[int]]:
        """Per anchor group, the sorted offsets where a relaxed match of one of its matchers
        ends (a superset of where the real patterns' matches end)."""
        found: dict[int, list[int]] = {}
        if self._database is None or not data:
            return found
        owners = self.owners

        def on_match(expression: int, _start: int, end: int, _flags: int, _ctx: Any) -> None:
            group = owners[expression]
            ends = found.get(group)
            if ends is None:
                found[group] = [end]
            elif ends[-1] != end:
                ends.append(end)

        self._database.scan(data, match_event_handler=on_match, scratch=self._scratch())
        for ends in found.values():
            ends.sort()
        return found

    def _scratch(self) -> Any:
        """Scratch space of this thread in this process (a fork copies, never shares, it)."""
        local = self._local
        if getattr(local, "pid", None) != os.getpid():
            local.scratch = hyperscan.Scratch(self._database)
            local.pid = os.getpid()
        return local.scratch


def _python_only(spec: MatcherSpec, reason: Exception, python_only: set[int]) -> None:
    log.debug("secret scan: %r stays with the Python search: %s", spec.pattern, reason)
    python_only.add(spec.group)


def _compile(
    relaxed: list[tuple[MatcherSpec, str]], python_only: set[int], *, cached: bool = True
) -> Any:
    """One block-mode database of the expressions whose group is not left to Python."""
    kept = [(spec, e) for spec, e in relaxed if spec.group not in python_only]
    if not kept:
        return None
    expressions = [e.encode() for _, e in kept]
    flags = [hyperscan.HS_FLAG_CASELESS if spec.folded else 0 for spec, _ in kept]
    path = _cache_path(expressions, flags) if cached else None
    if path is not None:
        try:
            return hyperscan.loadb(path.read_bytes(), hyperscan.HS_MODE_BLOCK)
        except (OSError, hyperscan.error):
            pass  # not cached yet, or by another Hyperscan: compile afresh
    database = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
    database.compile(expressions=expressions, ids=list(range(len(kept))),
                     elements=len(kept), flags=flags)
    if path is not None:
        _store(path, hyperscan.dumpb(database))
    return database


def _cache_path(expressions: list[bytes], flags: list[int]) -> Path | None:
    """Where the compiled database of these expressions is kept between runs (compiling
    takes a fifth of a second; loading it, a millisecond). None without a cache directory."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    if not os.path.isabs(base):
        return None
    key = hashlib.sha256(repr((
        getattr(hyperscan, "__version__", ""), platform.machine(), expressions, flags,
    )).encode()).hexdigest()[:32]
    return Path(base, "opsd", f"hyperscan-{key}.db")


def _store(path: Path, serialized: bytes) -> None:
    """Write atomically, private to the user; a read-only home only costs the next compile."""
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".hyperscan-")
        with os.fdopen(fd, "wb") as fh:
            fh.write(serialized)
        os.replace(temporary, path)
        for stale in path.parent.glob("hyperscan-*.db"):  # other rules' databases
            if stale != path:
                stale.unlink(missing_ok=True)
    except OSError as exc:
        log.debug("secret scan: the compiled rules are not cached (%s)", exc)
