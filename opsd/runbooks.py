"""Runbook hints, all in one place: per check kind (the seeds' troubleshooting steps, one line
each, for alerts) and per cause of a failed Notion request (for results' `details.hint`)."""

from __future__ import annotations

_AUTH = (
    "Check that NOTION_API_TOKEN (or the notion_token credential) holds the current token, "
    "that the integration still has its capabilities and is connected to the workspace, and "
    "regenerate the token if it was revoked; then `opsd check notion.auth`."
)
_PERFORMANCE = (
    "Check cache hit rates and TTLs, filter and paginate queries to cut data transfer, watch "
    "API response times (`opsd history notion.latency`) and reuse connections."
)
_SUCCESS_RATE = (
    "Success 90-95%: intermittent network; 80-90%: rate limiting or authentication; 70-80%: "
    "configuration or resource limits; below 70%: major failure (run `opsd run-playbook "
    "emergency`)."
)

HINTS: dict[str, str] = {
    "notion.token_format": _AUTH,
    "notion.auth": _AUTH,
    "notion.access": (
        "Share the database with the integration (database menu > Connections) and check its ID "
        "under [[notion.databases]]; `opsd check notion.access` names each one."
    ),
    "notion.schema": (
        "Compare the database's properties with required_properties in [[notion.databases]]: "
        "restore a renamed or deleted property, or update the config. opsd never edits the "
        "workspace."
    ),
    "notion.latency": _PERFORMANCE,
    "notion.data_sources": (
        "A database gained or lost a data source, or the integration can read none: move "
        "integrations pinned to Notion-Version 2022-06-28 to 2025-09-03, and share the original "
        "database with the integration; `opsd check notion.data_sources` lists them."
    ),
    "notion.rate_limit": (
        "Honour Retry-After with jitter and back off exponentially; lower notion.rate_limit or "
        "burst, and look for another process using the same integration token."
    ),
    "notion.error_rate": _SUCCESS_RATE,
    "notion.availability": _SUCCESS_RATE,
    "notion.count": "Open the database in Notion and triage the pages the filter matches.",
    "notion.api_version": (
        "Read Notion's upgrade guide for each newer version the result names, update the "
        "integration, then set notion.notion_version to the newest."
    ),
    "notion.status_page": (
        "Notion itself reports an incident or a degraded component: follow it on Notion's "
        "status page; failing Notion checks name it meanwhile. Nothing to fix on our side."
    ),
    "cache.hit_rate": (
        "Check the cache's hit rate and TTL: raise the TTL of data that changes rarely (the "
        "monthly review doubles it, up to 1 h) and invalidate on writes instead of expiring."
    ),
    "cache.ttl_review": (
        "Apply the recommended TTL in the cache's configuration and watch the hit rate for a "
        "week."
    ),
    "http.endpoint": (
        "Run the service's own health check, read its logs, restart it if it hangs, and check "
        "the network path from this host."
    ),
    "app.error_rate": _SUCCESS_RATE,
    "secrets.scan": (
        "Revoke the leaked credential and issue a new one, remove it from the file (and its git "
        "history), update the credential store, then run `opsd scan` again."
    ),
    "maintenance.backup": (
        "Check that storage.backup_dir exists, is writable and has free space; `opsd backup "
        "list` shows the newest verified backup, `opsd backup verify ID` what is wrong with one."
    ),
    "maintenance.retention": "Check that the history database is writable and the disk not full.",
    "history.trend": "Look at the checks with the lowest OK share with `opsd history CHECK`.",
    "opsd.config": (
        "Fix the file (`opsd config check` names the key), then `systemctl reload opsd`; opsd "
        "keeps running with the previous configuration meanwhile."
    ),
}

_FAMILY_HINTS = {
    "notion": _AUTH,
    "cache": HINTS["cache.hit_rate"],
}

# What to do about each kind of failed Notion request (`NotionError.kind`).
_NOTION_TOKEN_STEPS = (
    "1. Verify the token opsd reads (notion.token, NOTION_API_TOKEN or the notion_token "
    "credential) matches the integration's secret; "
    "2. Check the integration's permissions at https://www.notion.so/my-integrations; "
    "3. Regenerate the token if necessary and update it where opsd reads it."
)
_NOTION_STATUS_PAGE = "Check https://status.notion.so; opsd retried with backoff."
NOTION_FAILURE_HINTS: dict[str, str] = {
    "no_token": "Set notion.token in the config file, NOTION_API_TOKEN in the environment, "
                "or a notion_token file in $CREDENTIALS_DIRECTORY.",
    "revoked": _NOTION_TOKEN_STEPS,
    "forbidden": "The integration lacks a capability: enable 'Read content' (and 'Read user "
                 "information') in the integration's settings. " + _NOTION_TOKEN_STEPS,
    "not_found": "Share the database with the integration (in Notion: ••• → Connections → add "
                 "the integration) and check its ID in notion.databases.",
    "bad_request": "Notion rejected the request: check the entry's filter and property names "
                   "and notion.notion_version.",
    "rate_limited": "Notion allows about 3 requests/s per integration on average: lower "
                    "notion.rate_limit or the integration's own request rate.",
    "server_error": _NOTION_STATUS_PAGE,
    "unavailable": _NOTION_STATUS_PAGE,
    "overloaded": _NOTION_STATUS_PAGE + " Notion sheds load with 529: reduce request volume.",
    "bad_gateway": _NOTION_STATUS_PAGE + " Notion's 502 bad_gateway means its edge could not "
                   "reach its own servers.",
    "gateway": "Not Notion answered but something in between (a CDN, WAF, firewall or proxy): "
               "check HTTPS_PROXY/HTTP_PROXY, the egress firewall and notion.base_url. A "
               "Cloudflare 'Attention Required' 403 means Cloudflare blocked or challenged this "
               "host's IP (VPN, shared or flagged egress): try from another egress IP, or give "
               "Notion support the page's Ray ID. A 5xx page from the CDN in front of "
               "api.notion.com can mean Notion's servers are down: check "
               "https://status.notion.so. The token and sharing are not in question.",
    "gateway_timeout": _NOTION_STATUS_PAGE,
    "network": "Check DNS, firewall and proxy settings on this host, and notion.base_url.",
    "timeout": "Check https://status.notion.so and this host's network; raise the entry's "
               "timeout if Notion is slow but working.",
    "no_slot": "opsd's own request budget is used up: raise the entry's timeout, check fewer "
               "databases or samples, or raise notion.rate_limit (max ~3/s).",
    "multiple_sources": "The database gained a second data source: Notion-Version 2022-06-28 "
                        "can no longer read, query or add pages to it. Set notion.notion_version "
                        "= \"2025-09-03\" and upgrade every integration pinned to 2022-06-28 "
                        "(or remove the added data source in Notion).",
    "linked_database": "A linked database is a view of another database and the API cannot "
                       "read it: open its source (the ↗ next to its title), put that database's "
                       "ID in notion.databases and share it with the integration.",
    "no_accessible_source": "The integration can read no data source of this database: it is a "
                            "linked database (a view of another one), or its data source is not "
                            "shared. Share the original database with the integration (••• → "
                            "Connections) and configure its ID in notion.databases.",
}

# Hints that results of particular Notion checks carry in `details.hint`.
TOKEN_SHAPE_HINT = (
    "Copy the Internal Integration Secret again from https://www.notion.so/my-integrations; "
    "Notion may also have changed its format, in which case notion.auth tells whether it works."
)
SCHEMA_HINT = (
    "Add or retype the properties in Notion (opsd only reports; it never changes the "
    "workspace), or correct notion.databases[].required_properties."
)

SCHEMA_RENAME_HINT = (
    "update required_properties / the playbook filters to the new name; do not add a new "
    "property"
)

SCHEMA_OPTION_HINT = (
    "Restore the option in Notion, or change the playbook filter to an option the property "
    "still has (`opsd schema DATABASE` lists them)."
)

SCHEMA_OPTION_RENAME_HINT = (
    "update the playbook filter / where to the option's new name (the option was renamed in "
    "Notion, not removed)"
)

DATA_SOURCES_CHANGED_HINT = (
    "Integrations pinned to Notion-Version 2022-06-28 cannot read, query or add pages to a "
    "database with several data sources: move them to 2025-09-03 and address data sources by "
    "data_source_id; update any integration that stored a removed data source's id."
)
SOURCE_NOT_SHARED_HINT = (
    "Share the database with the integration again (••• → Connections); a data source shown "
    "from another database needs that database shared too."
)

WHERE_HINT = (
    "Name the properties as the database has them (`opsd schema DATABASE` lists names and "
    "types); for other types or timestamps write a Notion filter instead of where."
)
CIRCUIT_OPEN_HINT = (
    "Notion failed server-side several times in a row, so opsd stopped sending its checks "
    "and probes GET /v1/users/me with backoff instead. Check https://status.notion.so; "
    "the checks run again once two probes in a row succeed ([notion.circuit])."
)
DEFAULT_HINT = "Run `opsd check {check}` for details and `opsd history {check}` for its trend."


_SLOW_NOTION = (
    "Notion answered, but slowly: check https://status.notion.so for degraded performance and "
    "this host's network path (DNS, proxy, egress); the token and sharing are fine. If this is "
    "the workspace's usual speed, raise the entry's warn/crit."
)
_SLOW = (
    "It answered, but slowly: check the service's load and logs and the network path from "
    "this host; if this is its usual speed, raise the entry's warn/crit."
)


def threshold_hint(kind: str, check: str, cause: str) -> str:
    """The runbook for a result a threshold made non-OK: `slow` has its own, `high`/`low` the
    kind's (its steps are about that value)."""
    if cause == "slow":
        return _SLOW_NOTION if kind.startswith("notion.") else _SLOW
    return hint(kind, check)


def hint(kind: str, check: str) -> str:
    """The runbook hint for a check kind (by kind, then family, then a generic one)."""
    if kind in HINTS:
        return HINTS[kind]
    return _FAMILY_HINTS.get(kind.split(".", 1)[0], DEFAULT_HINT.format(check=check))
