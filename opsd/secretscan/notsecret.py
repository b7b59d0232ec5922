"""Values that have a secret's shape but are not secrets: placeholders, templates, masks,
runs of one character, crypt hashes, Maven coordinates and URL templates.

Used by the scanner's plausibility step for every rule, before entropy is judged. Each test
is cheap (a compiled regex or a set lookup on one short value) and errs towards reporting:
a random token trips one of them about once in ten thousand.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import itertools
import re
import string

from opsd.secretscan.rules import Rule

# Substrings (lower case) of documentation values, templates and masked values.
PLACEHOLDERS = (
    "xxxx", "changeme", "change_me", "change-me", "placeholder", "example", "your_", "your-",
    "yourtoken", "redacted", "dummy", "sample", "****", "...", "…", "${", "{{", "%(", "$(",
    "<", ">",
)
_PLACEHOLDER = re.compile("|".join(re.escape(p) for p in PLACEHOLDERS).encode())
_RUN_LENGTH = 5  # `12345`, `abcde`: a made-up value (in a random one, about 1 in 10^7)
_SEQUENCE = re.compile(
    b"|".join(
        re.escape(alphabet[i:i + _RUN_LENGTH])
        for alphabet in (string.digits.encode(), string.ascii_lowercase.encode(),
                         string.ascii_uppercase.encode())
        for i in range(len(alphabet) - _RUN_LENGTH + 1)
    )
)
# A mask: `###`, `***` (no token alphabet has them; `xxxx` and `...` are placeholders above).
# Without a prefix, also any character six times (`000000`).
_MASK = re.compile(rb"([#*])\1{2}")
_SAME = re.compile(rb"(.)\1{5}")
# Words a made-up token is written with (`xoxp-1-RANDOMSTRINGHERE`, `xoxb-my-bot-token`).
_MADE_UP_WORDS = re.compile(
    rb"random|string|here|your|fake|insert|replace|token|password|bot-|-my-|test-|-test"
)
# Values a prefixless secret (a password) takes in documentation and templates.
_PLACEHOLDER_VALUES = frozenset({
    b"password", b"passwd", b"pasword", b"pass", b"pwd", b"secret", b"login", b"user",
    b"username", b"foo", b"bar", b"baz", b"qux", b"test", b"none", b"null",
    b"true", b"false", b"empty", b"mypassword", b"yourpassword", b"s3cr3t",
})
# `$6$rounds=5000$salt$hash`, `$2b$12$…`, `$argon2id$v=19$…`: a hash, not a password.
_CRYPT = re.compile(rb"\$(?:1|2[abxy]?|5|6|7|y|gy|sha1|md5|argon2(?:id|i|d)|pbkdf2[\w-]*|scrypt)\$")
# `org.apache.commons:commons-lang3:3.12.0`: Maven coordinates (group:artifact:version), or
# their tail (`commons-lang3:3.12.0`) where a key word sits inside the group name.
_MAVEN = re.compile(
    rb"[a-z][\w\-]*(?:\.[\w\-]+)+:[\w.\-]+:[\w.\-]+(?::[\w.\-]+){0,2}"
    rb"|[a-z][\w.\-]*:\d+(?:\.\d+)+[\w.\-]*"
)
# `jjwt-jackson-0.11.2`: a package name and its version.
_PACKAGE_VERSION = re.compile(rb"[a-z][a-z0-9]*(?:-[a-z0-9]+)*-\d+(?:\.\d+)+")
_DIGIT = re.compile(rb"\d")
# Published example keys that look live (sha256, so this file holds none): the Google API
# keys of Google's and Firebase's documentation that gitleaks' gcp.go allowlists.
_PUBLIC_EXAMPLES = frozenset({
    "27a9a42931dff7eb2f8434e20a9bce976ea364e7bee49187f19d5cfeca9c7045",
    "49f777db995e8260da7ca9ffdf0c08d66f0453e97ec967018baf2cdfe3b582d0",
    "a6c814bc555ae62c7bd8b58ec07bf559c7ed3a009976a1e0acc9cef0d4473b41",
    "8731261cb72d86267a32a532ebd3df429e2144e5e4ced7e13568bc9e6c8fb1b1",
    "37f8f09bdf12c2f2eae4ead7273a62ddb0c23459cbf902892f282b57f7ed6619",
    "eb540d2b6ee2a0a47c5779bc8a0141784c6b753840d4c6f4e2428a6e86e9e0b1",
    "2037abcaffb2b77785da716cf7ccff4ff4d00c4ea930db0167b7d71f50af7eb4",
    "3a8b61d0f636b007840c0d40ba12bcf48465dc054cdc1a68704a33521d84b665",
    "4c98242dcadc8b29005c6b4aad526552d5ea1842149154c0694adeec75847583",
    "ea9bb1082cf95663f5faca23b8b15ef2aa0fce0a5c6df9c32dcb85b2e0a4513d",
    "3f370c9dd8225c63b5c77de1f785edc9712958f18bb612d5fa2e0ae33aeca682",
    "a19f89ab3555eac10c40741f6df79ecf0935998f15569f8db9d67bce0181fff6",
    "e4a5542bb7fd7b67e943c71ad29c34b5972c9840597e7eda53e666f44d5da0b9",
    "dc0fcf046c61640cbd1e8b999ada3262d722c2ca4bf42dceac999020ffdbb614",
    "f56e323494a6ffc2064e7a955908957d84f0755e5f975dabd64328d0359a8f7c",
    "0b476bdf9acf2123d547b5ae76f1e59884d8ec9553ee0c47e9f31fd4768f3f3c",
})
# `_win32typing.PyCredHandle`, `settings.SECRET`: a dotted name in code, not a value.
_DOTTED_NAME = re.compile(rb"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+")


def not_a_secret(rule: Rule, secret: bytes, match: re.Match[bytes]) -> bool:
    """Is `secret` (found by `rule` as `match`) a placeholder, template, mask or hash?"""
    lowered = secret.lower()
    if rule.id == "jwt":
        return not _jwt_header(secret)
    if hashlib.sha256(secret).hexdigest() in _PUBLIC_EXAMPLES:
        return True
    if _PLACEHOLDER.search(lowered) or _MASK.search(secret):
        return True
    if rule.public_prefix:
        # A prefixed token's shape is evidence enough: a `12345` inside does not make it a
        # placeholder (a hand-made fixture that leaks still looks like a live token), but a
        # token that is mostly a run (`secret_abcdefghijklmnopqrstuvwxyz…`) is one.
        return (_repeats_its_head(lowered) or _made_up_words(secret, lowered)
                or _mostly_sequence(secret))
    if _SEQUENCE.search(secret):
        return True
    if _made_up_words(secret, lowered):
        return True
    if lowered in _PLACEHOLDER_VALUES or _SAME.search(secret) or _CRYPT.match(secret):
        return True
    if _MAVEN.fullmatch(secret) or _PACKAGE_VERSION.fullmatch(secret):
        return True
    if rule.generic and _dotted_name(secret):
        return True
    return rule.id == "url-password" and _url_template(match)


def _jwt_header(token: bytes) -> bool:
    """A JWT's first part is base64url of a JSON object naming its algorithm (`{"alg": …}`);
    `eyJhbasdGciOi…` typed by hand is not."""
    head = token.split(b".", 1)[0]
    try:
        decoded = base64.urlsafe_b64decode(head + b"=" * (-len(head) % 4))
    except (binascii.Error, ValueError):
        return False
    return decoded.startswith(b"{") and b'"alg"' in decoded


def _dotted_name(value: bytes) -> bool:
    """`_win32typing.PyCredHandle`: dotted words; not `s.ZC9Ecf4M5g9o34Q6RkzGsj0z` (a Vault
    token), whose long part mixes digits in."""
    if _DOTTED_NAME.fullmatch(value) is None:
        return False
    return not any(len(part) >= 16 and _DIGIT.search(part) for part in value.split(b"."))


def _mostly_sequence(secret: bytes) -> bool:
    """At least half of `secret` is runs like `12345`, `abcde` (see `_SEQUENCE`)."""
    covered = 0
    run = 1
    for previous, current in itertools.pairwise(secret):
        run = run + 1 if current == previous + 1 and chr(current).isalnum() else 1
        if run == _RUN_LENGTH:
            covered += _RUN_LENGTH
        elif run > _RUN_LENGTH:
            covered += 1
    return covered * 2 >= len(secret)


def _repeats_its_head(lowered: bytes) -> bool:
    """`xoxb-xoxb-my-bot-token`: the prefix written twice."""
    return len(lowered) > 10 and lowered.find(lowered[:5], 1) > 0


def _made_up_words(secret: bytes, lowered: bytes) -> bool:
    """`xoxp-1-RANDOMSTRINGHERE`: made-up words and (almost) no digits."""
    return len(_DIGIT.findall(secret)) <= 2 and _MADE_UP_WORDS.search(lowered) is not None


def _url_template(match: re.Match[bytes]) -> bool:
    """`twist://pasword:login@host` in package metadata: the user part names a credential
    and the password is a plain word (the match starts at `://`)."""
    user = match.string[match.start() + 3:match.start("secret") - 1].lower()
    named = user in _PLACEHOLDER_VALUES or user.startswith((b"pass", b"pasw"))
    return named and match.group("secret").isalpha()


# Schemes whose URLs carry service credentials, unlike the `http://user:pass@example.com` of
# documentation: `postgres://root:root@db` is a finding (opsd:allow).
_SERVICE_SCHEMES = frozenset({
    b"postgres", b"postgresql", b"mysql", b"mariadb", b"mongodb", b"mongodb+srv", b"redis",
    b"rediss", b"amqp", b"amqps", b"mssql", b"sqlserver", b"oracle", b"ldap", b"ldaps",
    b"smtp", b"smtps", b"ftp", b"sftp", b"clickhouse", b"cockroachdb", b"neo4j", b"nats",
})
_SCHEME = re.compile(rb"[a-z][a-z0-9+.\-]{0,20}\Z")


def weak_password_counts(match: re.Match[bytes]) -> bool:
    """Is a weak password (a plain word, one character class) still a finding here? In a JDBC
    string or a database, queue or mail server URL, yes; in an `http://` example, no."""
    text = match.string
    if text.startswith(b"jdbc:", match.start()):
        return True
    scheme = _SCHEME.search(text[max(0, match.start() - 21):match.start()].lower())
    return scheme is not None and scheme.group(0) in _SERVICE_SCHEMES
