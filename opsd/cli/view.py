"""What the read-only commands need of the configuration, without loading pydantic when nothing
they depend on has changed.

Validating the configuration (pydantic-settings over the file, the environment and the
credentials, then every playbook) costs most of a command's start-up; the answer only changes
when its inputs do. So a validation that succeeds leaves a *snapshot*: the few values the
read-only commands use (database path, time zone, maintenance windows, `config show`'s masked
dump, the playbooks' names, schedules and entries), keyed by a digest of everything that went
into it — opsd's own code, the config file's bytes, the `OPSD_*` environment, the credentials
directory's listing and the playbook files' bytes. The next command computes the same digest
(a few stat calls and one hash) and uses the snapshot only if it matches; any change means a
full validation, with the same one-line errors and exit code 3 as ever.

The snapshot holds no secret: secrets appear masked, as `config show` prints them, and the
digest is an HMAC under a random key kept beside it (0600 files in a 0700 directory:
`$CACHE_DIRECTORY`, else `$XDG_CACHE_HOME/opsd`, else `~/.cache/opsd`). Where that directory
cannot be written, commands simply validate every time.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import hmac
import json
import os
import secrets
import zoneinfo
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import opsd
from opsd.alerting import routing_warnings
from opsd.cli.suggest import did_you_mean
from opsd.config.paths import resolve_config_path
from opsd.config.plain_http import plain_http_warnings
from opsd.daemon import exposure
from opsd.errors import ConfigError, PlaybookError, UsageError
from opsd.units import describe_schedule

if TYPE_CHECKING:
    from opsd.config import Settings
    from opsd.playbooks import PlaybookSet

FORMAT = 2
_ENV_INPUTS = ("NOTION_API_TOKEN", "STATE_DIRECTORY", "CREDENTIALS_DIRECTORY")


@dataclasses.dataclass(frozen=True)
class Window:
    """A maintenance window (`[[alerts.maintenance]]`), as `window_end` reads it."""

    name: str
    schedule: str
    duration: float
    timezone: str | None
    checks: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class PlaybookInfo:
    """A playbook as the listing shows it."""

    name: str
    description: str
    schedule: str | None
    every: float | None
    checks: tuple[str, ...]
    kinds: tuple[str, ...]
    path: str = ""
    upcoming: tuple[float, ...] = ()
    """A cron playbook's fire times over the 35 days after validation (epoch seconds): the
    listing reads its next run here instead of loading the cron parser."""
    timeout: float = 0.0
    """The longest timeout of its entries: how long a run may take (`opsd status` allows it
    before it calls a result stale)."""

    def describe_schedule(self) -> str:
        return describe_schedule(self.schedule, self.every)

    def next_run(self, timezone: str, now: dt.datetime) -> dt.datetime | None:
        """The next fire time after `now` (None when on demand)."""
        if self.every:
            return now + dt.timedelta(seconds=self.every)
        if not self.schedule:
            return None
        moment = now.timestamp()
        upcoming = next((fire for fire in self.upcoming if fire >= moment), None)
        if upcoming is not None:
            return dt.datetime.fromtimestamp(upcoming, zoneinfo.ZoneInfo(timezone))
        from opsd.cron import cron_trigger

        fire: dt.datetime | None = cron_trigger(self.schedule, timezone).get_next_fire_time(
            None, now
        )
        return fire


@dataclasses.dataclass(frozen=True)
class View:
    """The configuration as the read-only commands see it."""

    storage_path: str
    timezone: str
    maintenance: tuple[Window, ...]
    shown: dict[str, Any]
    playbooks: tuple[PlaybookInfo, ...]
    playbook_problems: tuple[str, ...]
    routing_warnings: tuple[str, ...] = ()
    # Where `shown` holds a duration (`config show` prints those as "35d").
    shown_durations: tuple[tuple[str | int, ...], ...] = ()

    def has_check(self, name: str) -> bool:
        """True if a playbook entry has this name or kind."""
        return any(name in p.checks or name in p.kinds for p in self.playbooks)

    def find_check(self, name: str, playbook: str | None = None) -> tuple[PlaybookInfo, str]:
        """The playbook and entry name `opsd check NAME [--playbook P]` runs: in P, the entry
        named NAME; else the first entry named NAME, else the first of kind NAME."""
        if self.playbook_problems:
            raise PlaybookError(list(self.playbook_problems))
        if playbook is not None:
            found = next((p for p in self.playbooks if p.name == playbook), None)
            if found is None:
                known = ", ".join(sorted(p.name for p in self.playbooks)) or "none"
                raise PlaybookError(f"unknown playbook {playbook!r} (known: {known})")
            if name not in found.checks:
                raise UsageError(f"playbook {found.name!r} has no check {name!r}"
                                 + did_you_mean(name, found.checks))
            return found, name
        for by_kind in (False, True):
            for info in self.playbooks:
                for entry, kind in zip(info.checks, info.kinds, strict=True):
                    if (kind if by_kind else entry) == name:
                        return info, entry
        raise PlaybookError(f"unknown check {name!r}: no playbook entry has that name"
                            + did_you_mean(name, self.check_names()))

    def check_names(self) -> set[str]:
        """Every entry name and kind: what `opsd check` and `opsd history` accept."""
        return {n for p in self.playbooks for n in (*p.checks, *p.kinds)}

    @classmethod
    def of(cls, settings: Settings, playbooks: PlaybookSet | None, problems: list[str]) -> View:
        from opsd.config.loading import config_label
        from opsd.config.show import duration_paths
        from opsd.config.slos import unalerted_warnings

        timezone = settings.scheduler.timezone
        now = dt.datetime.now(zoneinfo.ZoneInfo(timezone))
        shown = settings.model_dump(mode="json")
        return cls(
            storage_path=str(settings.storage.path),
            timezone=settings.scheduler.timezone,
            maintenance=tuple(
                Window(w.name, w.schedule, w.duration, w.timezone, tuple(w.checks))
                for w in settings.alerts.maintenance
            ),
            shown=shown,
            shown_durations=tuple(duration_paths(type(settings), shown)),
            playbooks=tuple(
                PlaybookInfo(p.name, p.description, p.schedule, p.every,
                             tuple(s.name for s in p.checks), tuple(s.kind for s in p.checks),
                             str(p.path or ""), _upcoming(p.schedule, timezone, now),
                             max((s.timeout for s in p.checks), default=0.0))
                for p in (playbooks or ())
            ),
            playbook_problems=tuple(problems),
            routing_warnings=(*routing_warnings.of_settings(settings, playbooks or ()),
                              *plain_http_warnings(settings, config_label(settings)),
                              *exposure.of_settings(settings),
                              *unalerted_warnings(settings.slos, playbooks,
                                                  config_label(settings))),
        )

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> View:
        return cls(
            storage_path=data["storage_path"],
            timezone=data["timezone"],
            maintenance=tuple(Window(**{**w, "checks": tuple(w["checks"])})
                              for w in data["maintenance"]),
            shown=data["shown"],
            playbooks=tuple(
                PlaybookInfo(**{**p, "checks": tuple(p["checks"]), "kinds": tuple(p["kinds"]),
                                "upcoming": tuple(p["upcoming"])})
                for p in data["playbooks"]
            ),
            playbook_problems=tuple(data["playbook_problems"]),
            routing_warnings=tuple(data.get("routing_warnings", ())),
            shown_durations=tuple(tuple(path) for path in data.get("shown_durations", ())),
        )


def _upcoming(schedule: str | None, timezone: str, now: dt.datetime) -> tuple[float, ...]:
    if not schedule:
        return ()
    from opsd.cron import upcoming_fire_times

    return tuple(fire.timestamp() for fire in upcoming_fire_times(schedule, timezone, now))


def load_view(explicit: str | os.PathLike[str] | None, env: Mapping[str, str] | None = None
              ) -> View:
    """The view for these inputs: the snapshot if they are unchanged, else a full validation
    (raises ConfigError, one line per problem) that leaves a fresh snapshot."""
    environ = dict(os.environ if env is None else env)
    config_file = resolve_config_path(explicit, environ)
    cache = _cache_dir(environ)
    key = _inputs_key(cache, config_file, environ) if cache is not None else None
    if cache is None or key is None:
        return _validate(explicit, environ)[0]
    found = _read(cache, config_file, key)
    if found is not None:
        return found
    view, playbooks_dir = _validate(explicit, environ)
    _write(cache, config_file, key, view, playbooks_dir)
    return view


def _validate(explicit: str | os.PathLike[str] | None, env: dict[str, str]
              ) -> tuple[View, Path]:
    from opsd.config import load_settings
    from opsd.playbooks import load_playbooks, playbooks_dir

    settings = load_settings(explicit, env)
    try:
        playbooks, problems = load_playbooks(settings), []
    except ConfigError as exc:
        playbooks, problems = None, exc.problems
    return View.of(settings, playbooks, problems), playbooks_dir(settings)


# --- the snapshot ----------------------------------------------------------------------------


def _cache_dir(env: Mapping[str, str]) -> Path | None:
    """systemd's CacheDirectory=, else $XDG_CACHE_HOME/opsd, else ~/.cache/opsd (made 0700);
    None when there is none or it cannot be made."""
    if env.get("CACHE_DIRECTORY"):
        directory = Path(env["CACHE_DIRECTORY"].split(":")[0])
    elif env.get("XDG_CACHE_HOME"):
        directory = Path(env["XDG_CACHE_HOME"]) / "opsd"
    elif env.get("HOME"):
        directory = Path(env["HOME"]) / ".cache" / "opsd"
    else:
        return None
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError:
        return None
    return directory


def _salt(cache: Path) -> bytes:
    path = cache / "snapshot.key"
    try:
        return path.read_bytes()
    except FileNotFoundError:
        pass
    salt = secrets.token_bytes(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes()  # another command made it first
    with os.fdopen(fd, "wb") as fh:
        fh.write(salt)
    return salt


def _inputs_key(cache: Path, config_file: Path | None, env: Mapping[str, str]) -> str | None:
    """HMAC of everything a validation reads, except the playbook files (checked apart)."""
    try:
        mac = _code_mac(cache)
        if config_file is None:
            mac.update(b"no config file " + os.getcwd().encode())
        else:
            mac.update(str(config_file.resolve()).encode() + b"\0" + config_file.read_bytes())
        mac.update(repr(sorted(
            (k, v) for k, v in env.items() if k.startswith("OPSD_") or k in _ENV_INPUTS
        )).encode())
        mac.update(repr(_listing(env.get("CREDENTIALS_DIRECTORY"), "*")).encode())
    except OSError:
        return None  # an unreadable file: the full validation says why
    return mac.hexdigest()


def _code_mac(cache: Path) -> hmac.HMAC:
    """An HMAC already fed opsd's version and its modules' sizes and times (a changed check
    changes what a playbook accepts and what `opsd kinds` lists)."""
    mac = hmac.new(_salt(cache), digestmod=hashlib.sha256)
    code = _listing(str(Path(opsd.__file__).parent), "**/*.py")
    mac.update(repr((FORMAT, opsd.__version__, code)).encode())
    return mac


def _listing(directory: str | None, pattern: str) -> list[tuple[str, int, int]]:
    if not directory or not Path(directory).is_dir():
        return []
    return sorted(
        (str(p), (s := p.stat()).st_size, s.st_mtime_ns) for p in Path(directory).glob(pattern)
    )


def _playbook_digest(directory: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(directory.glob("*.toml")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def _snapshot_path(cache: Path, config_file: Path | None) -> Path:
    where = str(config_file.resolve()) if config_file else "none:" + os.getcwd()
    return cache / f"view-{hashlib.sha256(where.encode()).hexdigest()[:16]}.json"


def _read(cache: Path, config_file: Path | None, key: str) -> View | None:
    data = _read_record(_snapshot_path(cache, config_file), key)
    try:
        if data is None or data["playbooks"] != _playbook_digest(Path(data["playbooks_dir"])):
            return None
        return View.from_json(data["view"])
    except (OSError, KeyError, TypeError):
        return None  # a damaged or older snapshot: validate afresh


def _read_record(path: Path, key: str) -> dict[str, Any] | None:
    """The JSON record in `path` if it was written for `key`, else None."""
    try:
        data = json.loads(path.read_text())
        return data if hmac.compare_digest(data["key"], key) else None
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _write(cache: Path, config_file: Path | None, key: str, view: View, playbooks: Path) -> None:
    try:
        digest = _playbook_digest(playbooks)
    except OSError:
        return
    record = {"key": key, "playbooks_dir": str(playbooks), "playbooks": digest,
              "view": view.to_json()}
    _write_json(_snapshot_path(cache, config_file), record)


# --- the check kinds --------------------------------------------------------------------------


def load_kinds(env: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
    """Every check kind as `opsd kinds --json` lists it; remembered while opsd's code is
    unchanged, since listing them imports every check module."""
    cache = _cache_dir(dict(os.environ if env is None else env))
    if cache is None:
        return _describe_kinds()
    key = _code_mac(cache).hexdigest()
    found = _read_record(cache / "kinds.json", key)
    if found is not None and isinstance(found.get("kinds"), list):
        return list(found["kinds"])
    kinds = _describe_kinds()
    _write_json(cache / "kinds.json", {"key": key, "kinds": kinds})
    return kinds


def _describe_kinds() -> list[dict[str, Any]]:
    from opsd.checks import all_kinds

    return [
        {
            "kind": k.name,
            "description": k.description,
            "unit": k.unit,
            "warn": k.thresholds.warn,
            "crit": k.thresholds.crit,
            "direction": k.thresholds.direction,
            "params": sorted(k.params.model_fields),
        }
        for k in all_kinds().values()
    ]


def _write_json(target: Path, record: dict[str, Any]) -> None:
    """Write `record` to `target` atomically, 0600; a failure only costs the next command time."""
    temporary = target.with_suffix(f".{os.getpid()}.tmp")
    try:
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(record, fh)
        os.replace(temporary, target)
    except OSError:
        temporary.unlink(missing_ok=True)
