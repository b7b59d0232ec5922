"""Which config file a command reads (no pydantic here: read-only commands resolve it first)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

DEFAULT_CONFIG_PATH = Path("/etc/opsd/opsd.toml")


def resolve_config_path(
    explicit: str | os.PathLike[str] | None, env: Mapping[str, str]
) -> Path | None:
    """The config file to read: explicit, else $OPSD_CONFIG, else the default if it exists."""
    if explicit:
        return Path(explicit)
    if env.get("OPSD_CONFIG"):
        return Path(env["OPSD_CONFIG"])
    return DEFAULT_CONFIG_PATH if DEFAULT_CONFIG_PATH.exists() else None
