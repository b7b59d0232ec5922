"""`[[slos]]`: service level objectives over the checks' results (`opsd.reports.slo`).

An SLO's SLI is the share of good results of the checks its `checks` glob names: without a
`threshold` a result is good when it is OK; with one (a latency SLO) when its value is under
the threshold and the check answered (OK or WARNING: the threshold, not the check's own
warning level, is the judge). CRITICAL and UNKNOWN results are bad (a probe that could not
tell whether the service was up did not see it up); SKIPPED results never count.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Annotated

from pydantic import AfterValidator, Field

from opsd.config.base import Duration, Section

if TYPE_CHECKING:
    from opsd.playbooks import Playbook

BURN_RATE_KIND = "slo.burn_rate"


class SloConfig(Section):
    name: str = Field(min_length=1, description="Unique name: the `slo` label and alert target.")
    checks: str = Field(
        min_length=1, description="Glob over check names (fnmatch: `notion.*`, `http.endpoint`)."
    )
    target: str | None = Field(None, description="Only the results of this target.")
    objective: float = Field(
        gt=0, lt=1, description="Share of good results to attain, e.g. 0.999 (99.9 %)."
    )
    window: Duration = Field(
        30 * 86400.0, ge=3600, description="The rolling window the objective is over."
    )
    threshold: float | None = Field(
        None, gt=0, description="Seconds: a latency SLO, good = value under the threshold."
    )


def unique_slo_names(slos: list[SloConfig]) -> list[SloConfig]:
    """A validator: two SLOs of one name would share (and overwrite) one alert and gauges."""
    seen: set[str] = set()
    for slo in slos:
        if slo.name in seen:
            raise ValueError(f"duplicate name {slo.name!r}")
        seen.add(slo.name)
    return slos


SloList = Annotated[list[SloConfig], AfterValidator(unique_slo_names)]
"""`Settings.slos`: the `[[slos]]` tables, names unique."""


def unalerted_warnings(slos: list[SloConfig], playbooks: Iterable[Playbook] | None,
                       label: str) -> list[str]:
    """`opsd config check`'s warning when SLOs exist but no playbook runs their alerts
    (`opsd slo` and the gauges still work; nothing pages). None: the playbooks are unread."""
    if not slos or playbooks is None:
        return []
    if any(spec.kind == BURN_RATE_KIND for p in playbooks for spec in p.checks):
        return []
    return [f"{label}: slos: {len(slos)} configured, but no playbook runs {BURN_RATE_KIND}: "
            "their burn-rate alerts never fire (the built-in realtime playbook runs it)"]
