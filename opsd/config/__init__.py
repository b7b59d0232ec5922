"""Configuration (pydantic-settings): the sections' models in `sections` and `services`,
reading files, environment and credentials in `loading`, which file in `paths`, validation
errors in plain words in `messages`.

`config` sits low in the layers: it imports nothing of opsd above errors, durations, cron
and selectors. The names below load their module on first use (PEP 562), so that
`opsd.config.paths` — all a read-only command needs before it knows whether anything
changed — does not pull in pydantic.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from opsd.config.base import Duration, Section
    from opsd.config.loading import config_file_of, load_settings
    from opsd.config.messages import format_location, friendly_message
    from opsd.config.paths import DEFAULT_CONFIG_PATH, resolve_config_path
    from opsd.config.sections import (
        ENV_PREFIX,
        NOTION_VERSIONS,
        AlertsConfig,
        DaemonConfig,
        DatabaseConfig,
        MaintenanceWindow,
        MetricsConfig,
        NotionConfig,
        PropertyType,
        SchedulerConfig,
        SecretsConfig,
        Settings,
        StorageConfig,
        normalise_notion_id,
    )
    from opsd.config.services import (
        SOURCE_FAMILIES,
        AppConfig,
        CacheConfig,
        EndpointConfig,
        SourceConfig,
        TransportConfig,
    )

_MODULES = {
    "Duration": "opsd.config.base", "Section": "opsd.config.base",
    "config_file_of": "opsd.config.loading", "load_settings": "opsd.config.loading",
    "format_location": "opsd.config.messages", "friendly_message": "opsd.config.messages",
    "DEFAULT_CONFIG_PATH": "opsd.config.paths", "resolve_config_path": "opsd.config.paths",
    "ENV_PREFIX": "opsd.config.sections", "NOTION_VERSIONS": "opsd.config.sections",
    "AlertsConfig": "opsd.config.sections", "DaemonConfig": "opsd.config.sections",
    "DatabaseConfig": "opsd.config.sections", "MaintenanceWindow": "opsd.config.sections",
    "MetricsConfig": "opsd.config.sections", "NotionConfig": "opsd.config.sections",
    "PropertyType": "opsd.config.sections", "SchedulerConfig": "opsd.config.sections",
    "SecretsConfig": "opsd.config.sections", "Settings": "opsd.config.sections",
    "StorageConfig": "opsd.config.sections", "normalise_notion_id": "opsd.config.sections",
    "SOURCE_FAMILIES": "opsd.config.services", "AppConfig": "opsd.config.services",
    "CacheConfig": "opsd.config.services", "EndpointConfig": "opsd.config.services",
    "SourceConfig": "opsd.config.services", "TransportConfig": "opsd.config.services",
}

__all__ = [
    "DEFAULT_CONFIG_PATH",
    "ENV_PREFIX",
    "NOTION_VERSIONS",
    "SOURCE_FAMILIES",
    "AlertsConfig",
    "AppConfig",
    "CacheConfig",
    "DaemonConfig",
    "DatabaseConfig",
    "Duration",
    "EndpointConfig",
    "MaintenanceWindow",
    "MetricsConfig",
    "NotionConfig",
    "PropertyType",
    "SchedulerConfig",
    "SecretsConfig",
    "Section",
    "Settings",
    "SourceConfig",
    "StorageConfig",
    "TransportConfig",
    "config_file_of",
    "format_location",
    "friendly_message",
    "load_settings",
    "normalise_notion_id",
    "resolve_config_path",
]


def __getattr__(name: str) -> Any:
    module = _MODULES.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
