"""Which commands need a configuration file, and the one line they print when there is none.

Without a file, opsd would run on its built-in defaults: no token, the shipped playbooks and
a history database created on the spot at /var/lib/opsd/opsd.db. For a command that reads or
writes the history, runs checks or sends alerts, that is never what the operator meant (a
missing /etc/opsd/opsd.toml, an `OPSD_CONFIG` set in another shell), so it names the places
searched and exits 3 before anything is created. Commands that are useful on defaults alone
(`kinds`, `scan`, `sandbox`, `demo`, which writes its own file) run as before.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping

from opsd.config import paths
from opsd.errors import ConfigError

WITHOUT_CONFIG = frozenset({"kinds", "scan", "sandbox", "demo"})
"""Commands that work on defaults: they read no history, or make their own configuration."""


def needs_config(args: argparse.Namespace) -> bool:
    """True if the parsed command needs a configuration file to do what was asked."""
    return getattr(args, "verb", None) not in WITHOUT_CONFIG


def no_config_message() -> str:
    """The one line for a command that needs a configuration file when none was found."""
    return (
        "no configuration file: no --config given, $OPSD_CONFIG not set, "
        f"{paths.DEFAULT_CONFIG_PATH} does not exist "
        "(start from config.example.toml, see the README's Quick start)"
    )


def require_config_file(args: argparse.Namespace, env: Mapping[str, str] | None = None) -> None:
    """Raise ConfigError (one line, exit 3) when the command needs a file and none is found."""
    if not needs_config(args):
        return
    environ = os.environ if env is None else env
    if paths.resolve_config_path(getattr(args, "config", None), environ) is None:
        raise ConfigError(no_config_message())
