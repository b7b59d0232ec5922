"""Monitoring and developer services: Datadog, New Relic, Sentry, Grafana, Shopify,
Databricks, HashiCorp, Linear, Atlassian, Postman, age, Doppler, Pulumi.

Shapes from gitleaks' rule files of the same names (v8.30); Datadog's API (32 hex) and
application (40 hex) keys found by their usual names (`DD_API_KEY`, `DD-APPLICATION-KEY`,
`datadog…`), as gitleaks' `datadog.go` does.
"""

from __future__ import annotations

from opsd.secretscan.rules.model import END, END_URLSAFE, Matcher, Rule, keyed, prefixed

_DATADOG = "[0-9a-fA-F]{40}|[0-9a-fA-F]{32}|[A-Za-z0-9]{40}"

RULES: tuple[Rule, ...] = (
    Rule(
        "datadog-api-key", "Datadog API or application key",
        (keyed("datadog", _DATADOG), keyed("dd_ap", _DATADOG), keyed("dd-ap", _DATADOG)),
        entropy=3.0, public_prefix=False,
    ),
    Rule("new-relic-key", "New Relic user API key (NRAK-)",
         (prefixed("NRAK-", "[A-Z0-9]{27}"),), entropy=3.0),
    Rule(
        "sentry-token", "Sentry organization or user auth token",
        (prefixed("sntrys_", r"eyJ[A-Za-z0-9+/=_\-]{50,600}", r"(?![A-Za-z0-9+/=_\-])"),
         prefixed("sntryu_", "[0-9a-f]{64}")),
        entropy=3.5,
    ),
    Rule(
        "grafana-token", "Grafana service account or Cloud token",
        (prefixed("glsa_", "[A-Za-z0-9]{32}_[A-Fa-f0-9]{8}"),
         prefixed("glc_", r"[A-Za-z0-9+/]{32,400}={0,2}", r"(?![A-Za-z0-9+/=])")),
        entropy=3.0,
    ),
    Rule("shopify-token", "Shopify access token or shared secret",
         (Matcher("shp", "(?:at|ca|pa|ss)_[a-fA-F0-9]{32}" + END),), entropy=3.0),
    Rule("databricks-token", "Databricks access token",
         (prefixed("dapi", r"[0-9a-f]{32}(?:-\d)?"),), entropy=3.0),
    Rule(
        "hashicorp-token", "HashiCorp Vault token or Terraform Cloud API token",
        (prefixed("hvs.", r"[A-Za-z0-9_\-]{90,120}", END_URLSAFE),
         prefixed("hvb.", r"[A-Za-z0-9_\-]{138,300}", END_URLSAFE),
         Matcher(".atlasv1.", r"[A-Za-z0-9_=\-]{60,70}" + END_URLSAFE, before="[A-Za-z0-9]{14}",
                 before_width=14)),
        entropy=3.5,
    ),
    Rule("linear-api-key", "Linear API key", (prefixed("lin_api_", "[A-Za-z0-9]{40}"),),
         entropy=3.0),
    Rule("atlassian-api-token", "Atlassian API token",
         (prefixed("ATATT3", r"[A-Za-z0-9_=\-]{186}", END_URLSAFE),), entropy=3.5),
    Rule("postman-api-key", "Postman API key",
         (prefixed("PMAK-", "[0-9a-f]{24}-[0-9a-f]{34}"),), entropy=3.0),
    Rule("age-secret-key", "age encryption secret key",
         (prefixed("AGE-SECRET-KEY-1", "[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58}"),), entropy=3.0),
    Rule("doppler-token", "Doppler service token",
         (prefixed("dp.pt.", "[A-Za-z0-9]{43}"),), entropy=3.0),
    Rule("pulumi-token", "Pulumi access token", (prefixed("pul-", "[0-9a-f]{40}"),), entropy=3.0),
)
