"""The `opsd proxy` process: open the store (or go on without it), serve until SIGTERM/SIGINT.

The proxy opens the history database twice, on two owner threads: the shared budget's short
transactions must never queue behind a batch of the request log. If the database cannot be
opened the proxy forwards anyway, with the budget in memory, and its healthz says so.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from typing import TYPE_CHECKING

from opsd.config.workspace import workspace_of
from opsd.daemon.sdnotify import Notifier
from opsd.proxy.budget import Budgets
from opsd.proxy.recorder import Recorder
from opsd.proxy.server import ProxyServer
from opsd.store import StoreError
from opsd.store.owner import StoreThread

if TYPE_CHECKING:
    from opsd.config import Settings

log = logging.getLogger("opsd.proxy")


def open_stores(settings: Settings) -> tuple[StoreThread | None, StoreThread | None, str]:
    """(the budget's store, the request log's store, why neither is there: '' when they are)."""
    try:
        budget = StoreThread.open(settings.storage.path)
    except (StoreError, Exception) as exc:  # any reason: forwarding must go on
        return None, None, f"cannot open {settings.storage.path}: {exc}"
    try:
        recording = StoreThread.open(settings.storage.path)
    except (StoreError, Exception) as exc:
        budget.close()
        return None, None, f"cannot open {settings.storage.path}: {exc}"
    return budget, recording, ""


async def serve(settings: Settings) -> int:
    """Run the proxy until a signal; 0 on a clean stop."""
    config = settings.proxy
    upstream = config.upstream or settings.notion.base_url
    budget_store, log_store, problem = open_stores(settings)
    if problem:
        log.warning("proxy: %s; forwarding with the budget in memory, nothing recorded", problem)
    budgets = Budgets(upstream, config.rate_limit, config.burst,
                      max_retry_after=settings.notion.max_retry_after, store=budget_store)
    recorder = Recorder(log_store, unavailable=problem)
    server = ProxyServer(host=config.host, port=config.port, upstream=upstream, budgets=budgets,
                         recorder=recorder, max_queue_wait=config.max_queue_wait,
                         timeout=config.timeout, health_note=lambda: problem,
                         workspace=workspace_of(settings))
    await server.start()
    writing = asyncio.create_task(recorder.run())
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    print(f"opsd proxy: listening on {server.url}, forwarding to {upstream}", flush=True)
    notifier = Notifier()
    notifier.ready(f"forwarding to {upstream}")
    await stop.wait()
    notifier.stopping()
    await server.stop()
    writing.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await writing
    for store in (budget_store, log_store):
        if store is not None:
            store.close()
    return 0
