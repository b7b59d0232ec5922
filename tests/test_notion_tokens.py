"""Exact token shapes from one definition (`opsd.notion.tokens`): `ntn_` + 11 digits + 35
letters or digits, legacy `secret_` + 43 — held by `notion.token_format`, the secret scanner
and the sandbox's own token alike, with a reason for every near miss.

Tokens are built at run time from random pieces: this file holds none a scanner could flag.
"""

from __future__ import annotations

import random
import string

import pytest

from bench.secret_corpus import ALNUM, notion_legacy_token, notion_token, pick
from opsd.checks.notion import token_shape as check_token_shape
from opsd.config import Settings
from opsd.notion.tokens import LEGACY, NTN, near_miss, token_shape
from opsd.redact import redact_secret
from opsd.results import Status
from opsd.sandbox import SANDBOX_TOKEN
from opsd.secretscan import scan_bytes
from opsd.secretscan.rules import RULES_BY_ID
from opsd.store import Store
from tests.test_notion_history import run_entry

R = random.Random(42)
NTN_TOKEN = notion_token(R)
LEGACY_TOKEN = notion_legacy_token(R)
LETTERS = string.ascii_letters


def near_misses() -> dict[str, tuple[str, str]]:
    """name -> (token, the reason near_miss gives)."""
    return {
        "ntn truncated": (NTN_TOKEN[:-1], "ntn_ token has 49 characters, expected 50"),
        "ntn padded": (NTN_TOKEN + pick(R, ALNUM, 1), "ntn_ token has 51 characters, expected 50"),
        "ntn digit-less": ("ntn_" + pick(R, LETTERS, 46),
                           "ntn_ token does not start with 11 digits after ntn_"),
        "ntn 10 digits": ("ntn_" + pick(R, string.digits, 10) + pick(R, LETTERS, 36),
                          "ntn_ token does not start with 11 digits after ntn_"),
        "ntn with a dash": (NTN_TOKEN[:20] + "-" + NTN_TOKEN[21:],
                            "ntn_ token has characters other than letters and digits after ntn_"),
        "legacy 42": (LEGACY_TOKEN[:-1], "secret_ token has 49 characters, expected 50"),
        "legacy 44": (LEGACY_TOKEN + "x", "secret_ token has 51 characters, expected 50"),
    }


def test_the_shapes_are_exact() -> None:
    assert (len(NTN_TOKEN), len(LEGACY_TOKEN)) == (NTN.length, LEGACY.length) == (50, 50)
    assert token_shape(NTN_TOKEN) == "ntn" and token_shape(LEGACY_TOKEN) == "secret"
    assert check_token_shape is token_shape  # the check's name is the one definition
    assert near_miss(NTN_TOKEN) is None and near_miss(LEGACY_TOKEN) is None
    assert near_miss("bearer-" + pick(R, ALNUM, 40)) is None  # no known prefix: no guess


@pytest.mark.parametrize("name", sorted(near_misses()))
def test_near_misses_have_no_shape_and_a_reason(name: str) -> None:
    token, reason = near_misses()[name]
    assert token_shape(token) is None
    assert near_miss(token) == reason


@pytest.mark.parametrize("name", sorted(near_misses()))
def test_token_format_warns_on_a_near_miss_with_its_reason(name: str) -> None:
    token, reason = near_misses()[name]
    [result] = run_entry({"kind": "notion.token_format"}, Store.memory(),
                         Settings(notion={"token": token}))
    assert result.status is Status.WARNING
    assert result.summary == f"token {redact_secret(token)} has an unfamiliar shape ({reason})"
    assert result.details["problem"] == reason and token not in repr(result)


@pytest.mark.parametrize(("token", "label"), [
    (NTN_TOKEN, "the ntn_ format"), (LEGACY_TOKEN, "the legacy secret_ format"),
    (SANDBOX_TOKEN, "the ntn_ format"),
])
def test_token_format_accepts_the_exact_shapes(token: str, label: str) -> None:
    [result] = run_entry({"kind": "notion.token_format"}, Store.memory(),
                         Settings(notion={"token": token}))
    assert result.status is Status.OK
    assert result.summary == f"token {redact_secret(token)} has {label}"


def test_the_scanner_uses_the_same_definition() -> None:
    [ntn] = RULES_BY_ID["notion-token"].matchers
    [legacy] = RULES_BY_ID["notion-token-legacy"].matchers
    assert ntn.anchor == NTN.prefix and ntn.rest.startswith(NTN.body)
    assert legacy.lead + legacy.anchor + "_" == LEGACY.prefix
    assert legacy.rest.startswith("_" + LEGACY.body)


def test_the_scanner_finds_exact_shapes_and_no_near_miss() -> None:
    text = f"a={NTN_TOKEN}\nb={LEGACY_TOKEN}\n" + "".join(
        f"{name.replace(' ', '_')}={token}\n" for name, (token, _) in near_misses().items())
    found = [(h.rule, h.secret, h.line) for h in scan_bytes(text.encode())
             if h.rule.startswith("notion")]
    assert found == [("notion-token", NTN_TOKEN, 1), ("notion-token-legacy", LEGACY_TOKEN, 2)]


def test_the_sandbox_token_has_the_real_shape_and_is_found() -> None:
    assert token_shape(SANDBOX_TOKEN) == "ntn" and "Fake" in SANDBOX_TOKEN
    assert [h.rule for h in scan_bytes(f"NOTION_TOKEN={SANDBOX_TOKEN}\n".encode())] == [
        "notion-token"]


def test_the_benchmark_corpus_builds_exact_shapes() -> None:
    r = random.Random(7)
    assert {token_shape(notion_token(r)) for _ in range(50)} == {"ntn"}
    assert {token_shape(notion_legacy_token(r)) for _ in range(50)} == {"secret"}
