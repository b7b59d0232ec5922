"""Every rule, table-driven: a true sample of its published shape and a near miss; the
not-secrets (placeholders, masks, crypt hashes, Maven coordinates, URL templates); the
generic rule's other syntaxes; secrets found by their shape or context when the variable name
does not say "secret"; secrets inside base64 values.

Shapes follow each rule's source (gitleaks' rule files, cited in `opsd/secretscan/rules/`).
Every value is assembled at run time from random pieces: this file holds no secret.
"""

from __future__ import annotations

import base64
import random
import string
from collections.abc import Callable
from pathlib import Path

import pytest

from bench.secret_corpus import (
    ALNUM,
    SAMPLES,
    UPPER_DIGITS,
    Sample,
    notion_legacy_token,
    notion_token,
    password,
    pick,
)
from bench.secret_corpus import _in as inside
from bench.secret_corpus import _same as same
from opsd.secretscan import RULES, ScanOptions, scan_bytes
from opsd.secretscan.base64values import MAX_DECODED, NOTE
from opsd.secretscan.engine import scan_paths

HEX = "0123456789abcdef"
URLSAFE = ALNUM + "_-"
B64 = ALNUM + "+/"
LETTERS = string.ascii_letters
BECH32 = "QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L"

Make = Sample  # -> (text, the secret it holds)
Miss = Callable[[random.Random], str]


def rng(seed: int = 1) -> random.Random:
    return random.Random(seed)


def hits(text: str) -> list[tuple[str, str]]:
    return [(h.rule, h.secret) for h in scan_bytes(text.encode())]


def mixed(r: random.Random, alphabet: str, n: int) -> str:
    """`n` characters of `alphabet` with at least one upper, one lower case and one digit."""
    return pick(r, alphabet, n - 3) + pick(r, string.ascii_uppercase, 1) + pick(
        r, string.ascii_lowercase, 1) + pick(r, string.digits, 1)


def _uuid(r: random.Random) -> str:
    return "-".join(pick(r, HEX, n) for n in (8, 4, 4, 4, 12))


def _gitlab(prefix: str, body: Callable[[random.Random], str]) -> tuple[Make, Miss]:
    return same(lambda r: prefix + body(r)), lambda r: prefix + pick(r, ALNUM, 10)


def _prefixed(prefix: str, alphabet: str, n: int, short: int) -> tuple[Make, Miss]:
    return same(lambda r: prefix + pick(r, alphabet, n)), lambda r: prefix + pick(
        r, alphabet, short)


def _bench(rule: str) -> Make:
    def sample(r: random.Random) -> tuple[str, str]:
        text, secret = SAMPLES[rule](r)
        if rule == "private-key":  # whitespace is not part of a key's fingerprinted body
            secret = "".join(secret.splitlines()[1:-1])
        return text, secret
    return sample


def _discord_bot(r: random.Random) -> str:
    return "M" + pick(r, ALNUM, 25) + "." + pick(r, ALNUM, 6) + "." + pick(r, ALNUM, 38)


CATALOG: dict[str, tuple[Make, Miss]] = {
    # notion
    "notion-token": (same(notion_token), lambda r: notion_token(r)[:30]),
    "notion-token-legacy": (same(notion_legacy_token), lambda r: notion_legacy_token(r)[:40]),
    # cloud
    "aws-access-key-id": _prefixed("AKIA", "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16, 12),
    "aws-secret-access-key": (
        inside('AWS_KEY = "{}"', lambda r: mixed(r, B64, 40)),
        lambda r: f'aws_path = "{pick(r, string.ascii_lowercase + "/", 40)}"',
    ),
    "aws-bedrock-api-key": _prefixed("ABSK", B64, 120, 60),
    "google-api-key": _prefixed("AIza", URLSAFE, 35, 30),
    "google-oauth-client-secret": (
        inside('client = "{}"', lambda r: "GOCSPX-" + pick(r, URLSAFE, 28)),
        lambda r: "GOCSPX-" + pick(r, ALNUM, 20),
    ),
    "google-oauth-access-token": _prefixed("ya29.", URLSAFE, 120, 10),
    "azure-storage-account-key": (
        inside("DefaultEndpointsProtocol=https;AccountName=app;AccountKey={};"
               "EndpointSuffix=core.windows.net", lambda r: pick(r, B64, 86) + "=="),
        lambda r: "AccountKey=" + pick(r, B64, 40) + "==;",
    ),
    "azure-ad-client-secret": (
        inside('CLIENT_VALUE = "{}"', lambda r: pick(r, ALNUM, 3) + pick(r, string.digits, 1)
               + "Q~" + pick(r, ALNUM + "_~", 34)),
        lambda r: pick(r, ALNUM, 3) + "7Q~" + pick(r, ALNUM, 20),
    ),
    "digitalocean-token": _prefixed("dop_v1_", HEX, 64, 32),
    "heroku-api-key": _prefixed("HRKU-AA", URLSAFE, 58, 40),
    "heroku-api-key-legacy": (
        inside('HEROKU_API_KEY = "{}"', _uuid), lambda r: f'build_id = "{_uuid(r)}"',
    ),
    "alibaba-access-key-id": _prefixed("LTAI", ALNUM, 20, 12),
    # version control
    "github-token": (_bench("github-token"), lambda r: "ghp_" + pick(r, ALNUM, 20)),
    "gitlab-token": _gitlab("glpat-", lambda r: pick(r, URLSAFE, 20)),
    "gitlab-runner-token": _gitlab("glrt-", lambda r: pick(r, URLSAFE, 20)),
    "gitlab-deploy-token": _gitlab("gldt-", lambda r: pick(r, URLSAFE, 20)),
    "gitlab-pipeline-trigger-token": _gitlab("glptt-", lambda r: pick(r, HEX, 40)),
    "gitlab-cicd-job-token": (
        same(lambda r: "glcbt-" + pick(r, ALNUM, 2) + "_" + pick(r, URLSAFE, 20)),
        lambda r: "glcbt-" + pick(r, ALNUM, 20),
    ),
    "gitlab-feed-token": _gitlab("glft-", lambda r: pick(r, URLSAFE, 20)),
    "gitlab-incoming-mail-token": _gitlab("glimt-", lambda r: pick(r, URLSAFE, 25)),
    "gitlab-kubernetes-agent-token": _gitlab("glagent-", lambda r: pick(r, URLSAFE, 50)),
    "gitlab-oauth-app-secret": _gitlab("gloas-", lambda r: pick(r, URLSAFE, 64)),
    "gitlab-scim-token": _gitlab("glsoat-", lambda r: pick(r, URLSAFE, 20)),
    "gitlab-feature-flag-client-token": _gitlab("glffct-", lambda r: pick(r, URLSAFE, 20)),
    "gitlab-runner-registration-token": _gitlab("GR1348941", lambda r: pick(r, URLSAFE, 20)),
    "gitlab-session-cookie": (
        inside("Cookie: _gitlab_session={}; path=/",
               lambda r: pick(r, string.digits + string.ascii_lowercase, 32)),
        lambda r: "_gitlab_session=" + pick(r, HEX, 16),
    ),
    # chat
    "slack-token": (_bench("slack-token"), lambda r: "xoxb-" + pick(r, ALNUM, 24)),
    "slack-webhook": (
        _bench("slack-webhook"), lambda r: "https://hooks.slack.com/services/T000/B000/XXXXXXXX",
    ),
    "slack-app-token": (
        same(lambda r: "xapp-1-A" + pick(r, UPPER_DIGITS, 10) + "-" + pick(r, string.digits, 13)
             + "-" + pick(r, HEX, 64)),
        lambda r: "xapp-1-" + pick(r, ALNUM, 10),
    ),
    "slack-workflow-webhook": (
        inside("https://hooks.slack.com/workflows/{}", lambda r: "T" + pick(r, UPPER_DIGITS, 10)
               + "/A" + pick(r, UPPER_DIGITS, 10) + "/" + pick(r, string.digits, 18) + "/"
               + pick(r, ALNUM, 32)),
        lambda r: "https://hooks.slack.com/triggers/T000/" + pick(r, ALNUM, 8),
    ),
    "discord-bot-token": (
        inside('DISCORD_BOT = "{}"', _discord_bot), lambda r: f'VALUE = "{_discord_bot(r)}"',
    ),
    "discord-webhook": (
        inside("https://discord.com/api/webhooks/" + "1" * 3 + "4567890123456789/{}",
               lambda r: pick(r, URLSAFE, 68)),
        lambda r: "https://discord.com/api/webhooks/123/" + pick(r, ALNUM, 20),
    ),
    "twilio-api-key": (
        _bench("twilio-api-key"), lambda r: "SK" + pick(r, "0123456789ABCDEF", 32),
    ),
    "twilio-auth-token": (
        lambda r: (lambda sid, token: (f'client = Client("AC{sid}", "{token}")', token))(
            pick(r, HEX, 32), pick(r, HEX, 32)),
        lambda r: f'client = Client("AC{pick(r, HEX, 32)}", "{pick(r, HEX, 16)}")',
    ),
    # payments
    "stripe-live-key": (_bench("stripe-live-key"), lambda r: "sk_live_" + pick(r, ALNUM, 10)),
    "stripe-test-key": (
        same(lambda r: r.choice(("sk", "rk")) + "_test_" + pick(r, ALNUM, 32)),
        lambda r: "task_test_" + pick(r, ALNUM, 32),
    ),
    "stripe-webhook-secret": _prefixed("whsec_", ALNUM, 32, 10),
    # ai
    "openai-api-key": (_bench("openai-api-key"), lambda r: "sk-" + pick(r, ALNUM, 48)),
    "anthropic-api-key": (
        _bench("anthropic-api-key"), lambda r: "sk-ant-api03-" + pick(r, ALNUM, 20),
    ),
    "huggingface-token": _prefixed("hf_", LETTERS, 34, 20),
    "groq-api-key": _prefixed("gsk_", ALNUM, 52, 30),
    "perplexity-api-key": _prefixed("pplx-", ALNUM, 48, 20),
    "xai-api-key": _prefixed("xai-", ALNUM, 80, 40),
    # packages
    "npm-token": _prefixed("npm_", ALNUM, 36, 20),
    "pypi-token": (
        same(lambda r: "pypi-AgEIcHlwaS5vcmc" + pick(r, URLSAFE, 70)),
        lambda r: "pypi-" + pick(r, ALNUM, 70),
    ),
    "npmrc-auth-token": (
        inside("//registry.npmjs.org/:_authToken={}", _uuid),
        lambda r: "//registry.npmjs.org/:_authToken=${NPM_TOKEN}",
    ),
    "rubygems-api-key": _prefixed("rubygems_", HEX, 48, 20),
    "dockerhub-token": _prefixed("dckr_pat_", URLSAFE, 27, 15),
    # mail
    "sendgrid-api-key": (_bench("sendgrid-api-key"), lambda r: "SG." + pick(r, ALNUM, 22)),
    "mailgun-api-key": (
        inside('MAILGUN_API_KEY = "{}"', lambda r: "key-" + pick(r, HEX, 32)),
        lambda r: f'cache_entry = "key-{pick(r, HEX, 32)}"',
    ),
    "mailchimp-api-key": (
        same(lambda r: pick(r, HEX, 32) + "-us6"), lambda r: pick(r, HEX, 20) + "-us6",
    ),
    "brevo-api-key": (
        same(lambda r: "xkeysib-" + pick(r, HEX, 64) + "-" + pick(r, ALNUM, 16)),
        lambda r: "xkeysib-" + pick(r, HEX, 20),
    ),
    # services
    "datadog-api-key": (
        inside("DD_API_KEY={}", lambda r: pick(r, HEX, 32)),
        lambda r: f"BUILD_KEY={pick(r, HEX, 32)}",
    ),
    "new-relic-key": _prefixed("NRAK-", UPPER_DIGITS, 27, 10),
    "sentry-token": _prefixed("sntryu_", HEX, 64, 20),
    "grafana-token": (
        same(lambda r: "glsa_" + pick(r, ALNUM, 32) + "_" + pick(r, HEX, 8)),
        lambda r: "glsa_" + pick(r, ALNUM, 10),
    ),
    "shopify-token": _prefixed("shpat_", HEX, 32, 16),
    "databricks-token": _prefixed("dapi", HEX, 32, 16),
    "hashicorp-token": _prefixed("hvs.", URLSAFE, 95, 20),
    "linear-api-key": _prefixed("lin_api_", ALNUM, 40, 20),
    "atlassian-api-token": _prefixed("ATATT3", URLSAFE, 186, 50),
    "postman-api-key": (
        same(lambda r: "PMAK-" + pick(r, HEX, 24) + "-" + pick(r, HEX, 34)),
        lambda r: "PMAK-" + pick(r, HEX, 24),
    ),
    "age-secret-key": _prefixed("AGE-SECRET-KEY-1", BECH32, 58, 30),
    "doppler-token": _prefixed("dp.pt.", ALNUM, 43, 20),
    "pulumi-token": _prefixed("pul-", HEX, 40, 20),
    # generic
    "private-key": (
        _bench("private-key"),
        lambda r: "-----BEGIN PUBLIC KEY-----\n" + pick(r, ALNUM, 64) + "\n-----END",
    ),
    "jwt": (_bench("jwt"), lambda r: "eyJhbGciOiJIUzI1NiJ9"),
    "jdbc-password": (
        inside("jdbc:sqlserver://db.internal:1433;databaseName=app;user=sa;password={}",
               password),
        lambda r: "jdbc:sqlserver://db:1433;databaseName=app;password=${DB_PASSWORD}",
    ),
    "url-password": (_bench("url-password"), lambda r: "postgres://app:${DB_PASSWORD}@db/app"),
    "bearer-token": (_bench("bearer-token"), lambda r: "Authorization: Bearer abc123"),
    "generic-secret": (_bench("generic-secret"), lambda r: 'password = os.environ["DB_PW"]'),
}


def test_there_are_at_least_sixty_rules_and_every_one_is_in_the_catalog() -> None:
    assert len(RULES) >= 60
    assert sorted(CATALOG) == sorted(rule.id for rule in RULES)


@pytest.mark.parametrize("rule", sorted(CATALOG))
def test_rule_finds_its_true_sample(rule: str) -> None:
    make, _ = CATALOG[rule]
    for seed in range(3):
        text, secret = make(rng(seed))
        assert hits(f"2025-01-06 INFO config {text} loaded\n") == [(rule, secret)], seed


@pytest.mark.parametrize("rule", sorted(CATALOG))
def test_rule_ignores_its_near_miss(rule: str) -> None:
    _, miss = CATALOG[rule]
    for seed in range(3):
        assert rule not in [found for found, _ in hits(miss(rng(seed)) + "\n")]


@pytest.mark.parametrize("prefix", [
    "glrt-", "gldt-", "glptt-", "glcbt-", "glft-", "glimt-", "glagent-", "gloas-", "glsoat-",
    "glffct-", "GR1348941", "_gitlab_session",
])
def test_every_gitlab_prefix_the_issue_lists_is_found(prefix: str) -> None:
    samples = [(rule, *CATALOG[rule][0](rng())) for rule in CATALOG if rule.startswith("gitlab-")]
    assert [(rule, secret) for rule, text, secret in samples
            if prefix in text and hits(text) == [(rule, secret)]]


# --- found by shape or context when the variable name does not say "secret" ---------------

def test_aws_secret_key_next_to_its_key_id() -> None:
    r = rng(2)
    key_id = "AKIA" + pick(r, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16)
    secret = mixed(r, B64, 40)
    text = f"[default]\naws_access_key_id = {key_id}\nregion = eu-west-1\nvalue = {secret}\n"
    assert hits(text) == [("aws-access-key-id", key_id), ("aws-secret-access-key", secret)]


@pytest.mark.parametrize("template", [
    '"SecretAccessKey": "{}"', "aws.key={}", "AWS_VALUE: '{}'",
])
def test_aws_secret_key_named_for_aws(template: str) -> None:
    secret = mixed(rng(3), B64, 40)
    assert hits(template.format(secret) + "\n") == [("aws-secret-access-key", secret)]


@pytest.mark.parametrize(("template", "make", "rule"), [
    ("DD_APP_KEY={}", lambda r: pick(r, HEX, 40), "datadog-api-key"),
    ('"datadogApiKey": "{}"', lambda r: pick(r, HEX, 32), "datadog-api-key"),
    ("oauth_client = {}", lambda r: "GOCSPX-" + pick(r, URLSAFE, 28),
     "google-oauth-client-secret"),
    ("jdbc:postgresql://db:5432/app?user=app&password={}", password, "jdbc-password"),
    ("TWILIO_AUTH_TOKEN={}", lambda r: pick(r, HEX, 32), "twilio-auth-token"),
])
def test_found_without_the_word_secret(template: str, make, rule: str) -> None:
    secret = make(rng(4))
    assert hits(template.format(secret) + "\n") == [(rule, secret)]


def test_url_password_of_one_character_class() -> None:
    weak_url = "DATABASE_URL=postgres://root:root@db.internal:5432/app\n"  # opsd:allow
    assert hits(weak_url) == [("url-password", "root")]
    weak_jdbc = "jdbc:mysql://db:3306/app;password=hunter\n"  # opsd:allow
    assert hits(weak_jdbc) == [("jdbc-password", "hunter")]


def test_stripe_prod_key_and_unsigned_jwt() -> None:
    r = rng(13)
    prod = "rk_prod_" + pick(r, ALNUM, 40)
    assert hits(prod + "\n") == [("stripe-live-key", prod)]
    header = base64.urlsafe_b64encode(b'{"alg":"none"}').decode().rstrip("=")
    payload = base64.urlsafe_b64encode(b'{"sub":"' + pick(r, ALNUM, 12).encode() + b'"}')
    unsigned = f"{header}.{payload.decode().rstrip('=')}."
    assert hits(f'token = "{unsigned}"\n') == [("jwt", unsigned)]


def test_vault_legacy_token_by_the_generic_rule() -> None:
    token = "s." + mixed(rng(14), ALNUM, 24)
    assert hits(f"token: {token}\n") == [("generic-secret", token)]


def test_slack_configuration_token() -> None:
    token = "xoxe.xoxp-1-" + pick(rng(5), ALNUM, 165)
    assert hits(token + "\n") == [("slack-token", token)]


# --- the generic rule's syntaxes and key names ----------------------------------------------

@pytest.mark.parametrize("template", [
    'var apiToken string = "{}"',
    'apiToken := "{}"',
    'token: str = "{}"',
    '$password .= "{}";',
    'System.setProperty("X_TOKEN", "{}");',
    "API_TOKEN ::= {}",
    "DB_PASSWORD ?= {}",
    "<password>{}</password>",
    '"credentials": "{}"',
    'user_auth = "{}"',
])
def test_generic_rule_syntax(template: str) -> None:
    secret = password(rng(6))
    assert hits(template.format(secret) + "\n") == [("generic-secret", secret)]


@pytest.mark.parametrize("text", [
    "<password></password>",
    "List<Token>",
    "author = 'Jane Q. Public'",
    "credentials = load_credentials(path)",
])
def test_generic_rule_syntax_near_misses(text: str) -> None:
    assert hits(text + "\n") == []


# --- not secrets ----------------------------------------------------------------------------

def _not_secrets() -> list[tuple[str, str]]:
    r = rng(7)
    salt = pick(r, ALNUM, 16)
    return [
        ("slack prefix repeated", "SLACK_BOT_TOKEN=xoxb-xoxb-my-bot-token"),
        ("slack random string here", "token: xoxp-1-RANDOMSTRINGHERE"),
        ("slack hashes", "SLACK_TOKEN=xoxb-" + "#" * 40),
        ("run of hashes", 'auth_token = "' + "#" * 24 + '"'),
        ("run of x", 'password = "' + "x" * 24 + '"'),
        ("run of one digit", "postgres://app:" + "0" * 12 + "@db/app"),
        ("maven coordinates", '"credentials": "com.google.auth:google-auth-library:1.19.0"'),
        ("sha-512 crypt", f'password = "$6$rounds=5000${salt}${pick(r, ALNUM + "./", 86)}"'),
        ("sha-256 crypt", f"password: $5${salt}${pick(r, ALNUM + './', 43)}"),
        ("bcrypt", f'password_value = "$2b$12${pick(r, ALNUM + "./", 53)}"'),
        ("url template", '"download_url": "twist://pasword:login@localhost:8080/"'),
        ("url doc values", "https://foo:bar@example.org/ and ftp://user:pass@ftp.host/"),
        ("your token", 'api_key: "<your-token>"'),
        ("env template", 'token = "${NOTION_TOKEN}"'),
        ("jinja template", "password: {{ db_password }}"),
        ("changeme", 'password = "changeme-now-2024"'),
        ("example", 'secret_key = "example-secret-key-value"'),
        ("dummy", "token: dummy-value-for-tests-9f8"),
        ("slack mask after the ids", '"token4": "xoxp-' + "-".join(
            pick(r, string.digits, 12) for _ in range(3)) + "-" + "#" * 20 + '"'),
        ("jwt typed by hand", "eyJhbasdGciOiJIUaddasdasfsasdasd.eyJzdWIiOiIxMjM0NTY3ODkwIn0.x"),
        ("package and version", 'notes = "Maven - io.jsonwebtoken:jjwt-jackson-0.11.2"'),
        ("public token", f'publicToken = "{pick(r, ALNUM, 40)}"'),
        ("dotted name", "Credential: _win32typing.PyCredHandle"),
        ("gitlab token too long", "glsoat-" + pick(r, ALNUM, 40)),
    ]


@pytest.mark.parametrize(("label", "text"), _not_secrets(), ids=[c[0] for c in _not_secrets()])
def test_not_a_secret(label: str, text: str) -> None:
    assert hits(text + "\n") == []


# --- base64 values --------------------------------------------------------------------------

def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def test_notion_token_in_a_base64_env_value_is_found_at_the_value() -> None:
    token = notion_token(rng(8))
    blob = b64(f"NOTION_TOKEN={token}\nLOG_LEVEL=info\n")
    data = f"# deployment\nAPP_ENV_B64={blob}\n".encode()
    (hit,) = scan_bytes(data)
    assert (hit.rule, hit.secret, hit.line, hit.column, hit.note) == (
        "notion-token", token, 2, len("APP_ENV_B64=") + 1, NOTE)


def test_secret_in_a_base64_json_string_and_url_safe_alphabet() -> None:
    r = rng(9)
    token, legacy = notion_token(r), notion_legacy_token(r)
    safe = base64.urlsafe_b64encode(f'{{"auth": "{legacy}"}}'.encode()).decode().rstrip("=")
    data = f'{{"config": "{b64("token: " + token)}", "other": "{safe}"}}\n'.encode()
    assert sorted((h.rule, h.secret, h.note) for h in scan_bytes(data)) == [
        ("notion-token", token, NOTE), ("notion-token-legacy", legacy, NOTE)]


def test_base64_values_that_are_not_text_or_too_big_or_allowed_are_not_decoded() -> None:
    r = rng(10)
    token = notion_token(r)
    binary = base64.b64encode(r.randbytes(300)).decode()
    huge = b64(f"NOTION_TOKEN={token}\n" + "a=b\n" * (MAX_DECODED // 4))
    allowed = b64(f"NOTION_TOKEN={token}")
    data = f"BLOB={binary}\nBIG={huge}\nFIXTURE={allowed}  # opsd:allow\n".encode()
    assert scan_bytes(data, max_line_length=len(data)) == []


def test_base64_is_decoded_once_not_twice() -> None:
    token = notion_token(rng(11))
    twice = b64(b64(f"NOTION_TOKEN={token}"))
    assert scan_bytes(f"VALUE={twice}\n".encode()) == []


def test_a_finding_in_a_base64_value_says_so_in_the_report(tmp_path: Path) -> None:
    token = notion_token(rng(12))
    (tmp_path / ".env").write_text(f"CONFIG={b64('NOTION_TOKEN=' + token)}\n")
    (finding,) = scan_paths([tmp_path], ScanOptions(audit_permissions=False)).report.findings
    assert (finding.rule, finding.line, finding.column, finding.note) == (
        "notion-token", 1, 8, NOTE)
    assert finding.to_dict()["note"] == NOTE
    assert token not in repr(finding.to_dict())
