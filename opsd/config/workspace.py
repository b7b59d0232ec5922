"""The instance's workspace: the `workspace` label on its metrics and its Alertmanager alerts."""

from __future__ import annotations

from opsd.config.loading import config_file_of
from opsd.config.sections import Settings


def workspace_of(settings: Settings) -> str:
    """`[metrics] workspace`, else the config file's stem (`production` for
    /etc/opsd/production.toml, `opsd` for opsd.toml), else "opsd".

    Both servers of an HA pair read the same config, so they label alike."""
    if settings.metrics.workspace:
        return settings.metrics.workspace
    config_file = config_file_of(settings)
    return config_file.stem if config_file is not None and config_file.stem else "opsd"
