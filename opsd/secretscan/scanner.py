"""Matching: the rules over one file's bytes -> hits (rule, secret, line, column). Pure.

Speed: the file is searched once per distinct anchor (see `rules`), each search a literal-
prefixed regex that runs at memory speed and lets only real candidates out of C; Python then
judges those few (boundary, entropy, placeholders, hashes, code) and turns positions into line
and column. Measured (bench/secret_scan.py): a keyword prefilter with `in` costs a pass of its
own, as much as the anchored search it would guard, so there is none.

With Hyperscan installed, one pass over the file finds where any matcher can end
(`hyperscan_engine`) and the anchor searches run only at those places, emulating exactly what
they would have matched over the whole file: the same hits, one pass instead of one per anchor.
"""

from __future__ import annotations

import bisect
import math
import os
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Literal

from opsd.secretscan import base64values
from opsd.secretscan.notsecret import not_a_secret, weak_password_counts
from opsd.secretscan.rules import RULES, Matcher, Rule

if TYPE_CHECKING:
    from opsd.secretscan.hyperscan_engine import Engine as HyperscanEngine
    from opsd.secretscan.hyperscan_engine import GroupSearch

EngineChoice = Literal["hyperscan", "python"]
ENGINE_VARIABLE = "OPSD_SCAN_ENGINE"  # `python` forces the anchor searches (tests, debugging)

ALLOW_MARKER = b"opsd:allow"
_ALNUM = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
_HEX = frozenset(b"0123456789abcdefABCDEF")
_KEY_CHARACTERS = _ALNUM | frozenset(b"_-.")

# Generic rules only: a value naming what it stands for is an example, not a secret.
_GENERIC_WORDS = (
    "pass", "pwd", "secret", "token", "apikey", "api_key", "test", "user", "auth", "credential",
)
# Parts of a key name that say its value is not a credential (`token_url`, `password_hash`).
_NOT_SECRET_KEY_PARTS = frozenset({
    "url", "uri", "file", "path", "type", "name", "len", "length", "count", "expiry",
    "expires", "expiration", "ttl", "hash", "hashed", "header", "field", "prompt", "policy",
    "endpoint", "dir", "timeout", "format", "label", "pattern", "regex", "size", "version",
    "id", "ids", "env", "var", "limit", "min", "max", "reset", "validity", "lifetime",
    "prefix", "suffix", "separator", "delimiter", "duration", "string", "style", "class",
    "model", "kind", "hint", "revoked", "at", "location", "placement", "rules",
})
# How a key name may end before the keyword when its value is a pagination cursor, a parser
# token or a request nonce (`nextPageToken`, `current_token`, `csrf_token`).
_NOT_SECRET_KEY_PREFIXES = (
    "page", "next", "continuation", "pagination", "sync", "cursor", "marker", "csrf", "xsrf",
    "max", "num", "min", "output", "input", "update", "idempotency", "current", "offending",
    "last", "first", "prev", "previous", "start", "end", "parse", "backward", "forward",
    "sequence", "change", "o",  # `oauth_signature`: OAuth 1 protocol parameters
    "public",  # `publicToken`, `public_key`: meant to be seen
)
_GENERIC_WORD = re.compile("|".join(_GENERIC_WORDS).encode())
# No digit, only letters and `_ . / - : # *`: a name, type, path, glob or phrase.
_WORDS = re.compile(rb"[A-Za-z_./:#*\-]+")
_WORD_JOINERS = re.compile(rb"[A-Za-z][./:][A-Za-z]")
_RULE_ORDER = {rule.id: index for index, rule in enumerate(RULES)}
_UUID = re.compile(rb"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_KEY_SEPARATORS = re.compile(r"[_.\-]")
_WHITESPACE = re.compile(rb"\s+|\\[nr]")


@dataclass(frozen=True)
class Hit:
    """A secret found in a file's bytes (1-based line and character column)."""

    rule: str
    secret: str
    line: int
    column: int
    note: str = ""  # where it was found when not in plain text ("in a base64 value")


@dataclass(frozen=True)
class _Candidate:
    rule: Rule
    start: int  # the secret's span, for overlaps
    end: int
    position: int  # where the finding is reported (a PEM key: its BEGIN line)
    secret: bytes


@dataclass(frozen=True)
class _AnchorGroup:
    """One search per file: an anchor and every matcher that starts from it."""

    search: re.Pattern[bytes]
    folded: bool
    matchers: tuple[tuple[Rule, re.Pattern[bytes], int], ...]  # rule, full pattern, lead
    members: tuple[tuple[str, Matcher], ...] = ()  # anchor and matcher, for the one-pass engine


@cache
def _anchor_groups() -> tuple[_AnchorGroup, ...]:
    """The rules' matchers grouped by anchor, compiled once."""
    grouped: dict[tuple[str, bool], list[tuple[Rule, Matcher]]] = {}
    for rule in RULES:
        for matcher in rule.matchers:
            grouped.setdefault((matcher.anchor, matcher.folded), []).append((rule, matcher))
    return tuple(
        _AnchorGroup(
            search=_search_pattern(anchor, [m for _, m in members]),
            folded=folded,
            matchers=tuple(
                (rule, re.compile(m.pattern.encode()), m.offset) for rule, m in members
            ),
            members=tuple((anchor, m) for _, m in members),
        )
        for (anchor, folded), members in grouped.items()
    )


def _search_pattern(anchor: str, matchers: list[Matcher]) -> re.Pattern[bytes]:
    """`anchor(?:rest1|rest2)`: starts with a literal (fast search), rejects non-candidates in C."""
    rests = "|".join(dict.fromkeys(m.bare_rest for m in matchers))
    return re.compile(f"{re.escape(anchor)}(?:{rests})".encode())


def scan_bytes(
    data: bytes, *, max_line_length: int = 16384, engine: EngineChoice | None = None,
    decode_base64: bool = True,
) -> list[Hit]:
    """Every secret in `data`, in file order; specific rules win over generic ones.

    `engine`: "hyperscan" (one pass for all rules, when the wheel is installed), "python"
    (the anchor searches) or None: Hyperscan when importable, unless the environment says
    `OPSD_SCAN_ENGINE=python`. Both find the same secrets. `decode_base64`: also scan inside
    base64 values (`base64values`), once.
    """
    texts = _Texts(data)
    candidates: list[_Candidate] = []
    groups = _anchor_groups()
    fast = _hyperscan() if _wants_hyperscan(engine) else None
    ends = fast.ends(data) if fast is not None else {}
    searched: Iterable[int] = range(len(groups)) if fast is None else sorted(
        {*_left_to_python(), *(index for index in ends if index < len(groups))})
    for index in searched:
        group = groups[index]
        text = texts.lowered if group.folded else data
        if fast is None or index not in fast.groups:
            found: Iterable[re.Match[bytes]] = group.search.finditer(text)
        elif index in ends:
            found = _found_at(group.search, text, _anchor_positions(
                text, fast.groups[index], ends[index]))
        else:
            continue
        for match in found:
            anchor_at = match.start()
            for rule, pattern, lead in group.matchers:
                if anchor_at < lead:
                    continue
                rule_text = texts.lowered if rule.lowercase else data
                full = pattern.match(rule_text, anchor_at - lead)
                candidate = full and _candidate(rule, full, rule_text, data)
                if candidate:
                    candidates.append(candidate)
    hits = list(_locate(data, _resolve_overlaps(candidates), max_line_length))
    if decode_base64:
        values = None
        if fast is not None and len(groups) in fast.groups:  # found in the same pass
            values = _found_at(base64values.VALUE, data, _anchor_positions(
                data, fast.groups[len(groups)], ends.get(len(groups), [])))
        hits += base64values.scan_values(data, lambda decoded: scan_bytes(
            decoded, max_line_length=max_line_length, engine=engine, decode_base64=False,
        ), max_line_length, ALLOW_MARKER, values)
        hits.sort(key=lambda hit: (hit.line, hit.column))
    return hits


class _Texts:
    """The buffer and, computed only if a folded search needs it, its lower-cased copy."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self._lowered: bytes | None = None

    @property
    def lowered(self) -> bytes:
        if self._lowered is None:
            self._lowered = self.data.lower()
        return self._lowered


def _wants_hyperscan(engine: EngineChoice | None) -> bool:
    choice = engine or os.environ.get(ENGINE_VARIABLE, "auto")
    if choice == "hyperscan" and _hyperscan() is None:
        raise RuntimeError("the hyperscan engine is not installed (pip install hyperscan)")
    return choice != "python"


@cache
def _hyperscan() -> HyperscanEngine | None:
    """The one-pass engine over every anchor group, compiled once per process (None when the
    wheel is missing: the anchor searches then do all the work)."""
    try:
        from opsd.secretscan.hyperscan_engine import Engine, MatcherSpec
    except ImportError:
        return None
    groups = _anchor_groups()
    return Engine([
        *(MatcherSpec(index, anchor, re.escape(anchor) + matcher.bare_rest, group.folded)
          for index, group in enumerate(groups)
          for anchor, matcher in group.members),
        # The base64 values, with the index after the groups'.
        MatcherSpec(len(groups), "", base64values.VALUE.pattern.decode("latin-1"), False),
    ])


@cache
def _left_to_python() -> tuple[int, ...]:
    """The anchor groups Hyperscan could not take: searched in full by `re`."""
    fast = _hyperscan()
    groups = range(len(_anchor_groups()))
    return tuple(groups) if fast is None else tuple(i for i in groups if i not in fast.groups)


def _anchor_positions(text: bytes, group: GroupSearch, ends: list[int]) -> Iterator[int]:
    """Where the group's anchor occurs within `group.window` before one of `ends`, each once,
    in order: every place where the anchor search could match (ends are a superset). A search
    without an anchor is tried where its relaxed expression matches before the end."""
    anchor, window = group.anchor, group.window
    searched_to = 0  # places before this were looked at already
    for end in ends:
        position = max(searched_to, end - window)
        last = end - max(len(anchor), group.shortest)
        while group.relaxed is not None and position <= last:
            found = group.relaxed.search(text, position, end)
            if found is None:
                break
            yield found.start()
            position = found.start() + 1
        while anchor and position <= last:
            position = text.find(anchor, position, end)
            if position < 0:
                break
            yield position
            position += 1
        searched_to = max(searched_to, last + 1)


def _found_at(
    search: re.Pattern[bytes], text: bytes, positions: Iterable[int]
) -> Iterator[re.Match[bytes]]:
    """What `search.finditer(text)` yields, trying only `positions` (which hold every place it
    can match): non-overlapping, each search resuming where the previous match ended."""
    resume = 0
    for position in positions:
        if position < resume:
            continue
        match = search.match(text, position)
        if match is not None:
            resume = match.end()
            yield match


def _candidate(
    rule: Rule, match: re.Match[bytes], text: bytes, original: bytes
) -> _Candidate | None:
    """The match as a candidate secret, unless it fails the rule's judgement."""
    if rule.boundary and not _left_boundary(text, match.start()):
        return None
    group = "secret" if "secret" in match.re.groupindex else 0
    start, end = match.span(group)
    secret = original[start:end]
    if rule.multiline:
        secret = _WHITESPACE.sub(b"", secret)
    if not _plausible(rule, secret, match, original):
        return None
    position = match.start() if rule.multiline else start
    return _Candidate(rule, start, end, position, secret)


def _left_boundary(text: bytes, start: int) -> bool:
    """A token must not continue a word, except after an escape (`\\n`) or `%3D`."""
    if start == 0 or text[start - 1] not in _ALNUM:
        return True
    if start >= 2 and text[start - 2] == 0x5C:  # backslash: JSON/C escape such as \n
        return True
    return start >= 3 and text[start - 3] == 0x25 and text[start - 2] in _HEX  # URL-encoded


def _plausible(rule: Rule, secret: bytes, match: re.Match[bytes], original: bytes) -> bool:
    """Does `secret` look like a real secret rather than a placeholder, hash or code?"""
    if not_a_secret(rule, secret, match) or entropy(secret) < rule.entropy:
        return False
    if rule.classes and _alnum_classes(secret) < rule.classes:
        return False
    if not rule.generic:
        return True
    if _GENERIC_WORD.search(secret.lower()) or _looks_like_hash(secret):
        return False
    if rule.weak_ok and weak_password_counts(match):
        return True  # a database URL's or JDBC string's password: `root:root@` leaks too
    if _looks_like_words(secret):
        return False
    if "key" in match.re.groupindex and not _assignment_plausible(match, secret, original):
        return False
    return _character_classes(secret) >= 2 or len(secret) >= 20


def _assignment_plausible(match: re.Match[bytes], secret: bytes, original: bytes) -> bool:
    """`<key> = <value>`: the key names a credential and the value is a literal, not code."""
    key = match.group("key").decode("latin-1")
    if key and key[0] not in "_.-":
        return False  # `tokenizer`, `passage`, `secretary`
    if _NOT_SECRET_KEY_PARTS.intersection(_KEY_SEPARATORS.split(key)):
        return False
    if _key_prefix(match.string, match.start()).endswith(_NOT_SECRET_KEY_PREFIXES):
        return False
    quote = match.group("quote")
    end = match.end("secret")
    if match.group("tag") is not None:  # an XML element: `<password>…</password>`
        return original[end:end + 2] == b"</"
    if match.group("comma") is not None and not _quoted_pair(match, secret):
        return False  # a tuple of strings, not `setProperty("X_TOKEN", "…")`
    if quote is not None:
        return original[end:end + len(quote)] == quote
    return original[end:end + 1] not in (b"(", b")", b"[", b"{", b"<", b">")  # code


def _quoted_pair(match: re.Match[bytes], secret: bytes) -> bool:
    """`("X_TOKEN", "<value>")`: the quoted key is the whole string and the value mixes upper
    and lower case and digits (`("tokens", "symbol2label")` is a tuple of names)."""
    begin = match.start()
    while begin > 0 and match.string[begin - 1] in _KEY_CHARACTERS:
        begin -= 1
    quoted = begin > 0 and match.string[begin - 1] in b"\"'"
    key = match.string[begin:match.start("key")]
    named = b"_" in key or b"." in key  # `X_TOKEN`, `javax.net.ssl.trustStorePassword`
    return quoted and named and _alnum_classes(secret) == 3


def _looks_like_words(value: bytes) -> bool:
    """`ParseResults`, `settings.SECRET_KEY`, `FromEmail/ToEmail`, not a long random value."""
    if _WORDS.fullmatch(value) is None:
        return False
    return bool(_WORD_JOINERS.search(value)) or len(value) < 24 or entropy(value) < 4.0


def _key_prefix(text: bytes, start: int) -> str:
    """The key name before the keyword, without separators (`next_page_token`: `nextpage`)."""
    begin = start
    while begin > 0 and start - begin < 40 and text[begin - 1] in _KEY_CHARACTERS:
        begin -= 1
    return _KEY_SEPARATORS.sub("", text[begin:start].decode("latin-1"))


def _looks_like_hash(value: bytes) -> bool:
    """UUIDs, git object names (40 hex) and `sha512-` integrity strings are not secrets."""
    if _UUID.fullmatch(value):
        return True
    if all(c in _HEX for c in value) and (len(value) < 32 or len(value) == 40):
        return True  # short hex is an ID; 40 hex a git object name
    return value.startswith((b"sha1-", b"sha256-", b"sha384-", b"sha512-"))


def _character_classes(value: bytes) -> int:
    """How many of lower case, upper case, digits and other characters `value` mixes."""
    lower = any(97 <= c <= 122 for c in value)
    upper = any(65 <= c <= 90 for c in value)
    digit = any(48 <= c <= 57 for c in value)
    other = any(c not in _ALNUM for c in value)
    return lower + upper + digit + other


def _alnum_classes(value: bytes) -> int:
    """How many of lower case, upper case and digits `value` mixes."""
    return _character_classes(bytes(c for c in value if c in _ALNUM))


def entropy(value: bytes | str) -> float:
    """Shannon entropy in bits per character (per code point for `str`, as gitleaks)."""
    if not value:
        return 0.0
    total = len(value)
    return -sum(n / total * math.log2(n / total) for n in Counter(value).values())


def _resolve_overlaps(candidates: list[_Candidate]) -> list[_Candidate]:
    """One secret per span: a specific rule beats a generic one, the earlier rule wins ties."""
    ordered = sorted(candidates, key=lambda c: (c.rule.generic, _RULE_ORDER[c.rule.id], c.start))
    starts: list[int] = []  # the kept spans, sorted and disjoint: only neighbours can overlap
    kept: list[_Candidate] = []
    for candidate in ordered:
        index = bisect.bisect(starts, candidate.start)
        if index > 0 and kept[index - 1].end > candidate.start:
            continue
        if index < len(kept) and kept[index].start < candidate.end:
            continue
        starts.insert(index, candidate.start)
        kept.insert(index, candidate)
    return kept


def _locate(data: bytes, candidates: list[_Candidate], max_line_length: int) -> Iterator[Hit]:
    """Line and column of each candidate; drops those on `opsd:allow` or overlong lines."""
    line, counted_to = 1, 0
    for candidate in sorted(candidates, key=lambda c: c.position):
        position = candidate.position
        line += data.count(b"\n", counted_to, position)
        counted_to = position
        line_start = data.rfind(b"\n", 0, position) + 1
        line_end = data.find(b"\n", position)
        line_end = len(data) if line_end < 0 else line_end
        if line_end - line_start > max_line_length:
            continue
        if ALLOW_MARKER in data[line_start:line_end]:
            continue
        column = len(data[line_start:position].decode("utf-8", "replace")) + 1
        yield Hit(candidate.rule.id, candidate.secret.decode("utf-8", "replace"), line, column)
