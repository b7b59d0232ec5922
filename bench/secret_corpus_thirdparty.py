"""Build the third-party secret corpus: the published rule tests of public scanners, as data.

    python3 -m bench.secret_corpus_thirdparty GITLEAKS_GIT_DIR DETECT_SECRETS_GIT_DIR

Each argument is a git directory (a clone, bare or not) of github.com/gitleaks/gitleaks and
github.com/Yelp/detect-secrets. The samples are read at the clone's HEAD and written to
`tests/data/secret_corpus/<source>.jsonl`, one JSON object a line:

    {"repo", "path", "commit", "rule", "text", "expect": "secret" | "not-secret", "type", "note"}

`type` is the opsd rule id whose kind of secret the sample is (from `GITLEAKS_TYPES` or
`DETECT_SECRETS_TYPES`), or null when opsd claims no such kind: only typed samples count for
recall. `note` carries the allow markers, so scanning this repository does not flag its
own test data; the text of a sample is scanned on its own, without them.

What is taken ("static" samples, as written in the source, nothing generated):
- gitleaks, `cmd/generate/config/rules/*.go`: every string literal that is a whole element of
  a rule's `tps` (true positives) or `fps` (false positives), and the secret argument of
  `utils.GenerateSampleSecrets(name, secret)`. Samples built at generation time
  (`secrets.NewSecret`, `fmt.Sprintf`, concatenation) are skipped.
- detect-secrets, `tests/plugins/*_test.py`: `pytest.mark.parametrize` cases of the shape
  `(line, should_flag)`, and single-line cases of tests that assert one finding per line.
- trufflehog is not used: it is AGPL-3.0 and its test patterns are interleaved with its code,
  so copying them into this MIT project's test data is doubtful.
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "tests" / "data" / "secret_corpus"
NOTE = (
    "opsd:allow gitleaks:allow betterleaks:allow kingfisher:ignore # pragma: allowlist secret"
    " (published rule-test sample)"
)

# gitleaks rule id -> the opsd rule that claims that kind of secret. Only samples whose
# opsd rule is in the tree count for recall, so a row may name a rule still to come.
GITLEAKS_TYPES: dict[str, str] = {
    "notion-api-token": "notion-token",
    "aws-access-token": "aws-access-key-id",
    "github-pat": "github-token",
    "github-oauth": "github-token",
    "github-app-token": "github-token",
    "github-refresh-token": "github-token",
    "github-fine-grained-pat": "github-token",
    "gitlab-pat": "gitlab-token",
    "slack-bot-token": "slack-token",
    "slack-user-token": "slack-token",
    "slack-app-token": "slack-token",
    "slack-legacy-bot-token": "slack-token",
    "slack-legacy-workspace-token": "slack-token",
    "slack-legacy-token": "slack-token",
    "slack-config-access-token": "slack-token",
    "slack-config-refresh-token": "slack-token",
    "slack-webhook-url": "slack-webhook",
    "stripe-access-token": "stripe-live-key",
    "gcp-api-key": "google-api-key",
    "sendgrid-api-token": "sendgrid-api-key",
    "twilio-api-key": "twilio-api-key",
    "openai-api-key": "openai-api-key",
    "anthropic-api-key": "anthropic-api-key",
    "anthropic-admin-api-key": "anthropic-api-key",
    "private-key": "private-key",
    "jwt": "jwt",
    "jwt-base64": "jwt",
    "generic-api-key": "generic-secret",
    # Kinds claimed by the rules of issue 15 (counted once those rules are in the tree).
    "aws-amazon-bedrock-api-key-long-lived": "aws-bedrock-api-key",
    "aws-amazon-bedrock-api-key-short-lived": "aws-bedrock-api-key",
    "alibaba-access-key-id": "alibaba-access-key-id",
    "azure-ad-client-secret": "azure-ad-client-secret",
    "digitalocean-pat": "digitalocean-token",
    "digitalocean-access-token": "digitalocean-token",
    "digitalocean-refresh-token": "digitalocean-token",
    "heroku-api-key": "heroku-api-key-legacy",
    "heroku-api-key-v2": "heroku-api-key",
    "gitlab-pat-routable": "gitlab-token",
    "gitlab-cicd-job-token": "gitlab-cicd-job-token",
    "gitlab-deploy-token": "gitlab-deploy-token",
    "gitlab-feature-flag-client-token": "gitlab-feature-flag-client-token",
    "gitlab-feed-token": "gitlab-feed-token",
    "gitlab-incoming-mail-token": "gitlab-incoming-mail-token",
    "gitlab-kubernetes-agent-token": "gitlab-kubernetes-agent-token",
    "gitlab-oauth-app-secret": "gitlab-oauth-app-secret",
    "gitlab-ptt": "gitlab-pipeline-trigger-token",
    "gitlab-rrt": "gitlab-runner-registration-token",
    "gitlab-runner-authentication-token": "gitlab-runner-token",
    "gitlab-runner-authentication-token-routable": "gitlab-runner-token",
    "gitlab-scim-token": "gitlab-scim-token",
    "gitlab-session-cookie": "gitlab-session-cookie",
    "huggingface-access-token": "huggingface-token",
    "huggingface-organization-api-token": "huggingface-token",
    "perplexity-api-key": "perplexity-api-key",
    "npm-access-token": "npm-token",
    "pypi-upload-token": "pypi-token",
    "rubygems-api-token": "rubygems-api-key",
    "mailgun-private-api-token": "mailgun-api-key",
    "mailgun-pub-key": "mailgun-api-key",
    "mailgun-signing-key": "mailgun-api-key",
    "mailchimp-api-key": "mailchimp-api-key",
    "sendinblue-api-token": "brevo-api-key",
    "datadog-access-token": "datadog-api-key",
    "new-relic-user-api-key": "new-relic-key",
    "sentry-access-token": "sentry-token",
    "sentry-org-token": "sentry-token",
    "sentry-user-token": "sentry-token",
    "grafana-api-key": "grafana-token",
    "grafana-cloud-api-token": "grafana-token",
    "grafana-service-account-token": "grafana-token",
    "shopify-shared-secret": "shopify-token",
    "shopify-access-token": "shopify-token",
    "shopify-custom-access-token": "shopify-token",
    "shopify-private-app-access-token": "shopify-token",
    "databricks-api-token": "databricks-token",
    "hashicorp-tf-api-token": "hashicorp-token",
    "vault-service-token": "hashicorp-token",
    "vault-batch-token": "hashicorp-token",
    "linear-api-key": "linear-api-key",
    "atlassian-api-token": "atlassian-api-token",
    "postman-api-token": "postman-api-key",
    "age-secret-key": "age-secret-key",
    "doppler-api-token": "doppler-token",
    "pulumi-api-token": "pulumi-token",
}
# detect-secrets test module -> opsd rule.
DETECT_SECRETS_TYPES: dict[str, str] = {
    "aws_key_test": "aws-access-key-id",
    "basic_auth_test": "url-password",
    "github_token_test": "github-token",
    "gitlab_token_test": "gitlab-token",
    "jwt_test": "jwt",
    "keyword_test": "generic-secret",
    "openai_test": "openai-api-key",
    "private_key_test": "private-key",
    "sendgrid_test": "sendgrid-api-key",
    "slack_test": "slack-token",
    "stripe_key_test": "stripe-live-key",
    "twilio_test": "twilio-api-key",
    "azure_storage_key_test": "azure-storage-account-key",
    "discord_test": "discord-bot-token",
    "mailchimp_key_test": "mailchimp-api-key",
    "npm_test": "npm-token",
    "pypi_token_test": "pypi-token",
}


@dataclass(frozen=True)
class Sample:
    repo: str
    path: str
    commit: str
    rule: str
    text: str
    expect: str  # "secret" | "not-secret"
    type: str | None
    note: str = NOTE


def git(git_dir: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "--git-dir", str(git_dir), *args], check=True, capture_output=True, text=True
    ).stdout


def git_dir_of(path: Path) -> Path:
    return path / ".git" if (path / ".git").exists() else path


# --- gitleaks: a small Go tokenizer, enough for the rule files' slice literals ------------

_GO_TOKEN = re.compile(
    r"(?P<comment>//[^\n]*|/\*.*?\*/)"
    r"|(?P<raw>`[^`]*`)"
    r"|(?P<str>\"(?:[^\"\\\n]|\\.)*\")"
    r"|(?P<newline>\n)"
    r"|(?P<space>[ \t\r]+)"
    r"|(?P<ellipsis>\.\.\.)"
    r"|(?P<word>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<op>:=|.)",
    re.DOTALL,
)
_ASSIGNMENT = re.compile(r"\b(tps|fps)\s*:?=\s*")
_RULE_ID = re.compile(r'RuleID:\s*"([^"]+)"')


@dataclass(frozen=True)
class Token:
    kind: str  # "str", "word", "op", "ellipsis", "newline"
    value: str


def go_string(literal: str) -> str:
    """The value of a Go string literal (raw or interpreted)."""
    if literal.startswith("`"):
        return literal[1:-1].replace("\r", "")
    try:
        value: str = json.loads(literal)
        return value
    except json.JSONDecodeError:
        return literal[1:-1].encode("latin-1", "backslashreplace").decode("unicode_escape")


def go_tokens(text: str) -> Iterator[Token]:
    for match in _GO_TOKEN.finditer(text):
        kind = match.lastgroup or "op"
        if kind in ("comment", "space"):
            continue
        value = match.group()
        if kind == "raw":
            kind = "str"
        yield Token(kind, go_string(value) if kind == "str" else value)


def statement(tokens: list[Token]) -> list[Token]:
    """The tokens of one statement: up to a newline outside brackets."""
    depth = 0
    for index, token in enumerate(tokens):
        if token.kind == "op" and token.value in "([{":
            depth += 1
        elif token.kind == "op" and token.value in ")]}":
            depth -= 1
            if depth < 0:
                return tokens[:index]
        elif token.kind == "newline" and depth == 0:
            return tokens[:index]
    return tokens


def split_top(tokens: list[Token]) -> list[list[Token]]:
    """Split a bracket's content at its top-level commas (newlines dropped)."""
    parts: list[list[Token]] = [[]]
    depth = 0
    for token in tokens:
        if token.kind == "newline":
            continue
        if token.kind == "op" and token.value in "([{":
            depth += 1
        elif token.kind == "op" and token.value in ")]}":
            depth -= 1
        if depth == 0 and token.kind == "op" and token.value == ",":
            parts.append([])
            continue
        parts[-1].append(token)
    return [part for part in parts if part]


def inner(tokens: list[Token], opener: int) -> list[Token]:
    """The tokens between the bracket at `opener` and its match (which must end `tokens`)."""
    return tokens[opener + 1:-1]


def literals(expression: list[Token]) -> Iterator[str]:
    """The static samples an expression of a `tps`/`fps` assignment holds."""
    if expression and expression[-1].kind == "ellipsis":
        expression = expression[:-1]
    values = [t.value for t in expression]
    if len(expression) == 1 and expression[0].kind == "str":
        yield expression[0].value
    elif values[:4] == ["[", "]", "string", "{"] and values[-1] == "}":
        for part in split_top(inner(expression, 3)):
            yield from literals(part)
    elif values[:2] == ["append", "("] and values[-1] == ")":
        for part in split_top(inner(expression, 1)):
            yield from literals(part)
    elif values[:4] == ["utils", ".", "GenerateSampleSecrets", "("] and values[-1] == ")":
        arguments = split_top(inner(expression, 3))
        if len(arguments) == 2 and len(arguments[1]) == 1 and arguments[1][0].kind == "str":
            yield arguments[1][0].value


def gitleaks_function_samples(body: str) -> Iterator[tuple[str, str, str]]:
    """(rule id, text, expect) for one Go function of a rules file."""
    rule_id = _RULE_ID.search(body)
    if rule_id is None:
        return
    for assignment in _ASSIGNMENT.finditer(body):
        expect = "secret" if assignment.group(1) == "tps" else "not-secret"
        tokens = list(go_tokens(body[assignment.end():]))
        for text in literals(statement(tokens)):
            yield rule_id.group(1), text, expect


def gitleaks_samples(git_dir: Path) -> Iterator[Sample]:
    repo, folder = "gitleaks/gitleaks", "cmd/generate/config/rules/"
    commit = git(git_dir, "rev-parse", "HEAD").strip()
    for path in git(git_dir, "ls-tree", "--name-only", "HEAD", folder).split():
        if not path.endswith(".go") or path.endswith("_test.go"):
            continue
        source = git(git_dir, "show", f"HEAD:{path}")
        for body in re.split(r"\n(?=func )", source):
            for rule, text, expect in gitleaks_function_samples(body):
                yield Sample(repo, path, commit, rule, text, expect, GITLEAKS_TYPES.get(rule))


# --- detect-secrets: parametrized pytest cases -------------------------------------------

def _parametrize_cases(decorator: ast.expr) -> Iterator[tuple[str, bool | None]]:
    """(line, should_flag or None) from `@pytest.mark.parametrize(names, cases)`."""
    if not (isinstance(decorator, ast.Call) and ast.unparse(decorator.func).endswith(
            "mark.parametrize") and len(decorator.args) >= 2):
        return
    try:
        names = ast.literal_eval(decorator.args[0])
        cases = ast.literal_eval(decorator.args[1])
    except ValueError:
        return  # cases built by code: not static
    names = [n.strip() for n in names.split(",")] if isinstance(names, str) else list(names)
    for case in cases:
        if len(names) == 1 and isinstance(case, str):
            yield case, None
        elif (len(names) == 2 and isinstance(case, tuple) and isinstance(case[0], str)
              and isinstance(case[1], bool)):
            yield case[0], case[1]


def detect_secrets_file_samples(source: str) -> Iterator[tuple[str, str, str]]:
    """(detector class, text, expect) for one detect-secrets plugin test module."""
    tree = ast.parse(source)
    for cls in (node for node in tree.body if isinstance(node, ast.ClassDef)):
        detector = cls.name.removeprefix("Test")
        for function in (n for n in cls.body if isinstance(n, ast.FunctionDef)):
            asserts_one = "len(output) == 1" in ast.unparse(function)
            for decorator in function.decorator_list:
                for line, should_flag in _parametrize_cases(decorator):
                    if should_flag is None and not asserts_one:
                        continue
                    expect = "secret" if should_flag in (True, None) else "not-secret"
                    yield detector, line, expect


def detect_secrets_samples(git_dir: Path) -> Iterator[Sample]:
    repo, folder = "Yelp/detect-secrets", "tests/plugins/"
    commit = git(git_dir, "rev-parse", "HEAD").strip()
    for path in git(git_dir, "ls-tree", "--name-only", "HEAD", folder).split():
        if not path.endswith("_test.py"):
            continue
        module = Path(path).stem
        for rule, text, expect in detect_secrets_file_samples(git(git_dir, "show", f"HEAD:{path}")):
            yield Sample(repo, path, commit, rule, text, expect, DETECT_SECRETS_TYPES.get(module))


def load_corpus() -> list[dict[str, str | None]]:
    """Every sample of every source file in `tests/data/secret_corpus/`, in file order."""
    return [
        json.loads(line)
        for path in sorted(OUT.glob("*.jsonl"))
        for line in path.read_text().splitlines()
    ]


def opsd_flags(text: str) -> bool:
    """Does opsd report anything in `text` (the sample scanned on its own)?"""
    from opsd.secretscan.scanner import scan_bytes

    return bool(scan_bytes(text.encode()))


SOURCES = """# Third-party secret samples

Test data for `tests/test_secret_corpus.py` and `bench/secret_compare.py`, generated by
`bench/secret_corpus_thirdparty.py` (do not edit by hand). Each line of a `.jsonl` file is one
sample as published in another project's rule tests, with the repository, path and commit it
comes from. The samples are those projects' own test values, several of them real-looking
credentials they took from public code; each line carries the allow markers of opsd, gitleaks
and detect-secrets so that scanning this repository does not report them.

| file | source | commit | license |
|---|---|---|---|
{rows}

Licenses: gitleaks is MIT (Copyright (c) 2019 Zachary Rice); detect-secrets is Apache-2.0
(Copyright Yelp, Inc.). Both permit redistributing these excerpts with this attribution.
trufflehog (AGPL-3.0) is not used: copying its detector test data into this MIT project is
doubtful.

`type` is the opsd rule id that claims the sample's kind of secret (the tables
`GITLEAKS_TYPES` and `DETECT_SECRETS_TYPES` in the script), or null; only typed secret samples
count for recall. Every not-secret sample counts for false alarms.
"""


def write_sources(commits: dict[str, tuple[str, str, str]]) -> None:
    """SOURCES.md: where each data file comes from (file -> repo, path, commit)."""
    rows = "\n".join(
        f"| {name}.jsonl | https://github.com/{repo} `{path}` | {commit} | "
        f"{'MIT' if repo.startswith('gitleaks') else 'Apache-2.0'} |"
        for name, (repo, path, commit) in sorted(commits.items())
    )
    (OUT / "SOURCES.md").write_text(SOURCES.format(rows=rows))


def write(name: str, samples: Iterator[Sample]) -> list[Sample]:
    """Write one source's samples (duplicates of the same text and expectation dropped)."""
    seen: set[tuple[str, str]] = set()
    kept = []
    for sample in samples:
        if not sample.text.strip() or (sample.text, sample.expect) in seen:
            continue
        seen.add((sample.text, sample.expect))
        kept.append(sample)
    OUT.mkdir(parents=True, exist_ok=True)
    with (OUT / f"{name}.jsonl").open("w") as out:
        for sample in kept:
            out.write(json.dumps(asdict(sample), ensure_ascii=False) + "\n")
    return kept


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 3
    gitleaks_dir, detect_secrets_dir = (git_dir_of(Path(a)) for a in argv)
    written = {
        "gitleaks": write("gitleaks", gitleaks_samples(gitleaks_dir)),
        "detect-secrets": write("detect-secrets", detect_secrets_samples(detect_secrets_dir)),
    }
    write_sources({
        "gitleaks": ("gitleaks/gitleaks", "cmd/generate/config/rules/*.go",
                     git(gitleaks_dir, "rev-parse", "HEAD").strip()),
        "detect-secrets": ("Yelp/detect-secrets", "tests/plugins/*_test.py",
                           git(detect_secrets_dir, "rev-parse", "HEAD").strip()),
    })
    for name, samples in written.items():
        counts = Counter((s.expect, s.type is not None) for s in samples)
        print(f"{name}: {len(samples)} samples; secret {counts['secret', True]} typed + "
              f"{counts['secret', False]} untyped; not-secret {counts['not-secret', True]}"
              f" + {counts['not-secret', False]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
