"""What a check may touch: settings, the store, shared clients and the clock.

Checks reach the world only through their `Context`, so tests hand them a sandbox, a local
server or a frozen clock. Shared clients (`Resources`) live as long as their owner (one CLI
command, or the daemon) so that the Notion rate limiter and connection pools are shared.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import httpx

    from opsd.config import Settings
    from opsd.notion.service import NotionService
    from opsd.playbooks import PlaybookSet
    from opsd.store import StoreAccess


class Resources:
    """Long-lived clients, created on first use and closed by `aclose()`."""

    def __init__(
        self, settings: Settings, store: StoreAccess, clock: Callable[[], float] = time.time
    ) -> None:
        self.settings = settings
        self.store = store
        self.clock = clock
        self._http: httpx.AsyncClient | None = None
        self._notion: NotionService | None = None

    @property
    def http(self) -> httpx.AsyncClient:
        """A plain HTTP client for endpoints, exporters and heartbeats."""
        if self._http is None:
            import httpx

            from opsd import __version__

            self._http = httpx.AsyncClient(
                timeout=10.0,
                follow_redirects=False,
                headers={"User-Agent": f"opsd/{__version__}"},
            )
        return self._http

    @property
    def notion(self) -> NotionService:
        """The shared Notion client (rate-limited, instrumented); see `opsd.notion`."""
        if self._notion is None:
            from opsd.notion.service import NotionService

            self._notion = NotionService(self.settings.notion, store=self.store, clock=self.clock,
                                         timezone=self.settings.scheduler.timezone)
        return self._notion

    def playbooks(self) -> PlaybookSet | None:
        """The configured playbooks, read now; None if they cannot be loaded."""
        from opsd.errors import OpsdError
        from opsd.playbooks import load_playbooks

        try:
            return load_playbooks(self.settings)
        except OpsdError:
            return None

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None
        if self._notion is not None:
            await self._notion.aclose()
            self._notion = None


@dataclasses.dataclass
class Context:
    """Handed to every check function."""

    settings: Settings
    store: StoreAccess
    resources: Resources
    playbook: str = ""
    clock: Callable[[], float] = time.time
    read_only: bool = False
    """A plugin run (`opsd check` without --record): look, but keep no baseline (counter
    samples, schema and data-source snapshots), so the daemon's next comparison is unchanged."""

    def now(self) -> float:
        """Current time, UTC epoch seconds (frozen in tests)."""
        return self.clock()

    @property
    def http(self) -> httpx.AsyncClient:
        return self.resources.http

    @property
    def notion(self) -> NotionService:
        return self.resources.notion
