"""Handlers of `opsd run` (the daemon) and `opsd demo` (the daemon against the sandbox)."""

from __future__ import annotations

import argparse
import asyncio

from opsd.config import load_settings
from opsd.daemon import Daemon


def cmd_run(args: argparse.Namespace) -> int:
    """Run the daemon until SIGTERM/SIGINT."""
    daemon = Daemon(load_settings(args.config))
    return asyncio.run(daemon.run())
