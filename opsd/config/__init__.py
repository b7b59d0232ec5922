"""Configuration (pydantic-settings): the sections' models in `sections`, reading files,
environment and credentials in `loading`, validation errors in plain words in `messages`.

`config` sits low in the layers: it imports nothing of opsd above errors, durations, cron
and selectors.
"""

from opsd.config.base import Section
from opsd.config.loading import (
    DEFAULT_CONFIG_PATH,
    config_file_of,
    load_settings,
    resolve_config_path,
)
from opsd.config.messages import format_location, friendly_message
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

__all__ = [
    "DEFAULT_CONFIG_PATH", "ENV_PREFIX", "NOTION_VERSIONS", "SOURCE_FAMILIES", "AlertsConfig",
    "AppConfig", "CacheConfig", "DaemonConfig", "DatabaseConfig", "EndpointConfig",
    "MaintenanceWindow", "MetricsConfig", "NotionConfig", "PropertyType", "SchedulerConfig",
    "SecretsConfig", "Section", "Settings", "SourceConfig", "StorageConfig", "TransportConfig",
    "config_file_of", "format_location", "friendly_message", "load_settings",
    "normalise_notion_id", "resolve_config_path",
]
