"""A reproducible corpus for the secret scanner: logs, source and config with planted secrets
of every rule and realistic decoys (UUIDs, git hashes, integrity strings, base64 blobs,
placeholders, code that names secrets without holding them).

Every secret is built at run time from random pieces, so this file holds none. Used by
`bench/secret_scan.py` and by the tests.
"""

from __future__ import annotations

import base64
import json
import random
import string
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ALNUM = string.ascii_letters + string.digits
UPPER_DIGITS = string.ascii_uppercase + string.digits


def pick(rng: random.Random, alphabet: str, n: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def notion_token(rng: random.Random) -> str:
    return "ntn_" + pick(rng, string.digits, 11) + pick(rng, ALNUM, 35)


def notion_legacy_token(rng: random.Random) -> str:
    return "secret_" + pick(rng, ALNUM, 43)


def pem_key(rng: random.Random, newline: str = "\n") -> str:
    body = base64.b64encode(rng.randbytes(600)).decode()
    lines = [body[i:i + 64] for i in range(0, len(body), 64)]
    kind = "RSA PRIVATE KEY"
    return newline.join([f"-----BEGIN {kind}-----", *lines, f"-----END {kind}-----"])


def jwt(rng: random.Random) -> str:
    header = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    payload = b64url(json.dumps({"sub": pick(rng, string.digits, 10), "iat": 1700000000}).encode())
    return f"{header}.{payload}.{b64url(rng.randbytes(32))}"


def password(rng: random.Random, n: int = 18) -> str:
    """A random password with every character class (no quote, comma or semicolon)."""
    return pick(rng, ALNUM + "!#%*+-_~", n - 2) + rng.choice("!#%*") + rng.choice(string.digits)


# rule id -> a line fragment holding one secret of that rule, in its natural context, and
# the secret itself.
Sample = Callable[[random.Random], tuple[str, str]]


def _same(make: Callable[[random.Random], str]) -> Sample:
    def sample(rng: random.Random) -> tuple[str, str]:
        secret = make(rng)
        return secret, secret
    return sample


def _in(template: str, make: Callable[[random.Random], str]) -> Sample:
    def sample(rng: random.Random) -> tuple[str, str]:
        secret = make(rng)
        return template.format(secret), secret
    return sample


SAMPLES: dict[str, Sample] = {
    "notion-token": _same(notion_token),
    "notion-token-legacy": _same(notion_legacy_token),
    "aws-access-key-id": _same(lambda r: "AKIA" + pick(r, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16)),
    "github-token": _same(lambda r: r.choice(("ghp_", "gho_", "ghu_", "ghs_", "ghr_"))
                          + pick(r, ALNUM, 36)),
    "gitlab-token": _same(lambda r: "glpat-" + pick(r, ALNUM + "_-", 20)),
    "slack-token": _same(lambda r: "xoxb-" + pick(r, string.digits, 12) + "-"
                         + pick(r, string.digits, 13) + "-" + pick(r, ALNUM, 24)),
    "slack-webhook": _in("https://hooks.slack.com/services/{}", lambda r: "T" + pick(
        r, UPPER_DIGITS, 10) + "/B" + pick(r, UPPER_DIGITS, 10) + "/" + pick(r, ALNUM, 24)),
    "stripe-live-key": _same(lambda r: r.choice(("sk", "rk")) + "_live_" + pick(r, ALNUM, 32)),
    "google-api-key": _same(lambda r: "AIza" + pick(r, ALNUM + "_-", 35)),
    "sendgrid-api-key": _same(lambda r: "SG." + pick(r, ALNUM + "_-", 22) + "."
                              + pick(r, ALNUM + "_-", 43)),
    "twilio-api-key": _same(lambda r: "SK" + pick(r, "0123456789abcdef", 32)),
    "openai-api-key": _same(lambda r: "sk-proj-" + pick(r, ALNUM, 40) + "T3Blbk" + "FJ"
                            + pick(r, ALNUM, 40)),
    "anthropic-api-key": _same(lambda r: "sk-ant-api03-" + pick(r, ALNUM + "_-", 93) + "AA"),
    "private-key": lambda r: (key := pem_key(r), key),
    "jwt": _same(jwt),
    "url-password": _in("postgres://app:{}@db.internal:5432/app", password),
    "bearer-token": _in("Authorization: Bearer {}", lambda r: pick(r, ALNUM, 40)),
    "generic-secret": _in('DB_PASSWORD="{}"', password),
}

# Both Notion formats, in every kind of file the issue names.
NOTION_CONTEXTS = {
    ".env": "NOTION_TOKEN={}",
    ".env quoted": 'NOTION_API_TOKEN="{}"',
    "json": '  "notion_token": "{}",',
    "yaml": "  token: {}",
    "toml": 'token = "{}"',
    "python": 'notion = Client(auth="{}")',
    "javascript": "const notion = new Client({{ auth: '{}' }});",
    "typescript": "export const NOTION_TOKEN: string = `{}`;",
    "log bearer": "2025-01-06T07:00:01Z DEBUG headers={{'Authorization': 'Bearer {}'}}",
    "url": "GET https://hooks.example.net/callback?token={}&state=ok 200",
    "json escaped": '{{"body": "{{\\"token\\": \\"{}\\"}}"}}',
    "json escaped newline": '{{"msg": "token:\\n{}"}}',
}


def decoys(rng: random.Random) -> list[str]:
    """Lines that look secret-ish but hold no secret."""
    sha = pick(rng, "0123456789abcdef", 40)
    blob = base64.b64encode(rng.randbytes(48)).decode()
    u = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    return [
        f"2025-01-06T07:00:02Z INFO request_id={u} status=200 latency_ms=41",
        f'{{"level": "info", "trace_id": "{pick(rng, "0123456789abcdef", 32)}", "msg": "ok"}}',
        f"deployed commit {sha} to production",
        f'    "resolved": "https://registry.npmjs.org/x/-/x-1.0.0.tgz", "integrity": '
        f'"sha512-{base64.b64encode(rng.randbytes(64)).decode()}"',
        f'thumbnail = "data:image/png;base64,{blob}"',
        'password = os.environ["DB_PASSWORD"]',
        "token = get_token(session)",
        "api_key = settings.NOTION_API_KEY",
        "SECRET_KEY = env('SECRET_KEY')",
        "# example: NOTION_TOKEN=ntn_your_token_here",
        "const apiKey = process.env.API_KEY;",
        "password: ${DB_PASSWORD}",
        "token: changeme",
        'api_key: "<your-api-key>"',
        "2025-01-06T07:00:03Z INFO token refreshed for workspace " + u,
        f'{{"object": "list", "next_cursor": "{u}", "has_more": true}}',
        f'next_page_token = "{blob[:32]}"',
        f"git checkout {sha[:12]}",
        f'"etag": "W/\\"{pick(rng, "0123456789abcdef", 32)}\\""',
        'Authorization: Bearer ${NOTION_TOKEN}',
        f"cache key {pick(rng, 'abcdef0123456789', 64)} hit",
        "if password == confirm_password:",
        "ntn_ tokens replaced secret_ tokens in September 2024",
        f"user_id={u} name=ada",
    ]


FILLER_WORDS = (
    "the", "request", "completed", "page", "database", "query", "sync", "worker", "started",
    "finished", "retry", "cache", "hit", "miss", "workspace", "user", "property", "filter",
    "sort", "cursor", "result", "object", "status", "ok", "latency",
)


@dataclass(frozen=True)
class Planted:
    path: str
    line: int
    rule: str


def _filler(rng: random.Random, kind: str) -> str:
    words = " ".join(rng.choice(FILLER_WORDS) for _ in range(rng.randint(6, 14)))
    if kind == "log":
        return f"2025-01-06T07:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}Z INFO {words}"
    if kind == "py":
        return f"    result = process({rng.randint(0, 999)})  # {words}"
    if kind in ("js", "ts"):
        return f"  const value{rng.randint(0, 99)} = compute('{words}');"
    return f"# {words}"


FILE_KINDS = (  # (extension, kind, share of the corpus)
    (".log", "log", 0.70), (".py", "py", 0.12), (".js", "js", 0.05), (".ts", "ts", 0.03),
    (".yaml", "config", 0.04), (".env", "config", 0.03), (".json", "config", 0.03),
)


def generate(directory: Path, size: int, *, seed: int = 7, file_size: int = 256 * 1024,
             plant_every: int = 200) -> list[Planted]:
    """Write about `size` bytes of files under `directory`; returns the planted secrets."""
    rng = random.Random(seed)
    planted: list[Planted] = []
    rules = list(SAMPLES)
    contexts = list(NOTION_CONTEXTS.values())
    written = index = 0
    while written < size:
        ext, kind, _ = rng.choices(FILE_KINDS, weights=[k[2] for k in FILE_KINDS])[0]
        name = f"{kind}/.env.{index}" if ext == ".env" else f"{kind}/file{index}{ext}"
        lines: list[str] = []
        line_number, length = 1, 0
        while length < file_size:
            roll = rng.randrange(plant_every)
            if roll == 0:
                rule = rules[len(planted) % len(rules)]
                text, _secret = SAMPLES[rule](rng)
                if rule == "notion-token" and rng.random() < 0.5:
                    text = rng.choice(contexts).format(text)
                planted.append(Planted(name, line_number, rule))
            elif roll < 4:
                text = rng.choice(decoys(rng))
            else:
                text = _filler(rng, kind)
            lines.append(text)
            length += len(text) + 1
            line_number += text.count("\n") + 1
        content = "\n".join(lines) + "\n"
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
        written += len(content.encode())
        index += 1
    return planted
