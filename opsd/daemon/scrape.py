"""One /metrics render shared by every scrape waiting for it (single flight).

Rendering the registry is CPU-bound; when a thousand scrapes arrive together, rendering it a
thousand times would starve the listener (and, through the GIL, the daemon). A scrape that
arrives while a render of the same format is in progress waits for that render and gets its
output; one that arrives after it finished starts a new render. So no scrape is answered
with figures older than its own arrival by more than one render's duration, and nothing is
cached between renders. Renders run in a small thread pool, off the listener's event loop.
"""

from __future__ import annotations

import asyncio
import dataclasses
import gzip
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import Executor

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder, gzip_accepted

from opsd.logs import event

log = logging.getLogger("opsd.daemon.http")

Encoder = Callable[[CollectorRegistry], bytes]

# Compressing is part of the shared render; level 6 costs a third of level 9 for ~the size.
_GZIP_LEVEL = 6


def _encoder_for(accept: str) -> tuple[Encoder, str]:
    """`choose_encoder`, except that an Accept it cannot read (`version=abc` raises a
    TypeError in prometheus_client) gets the default text format, as no Accept does."""
    try:
        return choose_encoder(accept)
    except (TypeError, ValueError):
        return choose_encoder("")


class RenderError(Exception):
    """The registry could not be rendered (a collector failed): the scrape gets a 500."""


@dataclasses.dataclass(frozen=True)
class Exposition:
    """A rendered /metrics body and the headers that describe it."""

    body: bytes
    headers: tuple[tuple[str, str], ...]


@dataclasses.dataclass(frozen=True)
class _Format:
    """What a scrape asks for: scrapes asking the same thing share a render."""

    content_type: str
    names: tuple[str, ...] | None
    gzipped: bool


class SharedRender:
    """Renders `registry` for scrapes, one render at a time per format (single flight).

    Use from one event loop; `renders` counts the renders started (for tests and benches)."""

    def __init__(self, registry: CollectorRegistry, executor: Executor | None = None) -> None:
        self._registry = registry
        self._executor = executor
        self._inflight: dict[_Format, asyncio.Future[Exposition]] = {}
        self.renders = 0

    async def exposition(
        self, accept: str, accept_encoding: str, names: Sequence[str] | None = None
    ) -> Exposition:
        """The registry rendered as `accept` and `accept_encoding` ask (as prometheus_client's
        own handler reads them), restricted to `names` (`?name[]=`) if given."""
        encoder, content_type = _encoder_for(accept)
        wanted = _Format(content_type, tuple(sorted(set(names))) if names else None,
                         gzip_accepted(accept_encoding))
        future = self._inflight.get(wanted)
        if future is None:
            future = self._start(wanted, encoder)
        # Shielded: a scraper hanging up must not cancel the render the others wait for.
        return await asyncio.shield(future)

    def _start(self, wanted: _Format, encoder: Encoder) -> asyncio.Future[Exposition]:
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self._executor, self._render, wanted, encoder)
        self.renders += 1
        self._inflight[wanted] = future

        def done(finished: asyncio.Future[Exposition]) -> None:
            if self._inflight.get(wanted) is finished:
                del self._inflight[wanted]
            if not finished.cancelled():
                finished.exception()  # retrieved here: every waiter may have hung up

        future.add_done_callback(done)
        return future

    def _render(self, wanted: _Format, encoder: Encoder) -> Exposition:
        registry = self._registry
        if wanted.names is not None:
            registry = registry.restricted_registry(wanted.names)  # type: ignore[assignment]
        try:
            body = encoder(registry)
        except Exception as exc:  # a collector's bug: one log line per render, a 500 for all
            event(log, "metrics render failed", level=logging.ERROR, error=repr(exc))
            raise RenderError(repr(exc)) from exc
        headers = [("Content-Type", wanted.content_type), ("Vary", "Accept, Accept-Encoding")]
        if wanted.gzipped:
            body = gzip.compress(body, compresslevel=_GZIP_LEVEL)
            headers.append(("Content-Encoding", "gzip"))
        return Exposition(body, tuple(headers))
