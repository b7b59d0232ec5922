"""`opsd proxy`: forward the integration's Notion traffic through one budget, recorded
(`opsd.proxy`). Runs until SIGTERM or Ctrl-C, like `opsd run`."""

from __future__ import annotations

import argparse
import asyncio

from opsd.config import load_settings
from opsd.logs import configure


def cmd_proxy(args: argparse.Namespace) -> int:
    """Serve the proxy; bad configuration is one line and exit 3 (raised as ConfigError)."""
    settings = load_settings(args.config)
    configure(settings.daemon.log_format, settings.daemon.log_level, redact=settings.redact)
    from opsd.proxy.run import serve  # httpx and the limiter load only for this verb

    return asyncio.run(serve(settings))
