"""The pieces one command (or the daemon) works with, built from the configuration."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from functools import cached_property
from pathlib import Path

from opsd.config import Settings, load_settings
from opsd.context import Resources
from opsd.playbooks import PlaybookSet, load_playbooks
from opsd.runner import Observer, Runner
from opsd.store import Store


class App:
    """Settings, store, playbooks, shared clients and a runner wired to the observers."""

    def __init__(
        self,
        settings: Settings,
        *,
        clock: Callable[[], float] = time.time,
        extra_observers: list[Observer] | None = None,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.extra_observers = extra_observers or []

    @classmethod
    def from_config(cls, path: str | os.PathLike | None = None, **kwargs) -> App:
        return cls(load_settings(path), **kwargs)

    @cached_property
    def store(self) -> Store:
        return Store.open(Path(self.settings.storage.path))

    @cached_property
    def playbooks(self) -> PlaybookSet:
        return load_playbooks(self.settings)

    @cached_property
    def resources(self) -> Resources:
        return Resources(self.settings, self.store, self.clock)

    @cached_property
    def runner(self) -> Runner:
        return Runner(
            self.settings,
            self.store,
            self.resources,
            clock=self.clock,
            observers=[*self.observers(), *self.extra_observers],
        )

    def observers(self) -> list[Observer]:
        """What sees every recorded run (the alert engine plugs in here)."""
        from opsd.alerting import AlertObserver

        return [AlertObserver(self.settings, self.store)]

    async def aclose(self) -> None:
        if "resources" in self.__dict__:
            await self.resources.aclose()

    def close_store(self) -> None:
        if "store" in self.__dict__:
            self.store.close()
