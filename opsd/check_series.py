"""The per-check series on /metrics, kept as one table of check states.

One row per (check, kind, target, playbook) feeds every per-check family: status, success,
value, last run, duration, the state's start, the last success and an https certificate's
expiry. Keeping them in one table means a check, target or playbook that goes away takes all
its series with it (`discard`), and a result without a value (or a certificate) drops that
series instead of leaving the last good figure on screen.

A custom collector rather than prometheus_client gauges: the rows are replaced whole, read by
the listener's threads under one lock, and restored from the store at start (`restore`).
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import NamedTuple

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from opsd.results import Result, Status

CERT_EXPIRY_DETAIL = "certificate_expires_at"
"""The detail in which a check reports when its peer's TLS certificate expires (UTC epoch)."""

_LABELS = ["check", "kind", "target", "playbook"]


class CheckKey(NamedTuple):
    """The labels of one check's series."""

    check: str
    kind: str
    target: str
    playbook: str


@dataclasses.dataclass(frozen=True)
class CheckState:
    """What /metrics shows about one check and target of one playbook."""

    status: Status
    last_run: float
    duration: float
    since: float
    """When the check's status last changed (its first result in this status)."""
    value: float | None = None
    unit: str = ""
    last_success: float | None = None
    cert_expires_at: float | None = None

    @classmethod
    def of(cls, result: Result, since: float, last_success: float | None) -> CheckState:
        expires = result.details.get(CERT_EXPIRY_DETAIL)
        return cls(
            status=result.status,
            last_run=result.started_at,
            duration=result.duration,
            since=since,
            value=result.value,
            unit=result.unit,
            last_success=last_success,
            cert_expires_at=float(expires) if isinstance(expires, int | float) else None,
        )

    @property
    def success(self) -> float | None:
        """1 when the check found everything OK, 0 when it found a problem (WARNING,
        CRITICAL, UNKNOWN), None (no sample) when it was SKIPPED: it looked at nothing."""
        if self.status is Status.SKIPPED:
            return None
        return 1.0 if self.status is Status.OK else 0.0


def key_of(playbook: str, result: Result) -> CheckKey:
    return CheckKey(result.check, result.kind, result.target, playbook)


class CheckSeries(Collector):
    """The table of check states, exported as the `opsd_check_*` families."""

    def __init__(self) -> None:
        self._states: dict[CheckKey, CheckState] = {}
        self._keep: Callable[[CheckKey], bool] = _everything
        self._lock = threading.Lock()

    def observe(self, playbook: str, results: Iterable[Result]) -> None:
        """A run's results: each (check, target) gets its new state; a target a check no
        longer reports (its database, cache or endpoint is gone) loses its series. A run
        still finishing with a configuration a reload replaced adds nothing it dropped."""
        with self._lock:
            keyed = ((key_of(playbook, r), r) for r in results)
            latest = {key: r for key, r in keyed if self._keep(key)}
            checks = {key.check for key in latest}
            for key in [k for k in self._states if k.playbook == playbook
                        and k.check in checks and k not in latest]:
                del self._states[key]
            for key, result in latest.items():
                self._states[key] = _next_state(self._states.get(key), result)

    def restore(self, states: dict[CheckKey, CheckState]) -> None:
        """States read from the store; a series a run has set meanwhile is newer and kept."""
        with self._lock:
            for key, state in states.items():
                if self._keep(key):
                    self._states.setdefault(key, state)

    def limit_to(self, keep: Callable[[CheckKey], bool]) -> list[CheckKey]:
        """Only series `keep` accepts from now on (the configuration at start or after a
        reload): the others are removed at once; returns the removed keys."""
        with self._lock:
            self._keep = keep
            gone = [key for key in self._states if not keep(key)]
            for key in gone:
                del self._states[key]
        return gone

    def clear(self) -> None:
        """Forget every series and accept any (tests start from a clean registry)."""
        with self._lock:
            self._states.clear()
            self._keep = _everything

    def describe(self) -> list[GaugeMetricFamily]:
        return list(_families().values())

    def collect(self) -> Iterator[GaugeMetricFamily]:
        with self._lock:
            states = list(self._states.items())
        families = _families()
        for key, state in states:
            labels = list(key)
            families["status"].add_metric(labels, state.status.gauge)
            families["last_run"].add_metric(labels, state.last_run)
            families["duration"].add_metric(labels, state.duration)
            families["since"].add_metric(labels, state.since)
            optional = {"success": state.success, "last_success": state.last_success,
                        "cert_expiry": state.cert_expires_at}
            for name, figure in optional.items():
                if figure is not None:
                    families[name].add_metric(labels, figure)
            if state.value is not None:
                families["value"].add_metric([*labels, state.unit], state.value)
        yield from families.values()


def _everything(key: CheckKey) -> bool:
    return True


def _next_state(previous: CheckState | None, result: Result) -> CheckState:
    if previous is None or previous.status.gauge != result.status.gauge:
        since = result.started_at
    else:
        since = previous.since
    last_success = result.started_at if result.status is Status.OK else (
        previous.last_success if previous is not None else None
    )
    return CheckState.of(result, since, last_success)


def _families() -> dict[str, GaugeMetricFamily]:
    def gauge(name: str, documentation: str, extra: tuple[str, ...] = ()) -> GaugeMetricFamily:
        return GaugeMetricFamily(name, documentation, labels=[*_LABELS, *extra])

    return {
        "status": gauge("opsd_check_status", "Latest status of a check: 0 OK, 1 WARNING, "
                        "2 CRITICAL, 3 UNKNOWN, -1 SKIPPED"),
        "success": gauge("opsd_check_success", "1 if the check's latest result was OK, 0 if "
                         "WARNING, CRITICAL or UNKNOWN (no sample when SKIPPED)"),
        "value": gauge("opsd_check_value", "Latest value of a check in its base unit (see the "
                       "unit label); no sample when the latest result has no value",
                       ("unit",)),
        "last_run": gauge("opsd_check_last_run_timestamp_seconds", "When the check last ran"),
        "duration": gauge("opsd_check_duration_seconds", "How long the check's last run took"),
        "since": gauge("opsd_check_state_since_timestamp_seconds",
                       "Since when the check has had its current status"),
        "last_success": gauge("opsd_check_last_success_timestamp_seconds",
                              "When the check last found everything OK"),
        "cert_expiry": gauge("opsd_http_cert_expiry_timestamp_seconds",
                             "When the https certificate an endpoint check last saw expires"),
    }
