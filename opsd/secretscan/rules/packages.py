"""Package registries: npm, PyPI, RubyGems, Docker Hub (gitleaks' `npm.go`, `pypi.go`,
`rubygems.go`; detect-secrets' `npm.py` for `.npmrc`; Docker's `dckr_pat_` format)."""

from __future__ import annotations

from opsd.secretscan.rules.model import END_URLSAFE, Matcher, Rule, prefixed

RULES: tuple[Rule, ...] = (
    Rule("npm-token", "npm access token", (prefixed("npm_", "[A-Za-z0-9]{36}"),), entropy=3.0),
    Rule(
        "pypi-token", "PyPI upload token",
        # the macaroon's fixed head: base64 of its location, pypi.org or test.pypi.org; at
        # least 70 more characters (detect-secrets' bound: real ones have about 170)
        (prefixed("pypi-AgEIcHlwaS5vcmc", r"[A-Za-z0-9_\-]{70,1000}", END_URLSAFE),
         prefixed("pypi-AgENdGVzdC5weXBpLm9yZw", r"[A-Za-z0-9_\-]{70,1000}", END_URLSAFE)),
        entropy=3.0,
    ),
    Rule(
        "npmrc-auth-token", "npm registry auth token in .npmrc (_authToken=)",
        (Matcher("_authToken=", r"[ \t]{0,2}(?P<secret>[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-"
                                r"[0-9a-f]{4}-[0-9a-f]{12}|[A-Za-z0-9_\-]{36,64})" + END_URLSAFE),),
        entropy=3.0, boundary=False, public_prefix=False,
    ),
    Rule("rubygems-api-key", "RubyGems API key", (prefixed("rubygems_", "[0-9a-f]{48}"),),
         entropy=3.0),
    Rule("dockerhub-token", "Docker Hub personal access token",
         (prefixed("dckr_pat_", r"[A-Za-z0-9_\-]{27}", END_URLSAFE),), entropy=3.0),
)
