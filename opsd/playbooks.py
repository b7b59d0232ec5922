"""Playbooks: TOML files naming a schedule and an ordered list of check entries.

```toml
name = "daily"
description = "The morning checklist"
schedule = "0 7 * * mon-fri"      # cron, day names; or: every = "60s"; or neither: on demand

[[checks]]
name = "notion.latency"           # unique in the playbook; defaults to the kind
kind = "notion.latency"
warn = 0.5                        # thresholds override the kind's defaults
crit = 2.0
direction = "above"
timeout = "30s"
samples = 5                       # any other key is a parameter of the kind
```
"""

from __future__ import annotations

import datetime as dt
import itertools
import tomllib
import zoneinfo
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from opsd.checks import KIND_MODULES, get_kind
from opsd.checks.base import CheckSpec, Params
from opsd.config import Settings, format_location, friendly_message
from opsd.config.base import Duration
from opsd.config.messages import did_you_mean, not_utf8
from opsd.cron import cron_trigger, previous_fire_time, upcoming_fire_times, validate_cron
from opsd.errors import PlaybookError
from opsd.units import describe_schedule

_ENTRY_KEYS = {
    "name", "kind", "description", "target", "warn", "crit", "direction", "timeout",
    "failure_threshold", "success_threshold", "repeat_interval",
    "depends_on", "flapping", "incident",
}


class Playbook(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    description: str = ""
    schedule: str | None = Field(None, description="Cron expression with day names.")
    every: Duration | None = Field(None, gt=0, description="Fixed interval instead of cron.")
    checks: list[CheckSpec] = Field(default_factory=list)
    path: Path | None = None

    @field_validator("schedule")
    @classmethod
    def _cron_with_day_names(cls, value: str | None) -> str | None:
        return None if value is None else validate_cron(value)

    @model_validator(mode="after")
    def _one_schedule(self) -> Playbook:
        if self.schedule and self.every:
            raise ValueError("give either schedule or every, not both")
        return self

    @property
    def scheduled(self) -> bool:
        return bool(self.schedule or self.every)

    def describe_schedule(self) -> str:
        return describe_schedule(self.schedule, self.every)

    def trigger(self, timezone: str) -> Any:
        """The APScheduler trigger for this playbook (None when on demand)."""
        if self.schedule:
            return _cron_trigger(self.schedule, timezone)
        if self.every:
            from apscheduler.triggers.interval import IntervalTrigger

            return IntervalTrigger(seconds=self.every, timezone=zoneinfo.ZoneInfo(timezone))
        return None

    def next_run(self, timezone: str, now: dt.datetime | None = None) -> dt.datetime | None:
        """The next fire time after `now` in `timezone` (None when on demand)."""
        trigger = self.trigger(timezone)
        if trigger is None:
            return None
        now = now or dt.datetime.now(zoneinfo.ZoneInfo(timezone))
        return trigger.get_next_fire_time(None, now)

    def run_interval(self, timezone: str, now: float) -> float | None:
        """The shortest time in seconds between two scheduled runs after `now` (None: on
        demand, or fewer than two runs in the coming year)."""
        if self.every:
            return float(self.every)
        if not self.schedule:
            return None
        start = dt.datetime.fromtimestamp(now, zoneinfo.ZoneInfo(timezone))
        fires = upcoming_fire_times(self.schedule, timezone, start, days=400)
        # Timestamps, not datetime arithmetic: that is wall-clock time within one zone.
        times = [fire.timestamp() for fire in fires]
        gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
        return min(gaps) if gaps else None

    def previous_run(self, timezone: str, now: dt.datetime) -> dt.datetime | None:
        """The last fire time at or before `now` (None when on demand or never fired)."""
        if self.every:
            return now - dt.timedelta(seconds=self.every)
        if not self.schedule:
            return None
        return previous_fire_time(self.schedule, timezone, now)


def _cron_trigger(expression: str, timezone: str) -> Any:
    return cron_trigger(expression, timezone)


@dataclass
class PlaybookSet:
    """All playbooks of a directory, by name."""

    directory: Path
    playbooks: dict[str, Playbook] = field(default_factory=dict)

    def get(self, name: str) -> Playbook:
        try:
            return self.playbooks[name]
        except KeyError:
            known = ", ".join(sorted(self.playbooks)) or "none"
            raise PlaybookError(f"unknown playbook {name!r} (known: {known})") from None

    def find_check(self, name: str) -> tuple[Playbook, CheckSpec]:
        """The first entry named `name` (or, failing that, of kind `name`)."""
        for attribute in ("name", "kind"):
            for playbook in self.playbooks.values():
                for spec in playbook.checks:
                    if getattr(spec, attribute) == name:
                        return playbook, spec
        raise PlaybookError(f"unknown check {name!r}: no playbook entry has that name")

    def __iter__(self) -> Iterator[Playbook]:
        return iter(self.playbooks.values())


def builtin_playbooks_dir() -> Path:
    """The playbooks shipped with opsd (`playbooks/` in a checkout, `opsd/_playbooks` installed)."""
    packaged = Path(__file__).resolve().parent / "_playbooks"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parent.parent / "playbooks"


def playbooks_dir(settings: Settings) -> Path:
    return settings.scheduler.playbooks_dir or builtin_playbooks_dir()


def load_playbooks(settings: Settings) -> PlaybookSet:
    """Load and validate every `*.toml` in the playbooks directory; all problems at once."""
    directory = playbooks_dir(settings)
    if not directory.is_dir():
        raise PlaybookError(f"scheduler.playbooks_dir: {directory}: no such directory")
    result = PlaybookSet(directory)
    problems: list[str] = []
    for path in sorted(directory.glob("*.toml")):
        try:
            playbook = load_playbook(path)
        except PlaybookError as exc:
            problems.extend(exc.problems)
            continue
        if playbook.name in result.playbooks:
            problems.append(f"{path.name}: name: playbook {playbook.name!r} is defined twice")
        result.playbooks[playbook.name] = playbook
    if not problems:  # names across files only once every file is whole
        from opsd.references import reference_problems

        problems = reference_problems(settings, result)
    if problems:
        raise PlaybookError(problems)
    return result


def load_playbook(path: Path) -> Playbook:
    """Parse one playbook file; raises PlaybookError naming the file and key."""
    return parse_playbook(_read_toml(path), path)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise PlaybookError(f"{path.name}: not valid TOML: {exc}") from None
    except UnicodeDecodeError as exc:
        raise PlaybookError(f"{path.name}: {not_utf8(exc)}") from None
    except OSError as exc:
        raise PlaybookError(f"{path.name}: cannot read: {exc.strerror or exc}") from None


def parse_playbook(raw: dict[str, Any], path: Path, *, only: str | None = None) -> Playbook:
    """Validate a playbook's table; `only`: keep and validate just the entry of that name (a
    file already validated whole, as `opsd check` reads it)."""
    raw = dict(raw)
    raw.setdefault("name", path.stem)
    entries = raw.pop("checks", [])
    problems: list[str] = []
    if not isinstance(entries, list):
        raise PlaybookError(f"{path.name}: checks: must be an array of tables ([[checks]])")
    specs = []
    for index, entry in enumerate(entries):
        if only is not None and _entry_name(entry) != only:
            continue
        try:
            specs.append(parse_entry(entry, raw["name"]))
        except PlaybookError as exc:
            problems.extend(f"{path.name}: checks[{index}]{p}" for p in exc.problems)
    try:
        playbook = Playbook.model_validate({**raw, "path": path})
    except ValidationError as exc:
        known = [*Playbook.model_fields, "checks"]
        problems.extend(
            f"{path.name}: {format_location(tuple(e['loc'])) or 'playbook'}: "
            f"{friendly_message(e, known)}"
            for e in exc.errors()
        )
    names = [spec.name for spec in specs]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        problems.append(f"{path.name}: playbook: duplicate check names: {', '.join(dupes)}")
    if problems:
        raise PlaybookError(problems)
    playbook.checks = specs
    return playbook


def load_entry(path: Path, name: str) -> Playbook:
    """The playbook in `path` holding only its entry `name` (the file was validated whole)."""
    playbook = parse_playbook(_read_toml(path), path, only=name)
    if not playbook.checks:
        raise PlaybookError(f"{path.name}: no check entry named {name!r}")
    return playbook


def _entry_name(entry: Any) -> Any:
    return entry.get("name", entry.get("kind")) if isinstance(entry, dict) else None


def parse_entry(entry: Any, playbook: str) -> CheckSpec[Any]:
    """Validate one `[[checks]]` table; problems are prefixed `.key: message`."""
    if not isinstance(entry, dict):
        raise PlaybookError(": must be a table")
    kind_name = entry.get("kind")
    if not isinstance(kind_name, str):
        raise PlaybookError(".kind: required key is missing")
    kind = get_kind(kind_name)
    if kind is None:
        hint = did_you_mean(kind_name, KIND_MODULES)
        raise PlaybookError(f".kind: unknown check kind {kind_name!r}{hint} (see `opsd kinds`)")
    base = {k: v for k, v in entry.items() if k in _ENTRY_KEYS}
    base.setdefault("name", kind_name)
    params_raw = {k: v for k, v in entry.items() if k not in _ENTRY_KEYS}
    problems: list[str] = []
    params: Params | None
    try:
        params = kind.params.model_validate(params_raw)
    except ValidationError as exc:
        params = None
        known = [*_ENTRY_KEYS, *kind.params.model_fields]
        problems += [
            f".{format_location(tuple(e['loc']))}: {friendly_message(e, known)}"
            for e in exc.errors()
        ]
    try:
        spec: CheckSpec[Any] = CheckSpec.model_validate(
            {**base, "playbook": playbook, "defaults": kind.thresholds}
        )
    except ValidationError as exc:
        problems += [
            f".{format_location(tuple(e['loc']))}: {friendly_message(e)}" for e in exc.errors()
        ]
    else:
        # An entry that sets only `crit` overrides the kind's warn as well: e.g. `crit = 0`
        # (always critical) leaves a default warn behind it on purpose.
        inverted = None if spec.warn is None and spec.crit is not None else (
            spec.thresholds.order_problem())
        if inverted:
            problems.append(f".warn: {inverted}")
    if problems or params is None:
        raise PlaybookError(problems)
    spec.params = params
    return spec
