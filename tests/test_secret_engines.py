"""The one-pass Hyperscan engine finds exactly what the anchor searches find.

A property test over random buffers mixing real-shaped secrets of every rule, near misses
(cut, extended, re-cased, glued to words), anchors without a secret and noise; the same over
the corpora the repository holds (the planted-secret corpus, third-party samples, source).
"""

from __future__ import annotations

import base64
import random
import sysconfig
from pathlib import Path

import pytest

pytest.importorskip("hyperscan")

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.secret_corpus import SAMPLES, decoys, generate
from opsd.secretscan import scanner
from opsd.secretscan.hyperscan_engine import Engine, MatcherSpec, relax, width
from opsd.secretscan.rules import RULES

REPO = Path(__file__).resolve().parent.parent
ANCHOR_BITS = (
    "ntn_", "secret_", "SECRET_", "AKIA", "ghp_", "github_pat_", "glpat-", "xoxb-", "xoxp-1-",
    "://", "://u:", "@h", "hooks.slack.com/services/", "sk_live_", "AIza", "SG.", "SK", "sk-",
    "sk-ant-", "-----BEGIN RSA PRIVATE KEY-----", "-----END", "eyJ", "ey", "J", ".", "Bearer ",
    "bearer\t", "password", "Passwd", "secrets", "token", "TOKENS", "api_key", "apikey",
    "access-key", "=", ":", ":=", "=>", "==", '"', "'", "`", "\\", "\\n", "%3D", "opsd:allow",
)
NOISE = st.binary(max_size=40) | st.text(
    alphabet="abcxyzABCXYZ0123456789_-./:=@ \t\n\r\x0b\x0c\x1c\"'`\\{}()<>,;&*#$%é", max_size=60,
).map(str.encode)


def _secret(seed: int, rule: str) -> str:
    return SAMPLES[rule](random.Random(seed))[0]


def _near_miss(seed: int, rule: str, how: int) -> str:
    text = _secret(seed, rule)
    cut = len(text) // 2 + 1
    return (
        text[:-1], text + "Z9", "x" + text, text.swapcase(), text[:cut] + " " + text[cut:],
        text.upper(), text.lower(), text[:cut] + "*" * 4,
    )[how % 8]


def _in_base64(seed: int, rule: str, urlsafe: bool) -> str:
    encode = base64.urlsafe_b64encode if urlsafe else base64.b64encode
    return "=" + encode(f"KEY={_secret(seed, rule)}\n".encode()).decode()


PIECES = st.one_of(
    st.builds(_in_base64, st.integers(0, 10**6), st.sampled_from(sorted(SAMPLES)),
              st.booleans()).map(str.encode),
    st.builds(_secret, st.integers(0, 10**6), st.sampled_from(sorted(SAMPLES))).map(str.encode),
    st.builds(_near_miss, st.integers(0, 10**6), st.sampled_from(sorted(SAMPLES)),
              st.integers(0, 7)).map(str.encode),
    st.sampled_from(ANCHOR_BITS).map(str.encode),
    st.builds(lambda seed: random.Random(seed).choice(decoys(random.Random(seed))),
              st.integers(0, 10**6)).map(str.encode),
    NOISE,
)


def both(data: bytes) -> tuple[list[scanner.Hit], list[scanner.Hit]]:
    return (scanner.scan_bytes(data, engine="python"),
            scanner.scan_bytes(data, engine="hyperscan"))


@settings(max_examples=400, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.lists(PIECES, max_size=30), st.lists(st.sampled_from([b"", b" ", b"\n", b"=", b"\""]),
                                                min_size=30, max_size=30))
def test_both_engines_find_the_same_secrets_in_random_buffers(
    pieces: list[bytes], joints: list[bytes]
) -> None:
    data = b"".join(piece + joint for piece, joint in zip(pieces, joints, strict=False))
    python, fast = both(data)
    assert fast == python


def test_both_engines_agree_on_planted_corpus(tmp_path: Path) -> None:
    planted = generate(tmp_path, 2_000_000, seed=3)
    total = 0
    for path in sorted(tmp_path.rglob("*")):
        if path.is_file():
            python, fast = both(path.read_bytes())
            assert fast == python, path
            total += len(python)
    assert total >= len(planted) * 0.9  # the corpus really exercised the rules


def _files(*roots: Path, limit: int = 3000) -> list[Path]:
    found = [p for root in roots if root.is_dir() for p in sorted(root.rglob("*"))
             if p.is_file() and p.suffix not in {".pyc", ".so"}]
    return found[:limit]


def test_both_engines_agree_on_repository_and_standard_library_files() -> None:
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    roots = [REPO / "tests", REPO / "bench", REPO / "opsd", stdlib / "email", stdlib / "http",
             stdlib / "urllib", stdlib / "test" / "certdata", stdlib / "test" / "test_email"]
    files = _files(*roots)
    assert len(files) > 100
    hits = 0
    for path in files:
        data = path.read_bytes()[:5_000_000]
        python, fast = both(data)
        assert fast == python, path
        hits += len(python)
    assert hits > 0


def test_every_rule_matcher_relaxes_to_a_prefix_of_its_matches() -> None:
    """The relaxed expression matches the start of each sample the real pattern matches."""
    import re

    for rule in RULES:
        sample = SAMPLES.get(rule.id)
        if sample is None:
            continue
        text = sample(random.Random(5))[0].encode()
        for matcher in rule.matchers:
            bare = re.escape(matcher.anchor) + matcher.bare_rest
            flags = re.IGNORECASE if matcher.folded else 0
            found = re.compile(bare.encode(), flags).search(text)
            if found is None:
                continue
            relaxed = re.compile(relax(bare).encode(), flags).match(text, found.start())
            assert relaxed is not None, (rule.id, relax(bare))
            assert relaxed.end() <= found.end()
            assert relaxed.end() - found.start() <= width(relax(bare))


def test_a_pattern_hyperscan_cannot_take_leaves_its_group_to_python() -> None:
    engine = Engine([
        MatcherSpec(0, "ab", r"ab(?P<x>c)(?P=x)", folded=False),  # a back-reference
        MatcherSpec(1, "zz", r"zz[0-9]{4}", folded=False),
    ])
    assert engine.python_only == {0}
    assert engine.ends(b"abcc zz1234") == {1: [11]}


def test_environment_forces_the_python_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[bytes] = []
    real = scanner._hyperscan()
    assert real is not None

    class Spy:
        python_only = real.python_only
        groups = real.groups

        def ends(self, data: bytes) -> dict[int, list[int]]:
            seen.append(data)
            return real.ends(data)

    monkeypatch.setattr(scanner, "_hyperscan", lambda: Spy())
    token = _secret(1, "github-token").encode()
    monkeypatch.setenv(scanner.ENGINE_VARIABLE, "python")
    assert [h.rule for h in scanner.scan_bytes(token)] == ["github-token"]
    assert seen == []
    monkeypatch.delenv(scanner.ENGINE_VARIABLE)
    assert [h.rule for h in scanner.scan_bytes(token)] == ["github-token"]
    assert seen == [token]
