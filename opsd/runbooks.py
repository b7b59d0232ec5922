"""Runbook hints per check kind: the seeds' troubleshooting steps, one line each, for alerts."""

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
    "notion.rate_limit": (
        "Honour Retry-After with jitter and back off exponentially; lower notion.rate_limit or "
        "burst, and look for another process using the same integration token."
    ),
    "notion.error_rate": _SUCCESS_RATE,
    "notion.availability": _SUCCESS_RATE,
    "notion.count": "Open the database in Notion and triage the pages the filter matches.",
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
    "maintenance.backup": "Check that storage.backup_dir exists, is writable and has free space.",
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

DEFAULT_HINT = "Run `opsd check {check}` for details and `opsd history {check}` for its trend."


def hint(kind: str, check: str) -> str:
    """The runbook hint for a check kind (by kind, then family, then a generic one)."""
    if kind in HINTS:
        return HINTS[kind]
    return _FAMILY_HINTS.get(kind.split(".", 1)[0], DEFAULT_HINT.format(check=check))
