"""The `opsd run` process: scheduling, the HTTP listener, signals, systemd notify and watchdog.

Lifecycle: load config and playbooks -> open the store -> listen on /metrics -> schedule (and
catch up) -> READY=1 -> run until SIGTERM/SIGINT -> STOPPING=1 -> stop firing, let running
playbooks finish until `scheduler.shutdown_timeout`, cancel the rest -> close -> exit 0.
SIGHUP reloads config and playbooks; a config that does not validate keeps the old one.

The watchdog ping comes from a task on the event loop itself, so a loop blocked by a stuck
call stops pinging and systemd restarts the service; /healthz reads the same tick.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import signal
import time
import zoneinfo
from collections.abc import Callable, Mapping, Sequence
from typing import TextIO

from opsd import __version__, metrics
from opsd.alerting import observer as alerting
from opsd.alerting import replay, routing_warnings
from opsd.app import App
from opsd.config import Settings, config_file_of, load_settings
from opsd.config.loading import config_label
from opsd.config.plain_http import plain_http_warnings
from opsd.config.writable import require_writable_storage
from opsd.daemon import alertmanager_resend, exposure, rollup_job, series, workspace_label
from opsd.daemon.clock import ClockWatch, step_words
from opsd.daemon.http import MetricsServer
from opsd.daemon.scheduler import PlaybookScheduler
from opsd.daemon.sdnotify import Notifier
from opsd.daemon.storage_watch import StorageWatch, lock_free
from opsd.errors import ConfigError
from opsd.exception_text import describe_exception
from opsd.logs import configure as configure_logs
from opsd.logs import event
from opsd.notion.circuit import observed_line
from opsd.playbooks import Playbook
from opsd.reports import slo_metrics
from opsd.results import RunReport
from opsd.runner import Observer
from opsd.store import probe, runs
from opsd.store.owner import StoreThread

log = logging.getLogger("opsd.daemon")  # the name operators filter on (unchanged)

# /healthz calls the loop dead when its tick is this stale (the tick runs every second).
_TICK_SECONDS = 1.0
_STALE_AFTER_SECONDS = 10.0
# The store's thread tries a write transaction this often; /healthz reads the outcome.
_STORE_PROBE_SECONDS = 10.0
# A query queued this long means the database is stuck (longer than any busy timeout).
_STORE_STUCK_SECONDS = 60.0


class Daemon:
    """One running opsd: owns the App, the scheduler and the HTTP listener."""

    def __init__(
        self,
        settings: Settings,
        *,
        env: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        observers: list[Observer] | None = None,
        log_stream: TextIO | None = None,
    ) -> None:
        self.settings = settings
        self.env = env
        self.clock = clock
        self.monotonic = monotonic
        self.observers = [metrics.observe_run, slo_metrics.observe_run, *(observers or [])]
        self.log_stream = log_stream
        self.notifier = Notifier(env)
        self.storage = StorageWatch(clock)  # before the first app: its runner records through it
        self.app = self._new_app(settings)
        self.server: MetricsServer | None = None
        self.scheduler: PlaybookScheduler | None = None
        self._store_writable = True
        self._inflight: set[asyncio.Task] = set()
        self._retiring: set[asyncio.Task] = set()
        self._last_tick = monotonic()
        self._stop = asyncio.Event()
        self._stopping = False
        self._reload_lock = asyncio.Lock()

    # --- lifecycle ---------------------------------------------------------------------------

    async def run(self) -> int:
        """Serve until SIGTERM or SIGINT; returns the exit code (0)."""
        self._configure_logs()
        playbooks = self.app.playbooks  # validates every playbook before anything starts
        await self.storage.open(self.app)  # opens and migrates off the loop
        # Runs recorded but never fed to the alert engine (a crash between the two), in
        # order, before any new run: see opsd.alerting.replay.
        await asyncio.to_thread(replay.replay_app, self.app)
        await self._publish_budget(self.app)
        await series.publish_at_start(self.app)  # the history's series, before the first scrape
        self.server = self._start_server(self.settings)
        self.scheduler = PlaybookScheduler(self.settings.scheduler.timezone, self.run_playbook)
        catch_up = self.scheduler.schedule(
            playbooks, await self._last_starts(self.app), self._now(),
            catch_up_spacing=self.settings.scheduler.catch_up_spacing,
        )
        self.scheduler.add_timer(
            "alerts", self.settings.scheduler.alerts_interval, self._deliver_alerts
        )
        self.scheduler.add_timer("rollups", rollup_job.INTERVAL_SECONDS,  # after the replay
                                 rollup_job.timer(self, self._inflight), at_once=True)
        self.scheduler.add_timer("alertmanager", alertmanager_resend.TICK_SECONDS,
                                 alertmanager_resend.timer(self, self._inflight))
        self.scheduler.start()
        metrics.set_next_runs(self.scheduler.next_runs())
        self._install_signals()
        ticker = asyncio.create_task(self._tick(), name="opsd-tick")
        prober = asyncio.create_task(self._probe_store(), name="opsd-store-probe")
        scheduled = [p.name for p in playbooks if p.scheduled]
        self.notifier.ready(f"scheduling {len(scheduled)} playbooks")
        event(log, "started", version=__version__, playbooks=",".join(scheduled),
              catch_up=",".join(catch_up) or "none", timezone=self.settings.scheduler.timezone,
              metrics=self.server.url if self.server else "disabled",
              watchdog_seconds=self.notifier.watchdog_interval or "off")
        for warning in (*routing_warnings.of_settings(self.settings, playbooks),
                        *plain_http_warnings(self.settings, config_label(self.settings)),
                        *exposure.of_settings(self.settings)):
            event(log, warning.removeprefix("warning: "), level=logging.WARNING)
        await self._stop.wait()
        await self._shutdown([ticker, prober])
        return 0

    def request_stop(self) -> None:
        """Begin a graceful shutdown (SIGTERM, SIGINT)."""
        if not self._stopping:
            self._stopping = True
            self._stop.set()

    async def _shutdown(self, background: list[asyncio.Task[None]]) -> None:
        # STOPPING=1 first: systemd reads it as "shutdown has begun", not "done".
        self.notifier.stopping()
        event(log, "stopping", running=len(self._inflight))
        assert self.scheduler is not None
        self.scheduler.pause()
        if self._inflight:
            _, late = await asyncio.wait(
                set(self._inflight), timeout=self.settings.scheduler.shutdown_timeout
            )
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
        self.scheduler.shutdown()
        for task in background:
            task.cancel()
        await asyncio.gather(*background, *self._retiring, return_exceptions=True)
        if self.server is not None:
            self.server.stop()
        await self.app.aclose()
        # The last connection to close checkpoints the WAL; its thread finishes queued work.
        await asyncio.to_thread(self.app.close_store)
        event(log, "stopped")

    # --- running playbooks -------------------------------------------------------------------

    async def run_playbook(self, playbook: Playbook, trigger: str) -> RunReport | None:
        """Run one playbook with the current app; log it and ping the heartbeat on success."""
        app = self.app
        task = asyncio.current_task()
        assert task is not None
        self._inflight.add(task)
        try:
            report = await app.runner.run(playbook, trigger=trigger)
        except asyncio.CancelledError:
            # Only the shutdown deadline cancels a run, and this is the job's outermost frame.
            event(log, "playbook run cancelled at shutdown", level=logging.WARNING,
                  playbook=playbook.name, trigger=trigger)
            return None
        finally:
            self._inflight.discard(task)
        _log_report(report)
        if self.scheduler is not None:
            metrics.set_next_runs(self.scheduler.next_runs())
        daemon = app.settings.daemon
        wanted = daemon.heartbeat_url and playbook.name == daemon.heartbeat_playbook
        if wanted and report.exit_code == 0:
            await self._heartbeat(app)
        return report

    async def _heartbeat(self, app: App) -> None:
        import httpx

        url = app.settings.daemon.heartbeat_url
        assert url is not None
        try:
            response = await app.resources.http.get(url.get_secret_value())
        except httpx.HTTPError as exc:
            error = describe_exception(exc)
        else:
            error = "" if response.is_success else f"HTTP {response.status_code}"
        metrics.observe_heartbeat(not error)
        if error:
            event(log, "heartbeat failed", level=logging.WARNING, error=error)

    # --- reload ------------------------------------------------------------------------------

    def request_reload(self) -> None:
        """Reload config and playbooks (SIGHUP), in a task on the loop."""
        task = asyncio.get_running_loop().create_task(self.reload(), name="opsd-reload")
        self._retiring.add(task)
        task.add_done_callback(self._retiring.discard)

    async def reload(self) -> bool:
        """Swap in a freshly loaded config; an invalid one is logged and the old one kept.

        Whatever goes wrong (a user's mistake is a ConfigError; anything else is a bug, or the
        system refusing), the outcome is one log line, the `opsd.config` alert and READY=1:
        the daemon keeps running what it ran."""
        async with self._reload_lock:
            self.notifier.reloading()
            try:
                return await self._reload()
            except ConfigError as exc:
                await self._reload_failed(exc.problems)
            except Exception as exc:  # a reload never takes the daemon down
                log.debug("reload failed", exc_info=True)
                await self._reload_failed([describe_exception(exc)])
            return False

    async def _reload(self) -> bool:
        settings = load_settings(config_file_of(self.settings), self._env())
        new_app = await asyncio.to_thread(self._validated_app, settings)
        try:
            server = self._rebind_server(new_app.settings)
        except Exception:
            await asyncio.to_thread(new_app.close_store)
            raise
        old_app, self.app, self.settings = self.app, new_app, new_app.settings
        self.server = server
        self._configure_logs()
        assert self.scheduler is not None
        catch_up = self.scheduler.schedule(
            new_app.playbooks, await self._last_starts(new_app), self._now(),
            timezone=new_app.settings.scheduler.timezone,
            catch_up_spacing=new_app.settings.scheduler.catch_up_spacing,
        )
        self.scheduler.add_timer(
            "alerts", new_app.settings.scheduler.alerts_interval, self._deliver_alerts
        )
        metrics.set_next_runs(self.scheduler.next_runs())
        self._retire(old_app)
        await series.publish_after_reload(old_app, new_app)
        metrics.observe_reload(True)
        await asyncio.to_thread(
            alerting.clear_config_alert, new_app.store, new_app.settings, self.clock()
        )
        event(log, "reloaded", playbooks=len(list(new_app.playbooks)),
              catch_up=",".join(catch_up) or "none")
        self.notifier.ready("configuration reloaded")
        return True

    def _validated_app(self, settings: Settings) -> App:
        app = self._new_app(settings)
        try:
            app.playbooks  # noqa: B018 (loading validates every playbook file)
            require_writable_storage(settings.storage.path, config_file_of(settings), self.env)
            app.store  # noqa: B018 (a new storage.path must open)
        except Exception:
            app.close_store()
            raise
        return app

    async def _reload_failed(self, problems: list[str]) -> None:
        metrics.observe_reload(False)
        message = "reload failed, keeping the running configuration: " + "; ".join(problems)
        event(log, "reload failed, keeping the running configuration", level=logging.ERROR,
              error="; ".join(problems))
        self.notifier.ready("reload failed: running the previous configuration")
        # Delivery blocks while it sends: off the loop, like every delivery.
        try:
            await asyncio.to_thread(
                alerting.raise_config_alert, self.app.store, self.settings, message, self.clock()
            )
        except Exception as exc:  # the store's own trouble is reported by /healthz
            event(log, "could not raise the opsd.config alert", level=logging.ERROR,
                  error=describe_exception(exc))

    async def _deliver_alerts(self) -> None:
        """Reminders due without new results, then the outbox's due retries."""
        app = self.app
        now = self.clock()
        task = asyncio.current_task()
        assert task is not None
        self._inflight.add(task)  # a shutdown waits for it, like a run
        try:
            if not await lock_free(app.store):
                return  # another process's write lock: next round (its writes would hold the queue)
            await asyncio.to_thread(alerting.sweep, app.settings, app.store, now)
            await asyncio.to_thread(alerting.deliver, app.settings, app.store, now)
        except asyncio.CancelledError:
            # Only the shutdown deadline cancels it; what it did not send stays in the outbox.
            event(log, "alert delivery interrupted at shutdown", level=logging.WARNING)
        finally:
            self._inflight.discard(task)

    def _retire(self, old: App) -> None:
        """Close the old app's clients and store once the runs still using it finish."""
        running = set(self._inflight)

        async def retire() -> None:
            await asyncio.gather(*running, return_exceptions=True)
            await old.aclose()
            await asyncio.to_thread(old.close_store)

        task = asyncio.get_running_loop().create_task(retire(), name="opsd-retire")
        self._retiring.add(task)
        task.add_done_callback(self._retiring.discard)

    # --- health, watchdog --------------------------------------------------------------------

    def health(self) -> tuple[bool, str]:
        """(healthy, reason) for /healthz: loop ticking, database writable and answering.

        Called on the listener's thread: it reads what the loop and the store's thread
        last reported and never touches SQLite itself."""
        if self._stopping:
            return False, "shutting down"
        stale = self.monotonic() - self._last_tick
        if stale > _STALE_AFTER_SECONDS:
            return False, f"scheduler loop unresponsive for {stale:.0f}s"
        storage = self.storage.reason()
        if storage is not None:
            return False, storage
        if not self._store_writable:
            return False, f"database not writable: {self.settings.storage.path}"
        store: StoreThread | None = self.app.__dict__.get("store")
        waiting = store.oldest_pending() if store is not None else 0.0
        if waiting > _STORE_STUCK_SECONDS:
            path = self.settings.storage.path
            return False, f"database not answering for {waiting:.0f}s: {path}"
        circuit = observed_line(self.settings.scheduler.timezone)  # Notion's trouble, not ours
        return True, "ok" if circuit is None else f"ok\n{circuit}"

    async def probe_store(self) -> bool:
        """Try a write transaction on the store's thread; /healthz reports the outcome."""
        try:
            self._store_writable = await self.app.store.call(probe.writable_unless_busy)
        except Exception:  # the thread itself failed: as unwritable as it gets
            self._store_writable = False
        return self._store_writable

    async def _probe_store(self) -> None:
        while True:
            await self.probe_store()
            await self.storage.probe(self.app)
            await asyncio.sleep(_STORE_PROBE_SECONDS)

    async def _tick(self) -> None:
        interval = self.notifier.watchdog_interval
        period = min(_TICK_SECONDS, interval) if interval else _TICK_SECONDS
        last_ping = None
        clock_watch = ClockWatch(self.clock(), self.monotonic())
        while True:
            now = self.monotonic()
            self._last_tick = now
            self._check_clock(clock_watch.observe(self.clock(), now))
            if interval and (last_ping is None or now - last_ping >= interval - period / 2):
                self.notifier.watchdog()
                last_ping = now
            await asyncio.sleep(period)

    def _check_clock(self, step: float | None) -> None:
        """After a wall-clock step, recompute every playbook's next run from the new time."""
        if step is None or self.scheduler is None:
            return
        event(log, f"{step_words(step)}; schedule recomputed", level=logging.WARNING,
              step_seconds=round(step))
        app = self.app
        # Every playbook counts as started now: its stored last start is in the new time's
        # future (or far past), and the cadence starts again from here, without a catch-up.
        now = self.clock()
        self.scheduler.schedule(
            app.playbooks, lambda name: now, self._now(),
            timezone=app.settings.scheduler.timezone,
            catch_up_spacing=app.settings.scheduler.catch_up_spacing,
        )
        metrics.set_next_runs(self.scheduler.next_runs())

    # --- helpers -----------------------------------------------------------------------------

    def _new_app(self, settings: Settings) -> App:
        return App(settings, clock=self.clock, extra_observers=self.observers, daemon=True,
                   recorder=self._record)

    async def _record(self, report: RunReport, playbook: Playbook,
                      feeders: Sequence[Observer]) -> None:
        await self.storage.record(self.app, report, playbook, feeders)

    @staticmethod
    async def _last_starts(app: App) -> Callable[[str], float | None]:
        """When each playbook's latest run started (for catch-up), read on the store's thread."""
        last = await app.store.call(runs.last_runs)
        return lambda name: last.get(name, {}).get("started_at")

    async def _publish_budget(self, app: App) -> None:
        """The shared Notion budget's gauges as the store has them (a pause outlives a restart)."""
        from opsd.notion.service import publish_budget  # the Notion client loads on first use

        await publish_budget(app.settings.notion, app.store, self.clock)

    def _env(self) -> dict[str, str] | None:
        return dict(self.env) if self.env is not None else None

    def _now(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(
            self.clock(), zoneinfo.ZoneInfo(self.settings.scheduler.timezone)
        )

    def _configure_logs(self) -> None:
        daemon = self.settings.daemon
        configure_logs(daemon.log_format, daemon.log_level, self.settings.redact, self.log_stream)

    def _start_server(self, settings: Settings) -> MetricsServer | None:
        if not settings.metrics.enabled:
            return None
        server = MetricsServer(settings.metrics.host, settings.metrics.port, self.health,
                               workspace_label.registry_for(settings))
        server.start()
        return server

    def _rebind_server(self, settings: Settings) -> MetricsServer | None:
        """The listener for the new settings: the running one unless host/port/enabled changed."""
        old, new = self.settings.metrics, settings.metrics
        workspace_label.registry_for(settings)  # a reload may rename the workspace
        if (old.enabled, old.host, old.port) == (new.enabled, new.host, new.port):
            return self.server
        server = self._start_server(settings)
        if self.server is not None:
            self.server.stop()
        return server

    def _install_signals(self) -> None:
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, self.request_stop)
        loop.add_signal_handler(signal.SIGINT, self.request_stop)
        loop.add_signal_handler(signal.SIGHUP, self.request_reload)


def _log_report(report: RunReport) -> None:
    not_ok = [r for r in report.results if r.status.exit_code != 0]
    event(log, "playbook finished", playbook=report.playbook, trigger=report.trigger,
          status=report.status.value, results=len(report.results), not_ok=len(not_ok),
          duration_seconds=round(report.finished_at - report.started_at, 3))
    for result in not_ok:
        event(log, "check not ok", level=logging.WARNING, playbook=report.playbook,
              check=result.check, target=result.target, status=result.status.value,
              summary=result.summary)
