"""The `workspace` label on every series an instance exposes, added once, at exposition.

Prometheus scraping a fleet (one opsd per workspace: `opsd@production`, `opsd@staging`) tells
the instances apart by `instance`, which is an address; `workspace` names what an instance
watches, stays the same when it moves, and is the same on both servers of an HA pair. Rather
than give every metric the label (and every update the value), the registry is wrapped: each
sample of each family gets `workspace="<name>"` as it is rendered.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry
from prometheus_client.metrics_core import Metric

from opsd.config.workspace import workspace_of
from opsd.metrics import REGISTRY

if TYPE_CHECKING:
    from opsd.config import Settings

LABEL = "workspace"


class WorkspaceRegistry:
    """A registry view that adds `workspace` to every sample of `registry` (a sample that has
    the label already keeps its own). `workspace` may change (a reload): the next render uses
    the new value. Quacks like a `CollectorRegistry` for the exposition encoders."""

    def __init__(self, registry: CollectorRegistry, workspace: str) -> None:
        self._registry = registry
        self.workspace = workspace

    def collect(self) -> Iterator[Metric]:
        return _labelled(self._registry.collect(), self.workspace)

    def restricted_registry(self, names: Iterable[str]) -> WorkspaceRegistry:
        restricted = self._registry.restricted_registry(names)
        return WorkspaceRegistry(restricted, self.workspace)  # type: ignore[arg-type]


def _labelled(families: Iterable[Metric], workspace: str) -> Iterator[Metric]:
    for family in families:
        copy = Metric(family.name, family.documentation, family.type, family.unit)
        copy.samples = [
            sample if LABEL in sample.labels
            else sample._replace(labels={**sample.labels, LABEL: workspace})
            for sample in family.samples
        ]
        yield copy


_DAEMON = WorkspaceRegistry(REGISTRY, "opsd")


def registry_for(settings: Settings) -> CollectorRegistry:
    """The daemon's registry view, labelled with `settings`' workspace (set anew on every
    call: the daemon calls it at start and on every reload)."""
    _DAEMON.workspace = workspace_of(settings)
    return _DAEMON  # type: ignore[return-value]
