"""Redaction: how a secret may be shown (`ntn_…abcd`: its public prefix and last 4 characters)."""

from __future__ import annotations

import functools

# Prefixes that token issuers publish as the token's type marker: showing one says what leaked
# without revealing any secret part. Anything else shows no prefix at all.
KNOWN_PREFIXES = (
    "github_pat_", "sk_live_", "rk_live_", "sk-proj-", "sk-ant-", "secret_", "glpat-",
    "xoxb-", "xoxp-", "xoxa-", "xoxr-", "xoxs-", "xapp-", "ntn_", "ghp_", "gho_", "ghu_",
    "ghs_", "ghr_", "AKIA", "ASIA", "AIza", "SG.", "sk-", "eyJ",
)


def redact_secret(secret: str) -> str:
    """A safe preview of `secret`: known prefix, an ellipsis, and a short tail.

    Short secrets show less of their tail, so no preview reveals more than a fraction.
    """
    prefix = next((p for p in KNOWN_PREFIXES if secret.startswith(p)), "")
    rest = secret[len(prefix):]
    if len(rest) >= 24:
        tail = rest[-4:]
    elif len(rest) >= 12:
        tail = rest[-2:]
    else:
        tail = ""
    return f"{prefix}…{tail}"


# --- redaction of free text ----------------------------------------------------------------

MIN_ENCODED_LENGTH = 8
"""Encoded forms shorter than this are not replaced: they would match ordinary words."""


def _base64_forms(data: bytes) -> list[str]:
    """`data` in standard and URL-safe base64, padded and unpadded, plus the characters that
    encode it wherever it starts inside a longer encoded text (three alignments), so that
    `base64("user:" + password)` or `base64("Bearer " + token)` is caught too."""
    import base64

    forms = []
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        whole = encode(data).decode("ascii")
        forms += [whole, whole.rstrip("=")]
        for offset in (0, 1, 2):
            encoded = encode(b"\0" * offset + data).decode("ascii")
            # Only groups of three bytes that lie wholly inside `data` encode to characters
            # that do not depend on what surrounds it.
            first = -(-offset // 3)
            last = (offset + len(data)) // 3
            forms.append(encoded[4 * first:4 * last])
    return forms


def encoded_forms(secret: str) -> dict[str, str]:
    """Each form `secret` may take in text -> what replaces it there.

    The raw secret; JSON-escaped (once and twice); Python `repr` of the text and of its bytes
    (httpx quotes a header value as `b'…'`); URL-encoded (`quote` with and without `/` safe,
    `quote_plus`, upper- and lower-case escapes); base64 of the secret and of `Bearer
    <secret>`; hex. Textual escapes are replaced by the preview escaped the same way, so the
    text around them (a JSON document, a URL) stays well-formed.
    """
    import json
    import re
    from urllib.parse import quote, quote_plus

    preview = redact_secret(secret)

    def json_escaped(text: str) -> str:
        return json.dumps(text, ensure_ascii=False)[1:-1]

    def ascii_json_escaped(text: str) -> str:
        return json.dumps(text)[1:-1]

    def lower_escapes(text: str) -> str:
        return re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), text)

    escapes = (
        json_escaped, ascii_json_escaped, lambda t: json_escaped(json_escaped(t)),
        lambda t: ascii_json_escaped(ascii_json_escaped(t)),
        lambda t: repr(t)[1:-1], lambda t: repr(t.encode())[2:-1],
        lambda t: quote(t, safe=""), quote, lambda t: quote_plus(t, safe=""),
        lambda t: lower_escapes(quote(t, safe="")), lambda t: lower_escapes(quote_plus(t, safe="")),
    )
    forms = {secret: preview}
    for escape in escapes:
        forms.setdefault(escape(secret), escape(preview))
    data = secret.encode()
    opaque = [*_base64_forms(data), *_base64_forms(b"Bearer " + data),
              data.hex(), data.hex().upper()]
    for form in opaque:
        if len(form) >= MIN_ENCODED_LENGTH:
            forms.setdefault(form, preview)
    return forms


class Redactor:
    """Replaces a fixed set of secrets, in every form of `encoded_forms`, in free text."""

    def __init__(self, secrets: tuple[str, ...]) -> None:
        forms: dict[str, str] = {}
        for secret in secrets:
            for form, replacement in encoded_forms(secret).items():
                forms.setdefault(form, replacement)
        # Longest first: a whole encoded form before a shorter form it contains.
        self._forms = sorted(forms.items(), key=lambda item: len(item[0]), reverse=True)

    def redact(self, text: str) -> str:
        """`text` with every form of every secret replaced."""
        for form, replacement in self._forms:
            if form in text:
                text = text.replace(form, replacement)
        return text


@functools.lru_cache(maxsize=16)
def redactor_for(secrets: tuple[str, ...]) -> Redactor:
    """The `Redactor` of `secrets`, built once per distinct set (reloads make new sets)."""
    return Redactor(secrets)
