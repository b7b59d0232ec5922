"""Where outbox rows go: a destination (an `alerts.urls` entry or an Alertmanager peer), how
a send reports a failure that no retry can fix, and the shape of a send function.

Kept apart from `opsd.alerting.notify` so the Alertmanager sink (`opsd.alerting.alertmanager`),
which notify calls, can use them without an import cycle; notify re-exports them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from opsd.alerting.engine import AlertEvent, EventType
from opsd.alerting.messages import Message, routing_tags

# Tags on a URL that receive every message, as in Apprise.
_MATCH_EVERYTHING = frozenset({"all", "always"})


@dataclasses.dataclass(frozen=True)
class Destination:
    """One entry of `alerts.urls` (`url` is secret: show `label`, store `key`), or one
    Alertmanager peer (`opsd.alerting.alertmanager`: its key starts `alertmanager:`)."""

    url: str = dataclasses.field(repr=False)
    tags: frozenset[str]
    label: str
    key: str
    valid: bool = True

    def receives(self, tags: set[str]) -> bool:
        """Untagged URLs get everything; tagged ones what carries one of their tags."""
        return not self.tags or bool(self.tags & (tags | _MATCH_EVERYTHING))

    def receives_event(self, event: AlertEvent) -> bool:
        """`receives` the event's routing tags; an ESCALATION only where a URL has its tag."""
        if event.type is EventType.ESCALATION:
            return bool(self.tags & routing_tags(event))
        return self.receives(routing_tags(event))


class PermanentFailure(str):
    """Why a message was not delivered, when retrying cannot help (an unknown URL scheme, a
    webhook answering 400/401/403/404): the row is given up at once."""


Send = Callable[[Destination, Message, float], str | None]
"""(destination, message, timeout) -> None when delivered, else the reason it was not (a
`PermanentFailure` when no retry can fix it)."""
