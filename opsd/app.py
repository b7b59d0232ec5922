"""The pieces one command (or the daemon) works with, built from the configuration."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from opsd.config import Settings, load_settings
from opsd.store import CLI_BUSY_TIMEOUT
from opsd.store.owner import StoreThread

if TYPE_CHECKING:
    from opsd.context import Resources
    from opsd.daemon.lock import DatabaseLock
    from opsd.playbooks import PlaybookSet
    from opsd.runner import Observer, Recorder, Runner


class App:
    """Settings, store, playbooks, shared clients and a runner wired to the observers.

    The store is a `StoreThread`: every query runs on its owner thread, in the daemon and in a
    CLI command alike. `daemon`: wait out another process's write lock for the daemon's busy
    timeout (the loop never waits); a CLI command gives up sooner and says the database is busy.
    The daemon's store also opens only under the database's daemon lock (`opsd.daemon.lock`),
    held until `close_store`: one daemon per database.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        clock: Callable[[], float] = time.time,
        extra_observers: list[Observer] | None = None,
        daemon: bool = False,
        recorder: Recorder | None = None,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.extra_observers = extra_observers or []
        self.daemon = daemon
        self.recorder = recorder
        self._db_lock: DatabaseLock | None = None

    @classmethod
    def from_config(
        cls,
        path: str | os.PathLike[str] | None = None,
        *,
        clock: Callable[[], float] = time.time,
        extra_observers: list[Observer] | None = None,
    ) -> App:
        return cls(load_settings(path), clock=clock, extra_observers=extra_observers)

    @cached_property
    def store(self) -> StoreThread:
        path = Path(self.settings.storage.path)
        if not self.daemon:
            return StoreThread.open(path, busy_timeout=CLI_BUSY_TIMEOUT)
        from opsd.daemon.lock import DatabaseLock

        lock = DatabaseLock.acquire(path)  # before anything touches the database
        try:
            store = StoreThread.open(path, busy_timeout=self.settings.storage.busy_timeout)
        except BaseException:
            lock.release()
            raise
        self._db_lock = lock
        return store

    # Playbooks, clients and the runner load on first use: `opsd status` needs none of them.

    @cached_property
    def playbooks(self) -> PlaybookSet:
        from opsd.playbooks import load_playbooks

        return load_playbooks(self.settings)

    @cached_property
    def resources(self) -> Resources:
        from opsd.context import Resources

        return Resources(self.settings, self.store, self.clock)

    @cached_property
    def runner(self) -> Runner:
        from opsd.runner import Runner

        return Runner(
            self.settings,
            self.store,
            self.resources,
            clock=self.clock,
            observers=[*self.observers(), *self.extra_observers],
            recorder=self.recorder,
        )

    def observers(self) -> list[Observer]:
        """What sees every recorded run (the alert engine plugs in here)."""
        from opsd.alerting.observer import AlertObserver

        return [AlertObserver(self.settings, self.store, publish=self.daemon)]

    async def aclose(self) -> None:
        if "resources" in self.__dict__:
            await self.resources.aclose()

    def close_store(self) -> None:
        if "store" in self.__dict__:
            self.store.close()
        lock, self._db_lock = self._db_lock, None
        if lock is not None:
            lock.release()
