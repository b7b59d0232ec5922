"""Cloud providers: AWS (keys, Bedrock), Google (API keys, OAuth), Azure, DigitalOcean,
Heroku, Alibaba.

Shapes from gitleaks' `aws.go`, `gcp.go`, `azure.go`, `digitalocean.go`, `heroku.go` and
`alibaba.go` (v8.30), and kingfisher's `aws.yml` and `google.yml` (secret keys next to their
key ID, `ya29.` access tokens, `GOCSPX-` client secrets).
"""

from __future__ import annotations

from opsd.secretscan.rules.model import END, END_URLSAFE, Matcher, Rule, keyed, prefixed

_B64_40 = "[A-Za-z0-9/+]{40}"
_B64_END = "(?![A-Za-z0-9/+=])"
_UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"

RULES: tuple[Rule, ...] = (
    Rule(
        "aws-access-key-id", "AWS access key ID",
        (Matcher("A", r"(?:KIA|SIA|BIA|CCA)[A-Z2-7]{16}" + END),), entropy=3.0,
    ),
    Rule(
        "aws-secret-access-key", "AWS secret access key (named for AWS, or next to its key ID)",
        (
            keyed("aws", _B64_40, end=_B64_END),
            keyed("secretaccesskey", _B64_40, end=_B64_END),
            # `aws_access_key_id = AKIA…` and, within a few lines, the 40-character secret
            Matcher("A", r"(?:KIA|SIA)[A-Z2-7]{16}[\s\S]{0,200}?[^A-Za-z0-9/+]"
                         r"(?P<secret>" + _B64_40 + ")" + _B64_END),
        ),
        entropy=4.0, public_prefix=False, classes=3,
    ),
    Rule(
        "aws-bedrock-api-key", "Amazon Bedrock API key (long-lived ABSK, short-lived)",
        (
            prefixed("ABSK", r"[A-Za-z0-9+/]{109,269}={0,2}", r"(?![A-Za-z0-9+/=])"),
            # the short-lived key's fixed head (base64 of bedrock.amazonaws.com) and its body;
            # the head alone is documentation, not a key
            prefixed("bedrock-api-key-YmVkcm9jay5hbWF6b25hd3MuY29t", r"[A-Za-z0-9+/=%]{20,4096}",
                     r"(?![A-Za-z0-9+/=%])"),
        ),
        entropy=3.0,
    ),
    Rule(
        "google-api-key", "Google API key",
        (Matcher("A", r"Iza[A-Za-z0-9_\-]{35}" + END),), entropy=3.0,
    ),
    Rule(
        "google-oauth-client-secret", "Google OAuth client secret (GOCSPX-)",
        (prefixed("GOCSPX-", r"[A-Za-z0-9_\-]{28}", END_URLSAFE),), entropy=3.0,
    ),
    Rule(
        "google-oauth-access-token", "Google OAuth access token (ya29.)",
        (prefixed("ya29.", r"[A-Za-z0-9_\-]{30,1024}", END_URLSAFE),), entropy=3.5,
    ),
    Rule(
        "azure-storage-account-key", "Azure Storage account key (AccountKey= in a connection "
                                     "string, or named so)",
        (
            Matcher("ccountKey", r"=(?P<secret>[A-Za-z0-9+/]{86}==)", lead="A"),
            keyed("accountkey", r"[A-Za-z0-9+/]{86}=="),
        ),
        entropy=4.0, boundary=False, public_prefix=False,
    ),
    Rule(
        "azure-ad-client-secret", "Azure AD (Entra ID) client secret",
        # three characters and a digit, `Q~`, then 31-34 more (gitleaks' azure.go)
        (Matcher("Q~", r"[A-Za-z0-9_~.\-]{31,34}(?![A-Za-z0-9_~.\-])",
                 before=r"[A-Za-z0-9_~.]{3}\d", before_width=4),),
        entropy=3.0, public_prefix=False,
    ),
    Rule(
        "digitalocean-token", "DigitalOcean personal access, OAuth or refresh token",
        (prefixed("dop_v1_", "[0-9a-f]{64}"), prefixed("doo_v1_", "[0-9a-f]{64}"),
         prefixed("dor_v1_", "[0-9a-f]{64}")),
        entropy=3.0,
    ),
    Rule(
        "heroku-api-key", "Heroku API key (HRKU-)",
        (prefixed("HRKU-AA", r"[A-Za-z0-9_\-]{58}", END_URLSAFE),), entropy=4.0,
    ),
    Rule(
        "heroku-api-key-legacy", "Heroku API key (a UUID named for Heroku)",
        (keyed("heroku", _UUID),), entropy=3.0, public_prefix=False,
    ),
    Rule("alibaba-access-key-id", "Alibaba Cloud AccessKey ID",
         (prefixed("LTAI", "[A-Za-z0-9]{20}"),), entropy=3.0),
)
