"""Shapes that are not one service's: PEM private keys, JWTs, passwords in URLs and JDBC
strings, `Bearer` tokens and the generic assignment rule."""

from __future__ import annotations

from opsd.secretscan.rules.model import END, Matcher, Rule, assignment

RULES: tuple[Rule, ...] = (
    Rule(
        "private-key", "PEM private key",
        (Matcher("-----BEGIN", r"[A-Z ]{0,24} PRIVATE KEY(?: BLOCK)?-----"
                               r"(?P<secret>[A-Za-z0-9+/=\s\\:,\-]{64,16384}?)-----END"),),
        entropy=4.0, boundary=False, public_prefix=False, multiline=True,
    ),
    Rule(
        "jwt", "JSON Web Token (signed, or unsigned: header.payload.)",
        (Matcher("J", r"[A-Za-z0-9_\-]{10,}\.eyJ[A-Za-z0-9_\-]{10,}(?:\.[A-Za-z0-9_\-]*)?"
                      + END, lead="ey"),),
        entropy=3.5,
    ),
    Rule(
        "jdbc-password", "Password in a JDBC connection string (;password= or ?password=)",
        (Matcher("jdbc:", r"[a-z0-9]{2,20}:[^\s'\"`<>]{0,256}?[;?&](?:password|pwd)="
                          r"(?P<secret>[^;&\s'\"`<>]{3,128})", ignore_case=True),),
        boundary=False, public_prefix=False, generic=True, weak_ok=True,
    ),
    Rule(
        "url-password", "Password embedded in a URL (scheme://user:password@host)",
        (Matcher("://", r"[^\s/@:'\"`<>{}]{0,64}:"
                        r"(?P<secret>[^\s/@:'\"`<>{}]{3,128})@[A-Za-z0-9]"),),
        boundary=False, public_prefix=False, generic=True, weak_ok=True,
    ),
    Rule(
        "bearer-token", "Opaque bearer token (Authorization header)",
        (Matcher("bearer", r"[ \t]+(?P<secret>[a-z0-9\-._~+/]{20,512}=*)" + END, folded=True),),
        entropy=3.5, public_prefix=False, generic=True, lowercase=True,
    ),
    Rule(
        "generic-secret",
        "High-entropy value assigned to a token/secret/password/api_key/credentials/auth key",
        (
            assignment("", "pass", "(?:word|wd|phrase)?s?"),
            assignment("se", "cret", "(?:s|key)?"),
            assignment("to", "ken", "s?"),
            assignment("a", "pi", r"[_.\-]?key"),
            assignment("a", "ccess", r"[_.\-]?key"),
            assignment("c", "redential", "s?", exact=True),
            assignment("a", "uth", r"(?:[_.\-]?(?:token|key))?", exact=True),
        ),
        entropy=3.0, boundary=False, public_prefix=False, generic=True, lowercase=True,
    ),
)
