"""Dependencies (pure): while a parent's alert fires, its children's announcements are held.

The parents of an alert are the built-in tree of the Notion kinds (token format -> auth ->
every other Notion kind; access -> schema, count and latency of the same database) and the
`depends_on` of its playbook entry (check names, kinds or `check/target` labels). A parent's
state is its alert, which every playbook running that check updates.

While a parent fires, a child's FIRING, REMINDER and ESCALATED are recorded with
`suppressed_by` (the parent's label) and not sent; the check keeps running and recording. A
child's RESOLVED is never held: the engine sends it whenever receivers heard of the alert. A
held child stays held until its own next result after the parent stops firing, so a parent's
recovery never floods receivers with stale children: those still failing are announced in that
run, with the parent's RESOLVED when they share a playbook (one message under `alerts.group`).
The parent's own message names the children it holds (`holding`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

from opsd.alerting.engine import Alert, AlertEvent, EventType, Phase, Policy, evaluate, tick

if TYPE_CHECKING:
    from opsd.checks.base import CheckSpec
    from opsd.results import Result

_AUTH_CHILDREN = (
    "notion.access", "notion.schema", "notion.latency", "notion.count", "notion.data_sources",
    "notion.error_rate", "notion.rate_limit", "notion.availability",
)
BUILTIN_PARENTS: dict[str, tuple[str, ...]] = {
    "notion.auth": ("notion.token_format",),
    **{kind: ("notion.auth",) for kind in _AUTH_CHILDREN},
}
"""Kind -> the kinds whose firing alert holds it, whatever the target."""
DATABASE_PARENTS: dict[str, tuple[str, ...]] = {
    kind: ("notion.access",) for kind in ("notion.schema", "notion.count", "notion.latency")
}
"""Kind -> the kinds whose firing alert holds it when both are about the same database."""
_HELD_TYPES = frozenset({EventType.FIRING, EventType.REMINDER, EventType.ESCALATED})

Step = Callable[[Alert, "str | None"], tuple[Alert, list[AlertEvent]]]


def is_parent(
    parent: Alert, kind: str, target: str, depends_on: Sequence[str] = ()
) -> bool:
    """Whether `parent`'s alert holds an alert of `kind` and `target` (built-in or named)."""
    if parent.kind in BUILTIN_PARENTS.get(kind, ()):
        return True
    if parent.kind in DATABASE_PARENTS.get(kind, ()) and _same_database(target, parent.target):
        return True
    return bool({parent.check, parent.kind, parent.label} & set(depends_on))


def parent_names(kind: str, depends_on: Sequence[str] = ()) -> set[str]:
    """Every name (kind, check or label) a parent of an alert of `kind` may go by (pure)."""
    return {*BUILTIN_PARENTS.get(kind, ()), *DATABASE_PARENTS.get(kind, ()), *depends_on}


def names_of(alert: Alert) -> tuple[str, ...]:
    """The names `parent_names` may match for `alert`: its check, kind and label."""
    return (alert.check, alert.kind, alert.label)


def parents_first(results: Sequence[Result], specs: Mapping[str, CheckSpec]) -> list[Result]:
    """`results` with every parent before its children (otherwise in order), so children
    are judged against their parents' state after this run."""
    alerts = [_as_alert(r) for r in results]
    by_name: dict[str, list[int]] = {}
    for index, alert in enumerate(alerts):
        for name in set(names_of(alert)):
            by_name.setdefault(name, []).append(index)
    depths: dict[int, int] = {}

    def depth(index: int, path: frozenset[int]) -> int:
        if index not in depths:
            child = results[index]
            names = _depends_on(specs, child.check)
            candidates = {i for n in parent_names(child.kind, names) for i in by_name.get(n, ())}
            parents = [
                i for i in sorted(candidates)
                if i not in path and i != index
                and is_parent(alerts[i], child.kind, child.target, names)
            ]
            depths[index] = max((1 + depth(i, path | {index}) for i in parents), default=0)
        return depths[index]

    order = sorted(range(len(results)), key=lambda i: depth(i, frozenset()))
    return [results[i] for i in order]


class Holds:
    """The alerts of one transition, kept up to date as results apply, so each child is
    judged against its parents' latest state."""

    def __init__(self, open_alerts: Iterable[Alert]) -> None:
        self._alerts: dict[tuple[str, str], Alert] = {}
        self._by_label: dict[str, Alert] = {}
        self._by_name: dict[str, set[tuple[str, str]]] = {}  # check, kind or label -> keys
        for alert in open_alerts:
            self._keep(alert)
        # Pending alerts of this run that a firing parent would hold: the parent names them.
        self._pending: dict[tuple[str, str], str] = {}

    def parent_of(
        self, check: str, kind: str, target: str, depends_on: Sequence[str] = ()
    ) -> str | None:
        """The label of a firing parent of this alert, or None."""
        label = Alert(check, target).label
        keys = {k for n in parent_names(kind, depends_on) for k in self._by_name.get(n, ())}
        for parent in (self._alerts[key] for key in sorted(keys)):
            if (
                parent.phase is Phase.FIRING
                and (parent.check, parent.target) != (check, target)
                and is_parent(parent, kind, target, depends_on)
                and not self._held_by(parent, label)
            ):
                return parent.label
        return None

    def evaluate(
        self,
        alert: Alert,
        result: Result,
        now: float,
        policy: Policy,
        silenced_by: str | None,
        depends_on: Sequence[str] = (),
    ) -> tuple[Alert, list[AlertEvent]]:
        """`engine.evaluate`, held while a parent fires."""
        parent = self.parent_of(alert.check, result.kind or alert.kind, alert.target, depends_on)
        return self._step(
            alert, silenced_by, parent, lambda a, hold: evaluate(a, result, now, policy, hold)
        )

    def tick(
        self, alert: Alert, now: float, silenced_by: str | None
    ) -> tuple[Alert, list[AlertEvent]]:
        """`engine.tick`, held while a parent fires and, once it stops, until the next result."""
        parent = self.parent_of(alert.check, alert.kind, alert.target) or alert.suppressed_by
        return self._step(alert, silenced_by, parent, lambda a, hold: tick(a, now, hold))

    def name_held(self, events: Sequence[AlertEvent]) -> list[AlertEvent]:
        """`events` with each announced parent's `holding`: the children it holds now."""
        named = []
        for event in events:
            held = self._held_under(event.label) if event.type in _HELD_TYPES else []
            if held and event.deliver:
                event = dataclasses.replace(event, holding=", ".join(held))
            named.append(event)
        return named

    def _step(
        self, alert: Alert, silenced_by: str | None, parent: str | None, step: Step
    ) -> tuple[Alert, list[AlertEvent]]:
        # The engine holds announcements with one reason, as for a silence; a silence comes
        # first, and a hold that is the parent's is moved to `suppressed_by`.
        shown = dataclasses.replace(
            alert, silenced_by=alert.silenced_by or alert.suppressed_by, suppressed_by=None
        )
        after, events = step(shown, silenced_by or parent)
        ours = {parent, alert.suppressed_by} - {None, silenced_by}
        if after.silenced_by in ours:
            after = dataclasses.replace(after, silenced_by=None, suppressed_by=after.silenced_by)
        events = [
            dataclasses.replace(e, silenced_by=None, suppressed_by=e.silenced_by)
            if e.silenced_by in ours else e
            for e in events
        ]
        key = (after.check, after.target)
        self._keep(after)
        self._pending.pop(key, None)
        if after.phase is Phase.PENDING and parent is not None and silenced_by is None:
            self._pending[key] = parent
        return after, events

    def _keep(self, alert: Alert) -> None:
        key = (alert.check, alert.target)
        self._alerts[key] = alert
        self._by_label[alert.label] = alert
        for name in names_of(alert):
            self._by_name.setdefault(name, set()).add(key)

    def _held_by(self, alert: Alert, label: str) -> bool:
        """Whether `alert` is (or, pending, would be) held by `label`, directly or through its
        parents."""
        by_label = self._by_label
        seen: set[str] = set()
        current: Alert | None = alert
        while current is not None:
            holder = current.suppressed_by or self._pending.get((current.check, current.target))
            if holder is None or holder in seen:
                return False
            if holder == label:
                return True
            seen.add(holder)
            current = by_label.get(holder)
        return False

    def _held_under(self, label: str) -> list[str]:
        """The labels of the open alerts `label` holds, directly or through their parents."""
        return sorted(
            a.label for a in self._alerts.values()
            if a.phase is not Phase.OK and a.label != label and self._held_by(a, label)
        )


def _same_database(child_target: str, parent_target: str) -> bool:
    """A child's target is the database's name, or `database/source` with several sources."""
    return child_target == parent_target or child_target.startswith(parent_target + "/")


def _depends_on(specs: Mapping[str, CheckSpec], check: str) -> Sequence[str]:
    spec = specs.get(check)
    return spec.depends_on if spec is not None else ()


def _as_alert(result: Result) -> Alert:
    return Alert(result.check, result.target, kind=result.kind)
