"""The check catalog: a kind name (`notion.auth`) -> the module that implements it, imported on
first use, so loading a playbook imports only the check modules its entries need.

To add a check, write one function in the module of its family and register it::

    class TrendParams(Params):
        window: Duration = 7 * 86400.0

    @check("history.trend", params=TrendParams, unit="ratio", warn=0.99, crit=0.95,
           direction="below", description="Share of OK results per check over a window")
    async def trend(spec: CheckSpec[TrendParams], ctx: Context) -> Result:
        ...  # spec.params.window is a float

name the kind in `KIND_MODULES` below, then add an entry with `kind = "history.trend"` to a
playbook. Thresholds given here are the defaults; a playbook entry's `warn`/`crit`/`direction`
override them. A check returns one Result, or a list of them (one per target). Raising
`CheckError` ends it with a plain-words reason; any other exception becomes UNKNOWN; exceeding
the entry's timeout becomes CRITICAL.
"""

from __future__ import annotations

import importlib

from opsd.checks.base import REGISTRY, CheckKind

KIND_MODULES: dict[str, str] = {
    "app.error_rate": "opsd.checks.app",
    "cache.hit_rate": "opsd.checks.cache",
    "cache.ttl_review": "opsd.checks.cache",
    "history.trend": "opsd.checks.maintenance",
    "http.endpoint": "opsd.checks.http",
    "maintenance.backup": "opsd.checks.backup",
    "maintenance.disk": "opsd.checks.maintenance",
    "maintenance.retention": "opsd.checks.maintenance",
    "notion.access": "opsd.checks.notion",
    "notion.api_version": "opsd.checks.notion_status",
    "notion.auth": "opsd.checks.notion",
    "notion.availability": "opsd.checks.notion_history",
    "notion.count": "opsd.checks.notion_pages",
    "notion.data_sources": "opsd.checks.notion_sources",
    "notion.error_rate": "opsd.checks.notion_history",
    "notion.latency": "opsd.checks.notion_pages",
    "notion.rate_limit": "opsd.checks.notion_history",
    "notion.request_limits": "opsd.checks.notion_traffic",
    "notion.retry_tax": "opsd.checks.notion_traffic",
    "notion.schema": "opsd.checks.notion_schema",
    "notion.status_page": "opsd.checks.notion_status",
    "notion.token_format": "opsd.checks.notion",
    "report": "opsd.checks.report",
    "secrets.scan": "opsd.checks.secrets",
    "slo.burn_rate": "opsd.checks.slo",
}
"""Every built-in kind and its module (a test keeps this true to the modules' @check)."""


def get_kind(name: str) -> CheckKind | None:
    """The kind `name`, importing its module if needed; None if there is no such kind."""
    if name not in REGISTRY and name in KIND_MODULES:
        importlib.import_module(KIND_MODULES[name])
    return REGISTRY.get(name)


def load_all() -> None:
    """Import every module that registers built-in kinds."""
    for module in sorted(set(KIND_MODULES.values())):
        importlib.import_module(module)


def all_kinds() -> dict[str, CheckKind]:
    """Every kind, built-in and registered, by name."""
    load_all()
    return dict(sorted(REGISTRY.items()))
