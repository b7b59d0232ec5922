"""The daemon's Alertmanager resend: every `[alerts.alertmanager] resend_interval`, post every
open alert receivers were told about to every peer again, with `endsAt` = now + 4 × the
interval, so Alertmanager keeps it open while this opsd (or its HA peer) is alive and lets it
end on its own when both are gone.

Resends go straight to the peers, not through the outbox: each is an idempotent refresh of the
current state (the store's), so a failed one needs no retry (the next one replaces it) and
nothing can pile up while a peer is down. The outbox keeps the events (FIRING, RESOLVED, a
severity change) in order per peer; a peer that still has messages waiting there is skipped,
so a refresh never overtakes a RESOLVED queued for it. A resolve can still race a refresh (the
refresh read the state just before the alert resolved, and its post lands after the RESOLVED
row's): so after each refresh the state is read again, and an alert that ended meanwhile is
posted once more as ended, before Alertmanager's next group flush could announce it again.

The timer ticks every second and resends when the interval has passed on the monotonic clock,
so a reload that changes the interval (or turns the sink on) takes effect without rescheduling.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

from opsd.alerting import alertmanager
from opsd.exception_text import describe_exception
from opsd.logs import event
from opsd.store import alert_refresh

if TYPE_CHECKING:
    from opsd.alerting.destinations import Destination
    from opsd.alerting.engine import Alert
    from opsd.config import Settings
    from opsd.daemon.service import Daemon
    from opsd.store import StoreAccess

log = logging.getLogger("opsd.daemon")

TICK_SECONDS = 1.0
"""How often the timer asks whether a resend is due."""


class Resender:
    """The timer's job (`timer`, its `tick`): resends when due; remembers each peer's last
    outcome, so a peer going down or coming back is logged once, not at every resend."""

    def __init__(self, daemon: Daemon, inflight: set[asyncio.Task]) -> None:
        self._daemon = daemon
        self._inflight = inflight
        self._last: float | None = None
        self._failing: dict[str, str] = {}

    async def tick(self) -> None:
        """Resend if the interval has passed (and the sink is on)."""
        settings = self._daemon.app.settings
        if not alertmanager.active(settings):
            self._last = None
            return
        started = self._daemon.monotonic()
        interval = settings.alerts.alertmanager.resend_interval
        if self._last is not None and 0 <= started - self._last < interval:
            return
        self._last = started
        task = asyncio.current_task()
        assert task is not None
        self._inflight.add(task)  # a shutdown lets it finish, like a run
        try:
            await self.resend(settings, self._daemon.app.store, self._daemon.clock())
        except asyncio.CancelledError:
            pass  # the shutdown deadline: the next opsd (or the peer opsd) refreshes them
        except Exception as exc:  # the store's trouble is /healthz's to report
            event(log, "alertmanager resend failed", level=logging.WARNING,
                  error=describe_exception(exc))
        finally:
            self._inflight.discard(task)

    async def resend(self, settings: Settings, store: StoreAccess, now: float) -> int:
        """Post the announced open alerts to every peer without waiting rows; returns how
        many peers took them."""
        alerts = await store.call(alert_refresh.announced_alerts)
        if not alerts:
            return 0
        peers = alertmanager.destinations(settings)
        waiting = await store.call(alert_refresh.waiting_keys, [p.key for p in peers])
        config = settings.alerts.alertmanager
        payload = alertmanager.posted(
            alertmanager.refresh_entries(settings, alerts, now), now, config.resend_interval
        )
        chosen = [p for p in peers if p.key not in waiting]
        outcomes = await self._post(settings, chosen, payload)
        for peer, error in zip(chosen, outcomes, strict=True):
            self._note(peer.label, error)
        await self._end_resolved_meanwhile(settings, store, alerts, chosen)
        return sum(error is None for error in outcomes)

    async def _end_resolved_meanwhile(
        self, settings: Settings, store: StoreAccess, posted: Sequence[Alert],
        peers: Sequence[Destination],
    ) -> None:
        """Post as ended the alerts of a refresh that resolved while it was being posted."""
        still = {(a.check, a.target) for a in await store.call(alert_refresh.announced_alerts)}
        ended = [a for a in posted if (a.check, a.target) not in still]
        if not ended or not peers:
            return
        now = self._daemon.clock()
        config = settings.alerts.alertmanager
        entries = [{**entry, "endsAt": now}
                   for entry in alertmanager.refresh_entries(settings, ended, now)]
        await self._post(settings, peers, alertmanager.posted(entries, now,
                                                              config.resend_interval))

    @staticmethod
    async def _post(settings: Settings, peers: Sequence[Destination],
                    payload: list[dict[str, Any]]) -> list[str | None]:
        timeout = settings.alerts.alertmanager.timeout
        return list(await asyncio.gather(*(
            asyncio.to_thread(alertmanager.post, settings, p.url, payload, timeout)
            for p in peers
        )))

    def _note(self, label: str, error: str | None) -> None:
        before = self._failing.pop(label, None)
        if error is not None:
            self._failing[label] = error
            if before is None:
                event(log, "alertmanager peer refused a resend", level=logging.WARNING,
                      url=label, error=error)
        elif before is not None:
            event(log, "alertmanager peer takes resends again", url=label)


def timer(daemon: Daemon, inflight: set[asyncio.Task]) -> Callable[[], Awaitable[None]]:
    """The job for `PlaybookScheduler.add_timer(..., TICK_SECONDS, ...)` (a coroutine
    function: APScheduler runs only those on the loop)."""
    return Resender(daemon, inflight).tick
