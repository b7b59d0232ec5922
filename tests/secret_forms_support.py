"""The forms a secret may take in text or bytes, to assert that none of them is anywhere."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote, quote_plus


def b64(text: str, encode: Callable[[bytes], bytes] = base64.b64encode) -> str:
    return encode(text.encode()).decode()


FORMS: dict[str, Callable[[str], str]] = {
    "raw": lambda s: s,
    "json": lambda s: json.dumps(s)[1:-1],
    "json, not ascii": lambda s: json.dumps(s, ensure_ascii=False)[1:-1],
    "json twice": lambda s: json.dumps(json.dumps(s))[1:-1],
    "repr": lambda s: repr(s),
    "repr of bytes (httpx's header error)": lambda s: repr(("Bearer " + s).encode()),
    "quote": lambda s: quote(s, safe=""),
    "quote, / safe": lambda s: quote(s),
    "quote_plus": lambda s: quote_plus(s, safe=""),
    "quote, lower-case escapes": lambda s: re.sub(r"%[0-9A-F]{2}", lambda m: m[0].lower(),
                                                  quote(s, safe="")),
    "base64": b64,
    "base64 unpadded": lambda s: b64(s).rstrip("="),
    "base64 url-safe": lambda s: b64(s, base64.urlsafe_b64encode),
    "base64 url-safe unpadded": lambda s: b64(s, base64.urlsafe_b64encode).rstrip("="),
    "base64 of Bearer": lambda s: b64("Bearer " + s),
    "base64 of user:password (basic auth)": lambda s: b64("opsd:" + s),
    "base64 of a longer text": lambda s: b64('{"headers": {"Authorization": "' + s + '"}}'),
    "hex": lambda s: s.encode().hex(),
    "hex upper": lambda s: s.encode().hex().upper(),
}


def needles(secret: str) -> dict[str, bytes]:
    """Form name -> bytes to look for: every FORMS entry, and the secret's middle (a part of
    it that survives any preview), in UTF-8 and, for the textual forms, UTF-16."""
    found = {name: form(secret).encode() for name, form in FORMS.items()}
    found["middle"] = secret[4:12].encode()
    found["utf-16"] = secret.encode("utf-16-le")
    return found


def leaked(text: str | bytes, secret: str) -> list[str]:
    """The names of the forms of `secret` that `text` holds ([] when none)."""
    data = text.encode() if isinstance(text, str) else text
    return [name for name, needle in needles(secret).items() if needle in data]


def leaked_in_tree(root: Path, secret: str) -> dict[str, list[str]]:
    """File (relative to `root`) -> forms of `secret` its bytes hold, for every file below."""
    found = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        forms = leaked(path.read_bytes(), secret)
        if forms:
            found[str(path.relative_to(root))] = forms
    return found
