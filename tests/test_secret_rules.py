"""The matcher (`scan_bytes`): every rule's true positives, near misses, both Notion formats in
every file type, decoys, boundaries, `opsd:allow`, the line cap and stable fingerprints.

Secrets are built at run time from random pieces (bench/secret_corpus.py): this file holds
none that a scanner could flag.
"""

from __future__ import annotations

import json
import random

import pytest

from bench.secret_corpus import (
    ALNUM,
    NOTION_CONTEXTS,
    SAMPLES,
    decoys,
    notion_legacy_token,
    notion_token,
    pem_key,
    pick,
)
from opsd.secretscan import RULES, scan_bytes
from opsd.secretscan.findings import Finding, fingerprint
from opsd.secretscan.scanner import entropy


def rng(seed: int = 1) -> random.Random:
    return random.Random(seed)


def hits(text: str) -> list[tuple[str, str]]:
    return [(h.rule, h.secret) for h in scan_bytes(text.encode())]


def test_every_bench_sample_names_a_rule() -> None:
    # The bench corpus plants these; every rule's own samples are in test_secret_rules_catalog.
    assert set(SAMPLES) <= {rule.id for rule in RULES}


@pytest.mark.parametrize("rule", sorted(SAMPLES))
def test_rule_finds_its_secret_in_a_line_of_text(rule: str) -> None:
    fragment, secret = SAMPLES[rule](rng())
    found = hits(f"2025-01-06 INFO something happened {fragment} and went on\n")
    expected = secret
    if rule == "private-key":  # whitespace is not part of a key's fingerprinted body
        expected = "".join(secret.splitlines()[1:-1])
    assert found == [(rule, expected)]


@pytest.mark.parametrize("rule", sorted(SAMPLES))
def test_rule_finds_every_occurrence_with_its_position(rule: str) -> None:
    r = rng(3)
    first, _ = SAMPLES[rule](r)
    second, _ = SAMPLES[rule](r)
    text = f"header\n  x {first}\n\nend {second}\n"
    located = [(h.rule, h.line) for h in scan_bytes(text.encode())]
    second_line = 4 + first.count("\n")
    assert located == [(rule, 2), (rule, second_line)]


@pytest.mark.parametrize("context", sorted(NOTION_CONTEXTS))
@pytest.mark.parametrize("make", [notion_token, notion_legacy_token], ids=["ntn", "legacy"])
def test_both_notion_formats_in_every_file_type(context: str, make) -> None:
    token = make(rng())
    rule = "notion-token" if token.startswith("ntn_") else "notion-token-legacy"
    assert hits(NOTION_CONTEXTS[context].format(token) + "\n") == [(rule, token)]


def test_specific_rule_wins_over_generic_assignment() -> None:
    token = notion_token(rng())
    assert hits(f'NOTION_API_KEY="{token}"\nAuthorization: Bearer {token}\n') == [
        ("notion-token", token), ("notion-token", token)
    ]


def _near_misses() -> list[tuple[str, str]]:
    r = rng(5)
    ntn, legacy = notion_token(r), notion_legacy_token(r)
    return [
        ("short ntn", ntn[:30]),
        ("ntn continuing a word", "x" + ntn),
        ("ntn followed by more", ntn + pick(r, ALNUM, 12)),
        ("ntn placeholder", "ntn_" + "x" * 46),
        ("ntn low entropy", "ntn_" + "a1B2" * 11 + "a1"),
        ("ntn template", "NOTION_TOKEN=ntn_your_token_here_from_notion_integrations_page"),
        ("legacy too short", legacy[:40]),
        ("legacy underscores", "secret_key_base_for_the_rails_application_in_production_mode"),
        ("legacy sequence", "secret_abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ"),
        ("aws documentation key", "AKIA" + "IOSFODNN7" + "EXAMPLE"),
        ("aws lower case", "akia" + pick(r, "abcdefghijklmnopqrstuvwxyz234567", 16)),
        ("github short", "ghp_" + pick(r, ALNUM, 20)),
        ("gitlab short", "glpat-" + pick(r, ALNUM, 10)),
        ("stripe task key", "task_test_" + pick(r, ALNUM, 32)),
        ("slack webhook placeholder", "https://hooks.slack.com/services/T000/B000/XXXXXXXX"),
        ("sendgrid one part", "SG." + pick(r, ALNUM, 22)),
        ("twilio upper hex", "SK" + pick(r, "0123456789ABCDEF", 32)),
        ("openai without marker", "sk-" + pick(r, ALNUM, 48)),
        ("jwt header only", "eyJhbGciOiJIUzI1NiJ9"),
        ("private key placeholder", "-----BEGIN PRIVATE KEY-----\n...\n-----END PRIVATE KEY-----"),
        ("public key", "-----BEGIN PUBLIC KEY-----\n" + pick(r, ALNUM, 64) + "\n-----END"),
        ("url without password", "https://user@example.com/path and https://example.com:8443/x"),
        ("url template password", "postgres://app:${DB_PASSWORD}@db:5432/app"),
        ("url placeholder password", "https://user:password@example.com/"),
        ("bearer template", "Authorization: Bearer ${NOTION_TOKEN}"),
        ("bearer short", "Authorization: Bearer abc123"),
        ("generic env reference", 'password = os.environ["DB_PASSWORD"]'),
        ("generic call", "token = get_token(session)"),
        ("generic attribute", "api_key = settings.NOTION_API_KEY"),
        ("generic type annotation", "tokens: ParseResults"),
        ("generic placeholder", 'api_key: "<your-api-key>"'),
        ("generic changeme", "password: changeme"),
        ("generic masked", "password=********"),
        ("generic template", "password: ${DB_PASSWORD}"),
        ("generic comparison", 'if password == "hunter2hunter2":'),
        ("generic url key", 'token_url = "https://example.com/oauth/t0ken"'),
        ("generic cursor", f'next_page_token = "{pick(r, ALNUM, 32)}"'),
        ("generic camel cursor", f'"nextPageToken": "{pick(r, ALNUM, 32)}"'),
        ("generic short hex id", '"ApiKey": "48205d4ffd7feba3"'),
        ("generic git hash", f'token = "{pick(r, "0123456789abcdef", 40)}"'),
        ("generic uuid", 'secret = "123e4567-e89b-42d3-a456-426614174000"'),
        ("generic integrity", 'token: "sha512-' + pick(r, ALNUM, 40) + '"'),
        ("generic tokenizer", f'tokenizer = "{pick(r, ALNUM, 20)}"'),
        ("generic dotted name", '"output_token": "InvalidationList.NextMarker"'),
    ]


@pytest.mark.parametrize(("label", "text"), _near_misses(), ids=[m[0] for m in _near_misses()])
def test_near_miss_is_not_a_finding(label: str, text: str) -> None:
    assert hits(text + "\n") == []


def test_decoys_are_not_findings() -> None:
    r = rng(9)
    text = "\n".join(line for _ in range(20) for line in decoys(r)) + "\n"
    assert hits(text) == []


def test_left_boundary_allows_escapes_and_url_encoding() -> None:
    token = notion_token(rng())
    assert hits(f'"line one\\n{token}"\n') == [("notion-token", token)]
    assert hits(f"callback?state=1%3D{token}\n") == [("notion-token", token)]


def test_allow_marker_suppresses_that_line_only() -> None:
    r = rng()
    first, second = notion_token(r), notion_token(r)
    text = f"TOKEN={first}  # opsd:allow test fixture\nTOKEN={second}\n"
    assert hits(text) == [("notion-token", second)]


def test_lines_longer_than_the_cap_are_ignored() -> None:
    token = notion_token(rng())
    minified = "var a=1;" * 3000 + f"t='{token}'"
    found = scan_bytes(f"{minified}\nTOKEN={token}\n".encode(), max_line_length=16384)
    assert [(h.rule, h.line) for h in found] == [("notion-token", 2)]


def test_column_counts_characters_not_bytes() -> None:
    token = notion_token(rng())
    (hit,) = scan_bytes(f"é€ {token}\n".encode())
    assert (hit.line, hit.column) == (1, 4)


def test_fingerprint_is_stable_when_lines_move() -> None:
    token = notion_token(rng())
    before = scan_bytes(f"TOKEN={token}\n".encode())
    after = scan_bytes(f"# new header\n\n    token: {token}\n".encode())
    assert before[0].line != after[0].line
    assert fingerprint(before[0].rule, before[0].secret) == fingerprint(
        after[0].rule, after[0].secret
    )


def test_fingerprint_differs_by_rule_and_secret() -> None:
    assert fingerprint("notion-token", "a") != fingerprint("notion-token-legacy", "a")
    assert fingerprint("notion-token", "a") != fingerprint("notion-token", "b")


def test_pem_key_escaped_in_json_has_the_same_fingerprint() -> None:
    key = pem_key(rng())
    escaped = json.dumps({"private_key": key})
    (plain,) = scan_bytes(key.encode())
    (in_json,) = scan_bytes(escaped.encode())
    assert plain.rule == in_json.rule == "private-key"
    assert fingerprint(plain.rule, plain.secret) == fingerprint(in_json.rule, in_json.secret)


def test_finding_shows_only_a_redacted_preview() -> None:
    token = notion_token(rng())
    finding = Finding.of("notion-token", token, "app.log", 1, 1)
    shown = json.dumps(finding.to_dict()) + repr(finding) + json.dumps(finding.cached())
    assert token not in shown
    assert finding.preview == "ntn_…" + token[-4:]


def test_entropy() -> None:
    assert entropy(b"aaaaaaaa") == 0.0
    assert entropy(b"abcd") == pytest.approx(2.0)
    assert entropy(b"") == 0.0


@pytest.mark.parametrize("rule", ["generic-secret", "url-password", "bearer-token"])
def test_prefixless_secrets_show_no_head(rule: str) -> None:
    secret = "Qx" + pick(rng(4), ALNUM, 6) + "_" + pick(rng(5), ALNUM, 20)
    preview = Finding.of(rule, secret, "a.env", 1, 1).preview
    assert preview.startswith("…")
    assert secret[:4] not in preview
