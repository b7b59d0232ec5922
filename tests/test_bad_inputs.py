"""Every bad input is one line naming the file (or variable, or credential) and the key.

A table of invalid configuration keys (every section), config files, environment variables,
credentials, storage paths and playbooks. Each must be rejected with `ConfigError` whose
problems are single lines starting with the source and the key, never accepted and never a
traceback; where the bad value is a secret, the line does not repeat it. A subset runs through
the real CLI in tests/faults/test_fault_bad_inputs.py.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, Strict

from opsd.checks import load_all
from opsd.checks.base import REGISTRY, CheckSpec
from opsd.config import Settings, load_settings
from opsd.config.fields import is_model, unwrap
from opsd.config.writable import storage_path_problems
from opsd.errors import ConfigError
from opsd.playbooks import load_playbooks

# --- the table -----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Case:
    """One bad input: `toml` is the config file's text (or a playbook's, for playbook cases),
    `env` the environment; `expected` what the (one) problem line starts with."""

    id: str
    toml: str
    expected: str
    env: tuple[tuple[str, str], ...] = ()
    secret: str = ""
    """Text that must not appear in the problem (a secret value)."""


def config(id: str, toml: str, expected: str, secret: str = "") -> Case:
    return Case(id, toml, f"opsd.toml: {expected}", secret=secret)


def env(id: str, variables: dict[str, str], expected: str, secret: str = "") -> Case:
    return Case(id, "", expected, env=tuple(variables.items()), secret=secret)


DB = '[[notion.databases]]\nname = "{name}"\nid = "0123456789abcdef0123456789abcdef"\n'
CACHE = '[[caches]]\nname = "{name}"\nsource = "redis://127.0.0.1:6379/0"\n'
ENDPOINT = '[[endpoints]]\nname = "{name}"\nurl = "http://127.0.0.1:1/health"\n'
MAINTENANCE = '[[alerts.maintenance]]\nname = "w"\nschedule = "0 2 * * sun"\nduration = "2h"\n'

CONFIG_CASES = [
    # [notion]
    config("notion.token-int", "[notion]\ntoken = 123\n", "notion.token:"),
    config("notion.base_url-scheme", '[notion]\nbase_url = "ftp://api.notion.com"\n',
           "notion.base_url: must start with http:// or https://"),
    config("notion.notion_version", '[notion]\nnotion_version = "2020-01-01"\n',
           "notion.notion_version: must be"),
    config("notion.timeout-inf", "[notion]\ntimeout = inf\n", "notion.timeout: must be a finite"),
    config("notion.timeout-nan", "[notion]\ntimeout = nan\n", "notion.timeout: must be a finite"),
    config("notion.timeout-negative", "[notion]\ntimeout = -1\n",
           "notion.timeout: must not be negative"),
    config("notion.timeout-zero", "[notion]\ntimeout = 0\n",
           "notion.timeout: must be greater than 0"),
    config("notion.timeout-words", '[notion]\ntimeout = "5 minutes"\n',
           "notion.timeout: not a duration: '5 minutes'"),
    config("notion.timeout-negative-text", '[notion]\ntimeout = "-1s"\n',
           "notion.timeout: not a duration: '-1s'"),
    config("notion.timeout-soon", '[notion]\ntimeout = "soon"\n', "notion.timeout: not a duration"),
    config("notion.rate_limit-zero", "[notion]\nrate_limit = 0\n", "notion.rate_limit:"),
    config("notion.rate_limit-negative", "[notion]\nrate_limit = -2.5\n", "notion.rate_limit:"),
    config("notion.rate_limit-inf", "[notion]\nrate_limit = inf\n",
           "notion.rate_limit: must be a finite number"),
    config("notion.rate_limit-nan", "[notion]\nrate_limit = nan\n",
           "notion.rate_limit: must be a finite number"),
    config("notion.burst-zero", "[notion]\nburst = 0\n", "notion.burst:"),
    config("notion.burst-fraction", "[notion]\nburst = 1.5\n", "notion.burst: not a valid integer"),
    config("notion.burst-text", '[notion]\nburst = "many"\n', "notion.burst: not a valid integer"),
    config("notion.max_retries-negative", "[notion]\nmax_retries = -1\n", "notion.max_retries:"),
    config("notion.max_retry_after-zero", "[notion]\nmax_retry_after = 0\n",
           "notion.max_retry_after:"),
    config("notion.request_log_retention", '[notion]\nrequest_log_retention = "forever"\n',
           "notion.request_log_retention: not a duration"),
    config("notion.status_page_url", '[notion]\nstatus_page_url = "status.example.com"\n',
           "notion.status_page_url: must start with http:// or https://"),
    config("notion.unknown-key", '[notion]\ntokn = "x"\n',
           "notion.tokn: unknown key (did you mean token?)"),
    config("notion.databases-not-list", '[notion]\ndatabases = "tasks"\n',
           "notion.databases:"),
    config("notion.databases-empty-name", DB.format(name=""), "notion.databases[0].name:"),
    config("notion.databases-bad-id", '[[notion.databases]]\nname = "x"\nid = "nope"\n',
           "notion.databases[0].id: not a Notion ID"),
    config("notion.databases-missing-id", '[[notion.databases]]\nname = "x"\n',
           "notion.databases[0].id: required key is missing"),
    config("notion.databases-property-type",
           DB.format(name="x") + '[notion.databases.required_properties]\nName = "text"\n',
           "notion.databases[0].required_properties.Name: must be"),
    config("notion.databases-duplicate", DB.format(name="x") + DB.format(name="x"),
           "notion: databases: duplicate name 'x'"),
    config("notion.databases-unknown-key", DB.format(name="x") + 'nmae = "y"\n',
           "notion.databases[0].nmae: unknown key (did you mean name?)"),
    # [storage]
    config("storage.path-int", "[storage]\npath = 5\n", "storage.path:"),
    config("storage.retention-zero", "[storage]\nretention = 0\n", "storage.retention:"),
    config("storage.retention-inf", "[storage]\nretention = inf\n",
           "storage.retention: must be a finite"),
    config("storage.retention-words", '[storage]\nretention = "90 days"\n',
           "storage.retention: not a duration"),
    config("storage.backup_dir-list", "[storage]\nbackup_dir = []\n", "storage.backup_dir:"),
    config("storage.unknown-key", '[storage]\npth = "x.db"\n',
           "storage.pth: unknown key (did you mean path?)"),
    # [metrics]
    config("metrics.enabled-yes", '[metrics]\nenabled = "yes"\n',
           "metrics.enabled: not a valid boolean"),
    config("metrics.enabled-one", "[metrics]\nenabled = 1\n",
           "metrics.enabled: not a valid boolean"),
    config("metrics.enabled-text-true", '[metrics]\nenabled = "true"\n',
           "metrics.enabled: not a valid boolean"),
    config("metrics.host-octets", '[metrics]\nhost = "999.1.1.1"\n',
           "metrics.host: not an IP address or host name"),
    config("metrics.host-spaces", '[metrics]\nhost = "not a host"\n',
           "metrics.host: not an IP address or host name"),
    config("metrics.host-empty", '[metrics]\nhost = ""\n',
           "metrics.host: not an IP address or host name"),
    config("metrics.host-hyphen", '[metrics]\nhost = "-bad-.example"\n',
           "metrics.host: not an IP address or host name"),
    config("metrics.host-url", '[metrics]\nhost = "http://127.0.0.1"\n',
           "metrics.host: not an IP address or host name"),
    config("metrics.port-high", "[metrics]\nport = 70000\n", "metrics.port:"),
    config("metrics.port-negative", "[metrics]\nport = -1\n", "metrics.port:"),
    config("metrics.port-text", '[metrics]\nport = "http"\n', "metrics.port: not a valid integer"),
    config("metrics.port-fraction", "[metrics]\nport = 9464.5\n",
           "metrics.port: not a valid integer"),
    # [scheduler]
    config("scheduler.timezone", '[scheduler]\ntimezone = "Mars/Olympus"\n',
           "scheduler.timezone: unknown IANA time zone 'Mars/Olympus'"),
    config("scheduler.timezone-empty", '[scheduler]\ntimezone = ""\n',
           "scheduler.timezone: unknown IANA time zone"),
    config("scheduler.max_concurrency-zero", "[scheduler]\nmax_concurrency = 0\n",
           "scheduler.max_concurrency:"),
    config("scheduler.shutdown_timeout-negative", "[scheduler]\nshutdown_timeout = -5\n",
           "scheduler.shutdown_timeout: must not be negative"),
    config("scheduler.shutdown_timeout-inf", "[scheduler]\nshutdown_timeout = inf\n",
           "scheduler.shutdown_timeout: must be a finite"),
    config("scheduler.alerts_interval-zero", "[scheduler]\nalerts_interval = 0\n",
           "scheduler.alerts_interval:"),
    config("scheduler.catch_up_spacing-nan", "[scheduler]\ncatch_up_spacing = nan\n",
           "scheduler.catch_up_spacing: must be a finite"),
    config("scheduler.playbooks_dir-int", "[scheduler]\nplaybooks_dir = 3\n",
           "scheduler.playbooks_dir:"),
    # [daemon]
    config("daemon.log_format", '[daemon]\nlog_format = "xml"\n', "daemon.log_format: must be"),
    config("daemon.log_level", '[daemon]\nlog_level = "verbose"\n', "daemon.log_level: must be"),
    config("daemon.heartbeat_url-int", "[daemon]\nheartbeat_url = 42\n", "daemon.heartbeat_url:"),
    config("daemon.heartbeat_playbook-int", "[daemon]\nheartbeat_playbook = 7\n",
           "daemon.heartbeat_playbook: not a string"),
    config("daemon.unknown-key", '[daemon]\nlog_levl = "info"\n',
           "daemon.log_levl: unknown key (did you mean log_level?)"),
    # [alerts]
    config("alerts.urls-notaurl", '[alerts]\nurls = ["notaurl"]\n', "alerts.urls[0]: not a URL",
           secret="notaurl"),
    config("alerts.urls-tagged-notaurl", '[alerts]\nurls = ["critical=hooks.example/s3cret"]\n',
           "alerts.urls[0]: not a URL", secret="s3cret"),
    config("alerts.urls-second", '[alerts]\nurls = ["json://127.0.0.1/hook", "mailto:ops"]\n',
           "alerts.urls[1]: not a URL", secret="mailto:ops"),
    config("alerts.urls-string", '[alerts]\nurls = "json://127.0.0.1/hook"\n',
           "alerts.urls: not a list"),
    config("alerts.failure_threshold-zero", "[alerts]\nfailure_threshold = 0\n",
           "alerts.failure_threshold:"),
    config("alerts.success_threshold-zero", "[alerts]\nsuccess_threshold = 0\n",
           "alerts.success_threshold:"),
    config("alerts.repeat_interval-negative", "[alerts]\nrepeat_interval = -1\n",
           "alerts.repeat_interval: must not be negative"),
    config("alerts.repeat_interval-inf", "[alerts]\nrepeat_interval = inf\n",
           "alerts.repeat_interval: must be a finite"),
    config("alerts.unknown_as", '[alerts]\nunknown_as = "FATAL"\n', "alerts.unknown_as: must be"),
    config("alerts.group-yes", '[alerts]\ngroup = "yes"\n', "alerts.group: not a valid boolean"),
    config("alerts.timeout-inf", "[alerts]\ntimeout = inf\n", "alerts.timeout: must be a finite"),
    config("alerts.timeout-nan", "[alerts]\ntimeout = nan\n", "alerts.timeout: must be a finite"),
    config("alerts.timeout-zero", "[alerts]\ntimeout = 0\n", "alerts.timeout:"),
    config("alerts.outbox_max_age-zero", "[alerts]\noutbox_max_age = 0\n",
           "alerts.outbox_max_age:"),
    config("alerts.retry_max_interval-nan", "[alerts]\nretry_max_interval = nan\n",
           "alerts.retry_max_interval: must be a finite"),
    config("alerts.plugin_paths-string", '[alerts]\nplugin_paths = "plugins"\n',
           "alerts.plugin_paths: not a list"),
    config("alerts.maintenance-bad-cron", MAINTENANCE.replace("0 2 * * sun", "61 * * * *"),
           "alerts.maintenance[0].schedule:"),
    config("alerts.maintenance-numeric-day", MAINTENANCE.replace("0 2 * * sun", "0 2 * * 1"),
           "alerts.maintenance[0].schedule: use day names"),
    config("alerts.maintenance-duration-zero", MAINTENANCE.replace('"2h"', "0"),
           "alerts.maintenance[0].duration:"),
    config("alerts.maintenance-duration-words", MAINTENANCE.replace('"2h"', '"2 hours"'),
           "alerts.maintenance[0].duration: not a duration"),
    config("alerts.maintenance-timezone", MAINTENANCE + 'timezone = "Nowhere/City"\n',
           "alerts.maintenance[0].timezone: unknown IANA time zone"),
    config("alerts.maintenance-missing-name", MAINTENANCE.replace('name = "w"\n', ""),
           "alerts.maintenance[0].name: required key is missing"),
    config("alerts.maintenance-unknown-key", MAINTENANCE + 'checkz = ["*"]\n',
           "alerts.maintenance[0].checkz: unknown key (did you mean checks?)"),
    config("alerts.escalations-after-zero",
           '[[alerts.escalations]]\nafter = 0\ntag = "pager"\n', "alerts.escalations[0].after:"),
    config("alerts.escalations-tag", '[[alerts.escalations]]\nafter = "30m"\ntag = "on call"\n',
           "alerts.escalations[0].tag:"),
    config("alerts.flapping-enabled-yes", '[alerts.flapping]\nenabled = "yes"\n',
           "alerts.flapping.enabled: not a valid boolean"),
    config("alerts.flapping-window", "[alerts.flapping]\nwindow = 2\n", "alerts.flapping.window:"),
    config("alerts.flapping-high", "[alerts.flapping]\nhigh = 1.5\n", "alerts.flapping.high:"),
    config("alerts.flapping-low-above-high", "[alerts.flapping]\nhigh = 0.2\nlow = 0.5\n",
           "alerts.flapping: low must not be above high"),
    config("alerts.flapping-nan", "[alerts.flapping]\nhigh = nan\n",
           "alerts.flapping.high: must be a finite number"),
    config("alerts.unknown-key", '[alerts]\nurl = ["json://127.0.0.1/hook"]\n',
           "alerts.url: unknown key (did you mean urls?)"),
    # [[caches]], [[apps]], [[endpoints]]
    config("caches.source-scheme", '[[caches]]\nname = "c"\nsource = "memcached://127.0.0.1"\n',
           "caches[0].source: unknown source scheme 'memcached://'"),
    config("caches.source-password",
           '[[caches]]\nname = "c"\nsource = "redis://:hunter2pw@127.0.0.1/0"\n',
           "caches[0].source: do not put a password in the URL", secret="hunter2pw"),
    config("caches.name-empty", CACHE.format(name=""), "caches[0].name:"),
    config("caches.timeout-inf", CACHE.format(name="c") + "timeout = inf\n",
           "caches[0].timeout: must be a finite"),
    config("caches.verify-no", CACHE.format(name="c") + 'verify = "no"\n',
           "caches[0].verify: not a valid boolean"),
    config("caches.ttl_seconds-zero", CACHE.format(name="c") + "ttl_seconds = 0\n",
           "caches[0].ttl_seconds:"),
    config("caches.min_lookups-negative", CACHE.format(name="c") + "min_lookups = -1\n",
           "caches[0].min_lookups:"),
    config("caches.redis-ratio", CACHE.format(name="c") + 'ratio = "hit_ratio"\n',
           "caches[0]: ratio: redis:// sources give hits and misses"),
    config("caches.duplicate", CACHE.format(name="c") + CACHE.format(name="c"),
           "caches: duplicate name 'c'"),
    config("caches.file-relative", '[[caches]]\nname = "c"\nsource = "file://stats.json"\n'
           'ratio = "hit"\n', "caches[0].source: file:// needs an absolute path"),
    config("caches.unknown-key", CACHE.format(name="c") + "ttl_secnds = 60\n",
           "caches[0].ttl_secnds: unknown key (did you mean ttl_seconds?)"),
    config("apps.redis", '[[apps]]\nname = "a"\nsource = "redis://127.0.0.1/0"\n'
           'errors = "e"\nrequests = "r"\n', "apps[0]: source: redis:// has no error counters"),
    config("apps.missing-errors",
           '[[apps]]\nname = "a"\nsource = "json+http://127.0.0.1/stats"\nrequests = "r"\n',
           "apps[0].errors: required key is missing"),
    config("endpoints.url-scheme", '[[endpoints]]\nname = "e"\nurl = "ftp://127.0.0.1/"\n',
           "endpoints[0].url: must start with http:// or https://"),
    config("endpoints.method", ENDPOINT.format(name="e") + 'method = "DELETE"\n',
           "endpoints[0].method: must be"),
    config("endpoints.expected_status", ENDPOINT.format(name="e") + "expected_status = 99\n",
           "endpoints[0].expected_status:"),
    config("endpoints.cert-days-inverted",
           ENDPOINT.format(name="e") + "cert_warn_days = 3\ncert_crit_days = 10\n",
           "endpoints[0]: cert_crit_days must not exceed cert_warn_days"),
    config("endpoints.json_value-alone", ENDPOINT.format(name="e") + 'json_value = "ok"\n',
           "endpoints[0]: json_value needs json_field"),
    config("endpoints.timeout-nan", ENDPOINT.format(name="e") + "timeout = nan\n",
           "endpoints[0].timeout: must be a finite"),
    config("endpoints.verify-text", ENDPOINT.format(name="e") + 'verify = "false"\n',
           "endpoints[0].verify: not a valid boolean"),
    config("endpoints.duplicate", ENDPOINT.format(name="e") + ENDPOINT.format(name="e"),
           "endpoints: duplicate name 'e'"),
    # [secrets]
    config("secrets.verify-yes", '[secrets]\nverify = "yes"\n', "secrets.verify: not a valid"),
    config("secrets.audit_permissions-one", "[secrets]\naudit_permissions = 1\n",
           "secrets.audit_permissions: not a valid boolean"),
    config("secrets.max_file_size-zero", "[secrets]\nmax_file_size = 0\n",
           "secrets.max_file_size:"),
    config("secrets.globs-string", '[secrets]\nglobs = "*.py"\n', "secrets.globs: not a list"),
    # the top level
    config("top.unknown-section", "[notoin]\nbase_url = \"https://api.notion.com\"\n",
           "notoin: unknown key (did you mean notion?)"),
    config("top.caches-string", 'caches = "redis"\n', "caches:"),
]

ENV_CASES = [
    env("env.unknown-section", {"OPSD_NOTON__TOKEN": "ntn_envcanary0123456789"},
        "environment OPSD_NOTON__TOKEN: no such setting (did you mean OPSD_NOTION__TOKEN?)",
        secret="ntn_envcanary0123456789"),
    env("env.unknown-key", {"OPSD_METRICS__PROT": "9100"},
        "environment OPSD_METRICS__PROT: no such setting (did you mean OPSD_METRICS__PORT?)"),
    env("env.unknown-lowercase", {"opsd_metrics__portt": "9100"},
        "environment opsd_metrics__portt: no such setting (did you mean OPSD_METRICS__PORT?)"),
    env("env.urls-not-json", {"OPSD_ALERTS__URLS": "json://127.0.0.1/s3cretpath"},
        "environment OPSD_ALERTS__URLS: not valid JSON", secret="s3cretpath"),
    env("env.caches-not-json", {"OPSD_CACHES": "redis"},
        "environment OPSD_CACHES: not valid JSON"),
    env("env.databases-broken-json", {"OPSD_NOTION__DATABASES": '[{"name": "x"'},
        "environment OPSD_NOTION__DATABASES: not valid JSON"),
    env("env.enabled-yes", {"OPSD_METRICS__ENABLED": "yes"},
        "environment OPSD_METRICS__ENABLED: metrics.enabled: not a valid boolean"),
    env("env.port-text", {"OPSD_METRICS__PORT": "http"},
        "environment OPSD_METRICS__PORT: metrics.port: not a valid integer"),
    env("env.timeout-inf", {"OPSD_NOTION__TIMEOUT": "inf"},
        "environment OPSD_NOTION__TIMEOUT: notion.timeout: not a duration"),
    env("env.rate-nan", {"OPSD_NOTION__RATE_LIMIT": "nan"},
        "environment OPSD_NOTION__RATE_LIMIT: notion.rate_limit: must be a finite number"),
    env("env.urls-notaurl", {"OPSD_ALERTS__URLS": '["notaurl"]'},
        "environment OPSD_ALERTS__URLS: alerts.urls[0]: not a URL", secret="notaurl"),
    env("env.host", {"OPSD_METRICS__HOST": "999.1.1.1"},
        "environment OPSD_METRICS__HOST: metrics.host: not an IP address or host name"),
    env("env.timezone", {"OPSD_SCHEDULER__TIMEZONE": "Mars/Base"},
        "environment OPSD_SCHEDULER__TIMEZONE: scheduler.timezone: unknown IANA time zone"),
]


def _write(path: Path, content: str | bytes) -> Path:
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    return path


# A config file that cannot be read as one: (id, make the path, expected line start).
FILE_CASES: list[tuple[str, Callable[[Path], Path], str]] = [
    ("file.binary", lambda d: _write(d / "opsd.toml", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"),
     "opsd.toml: not UTF-8 text (byte 0x89 at offset 0)"),
    ("file.latin-1", lambda d: _write(d / "opsd.toml", '[daemon]\nlog_level = "d\xe9bug"\n'
                                      .encode("latin-1")),
     "opsd.toml: not UTF-8 text (byte 0xe9"),
    ("file.nul-bytes", lambda d: _write(d / "opsd.toml", b"[metrics]\x00\nport = 1\n"),
     "opsd.toml: not valid TOML"),
    ("file.bad-toml", lambda d: _write(d / "opsd.toml", "[metrics\nport = 1\n"),
     "opsd.toml: not valid TOML"),
    ("file.directory", lambda d: (d / "opsd.toml").mkdir() or d / "opsd.toml",
     "{path}: cannot read: Is a directory"),
    ("file.under-a-file", lambda d: _write(d / "plain", "x") / "opsd.toml",
     "{path}: cannot read: Not a directory"),
    ("file.missing", lambda d: d / "nowhere.toml", "{path}: no such file"),
]

CREDENTIAL_CASES: list[tuple[str, bytes | None, str]] = [
    ("credential.empty", b"", "credential notion_token: empty file"),
    ("credential.blank", b" \n\n", "credential notion_token: empty file"),
    ("credential.not-utf8", b"ntn_\xff\xfe", "credential notion_token: not UTF-8 text"),
    ("credential.directory", None, "credential notion_token: cannot read: Is a directory"),
]

STORAGE_CASES: list[tuple[str, str, str]] = [
    ("storage.under-a-file", "/etc/hostname/opsd.db",
     "opsd.toml: storage.path: cannot create /etc/hostname/opsd.db: /etc/hostname is not a "
     "directory"),
    ("storage.under-proc", "/proc/opsd/opsd.db", "opsd.toml: storage.path: cannot create files"),
    ("storage.a-directory", "/tmp", "opsd.toml: storage.path: /tmp is not a file"),
]

# Playbook cases run against this configuration: one database, cache, endpoint; no apps.
PLAYBOOK_CONFIG = (
    '[scheduler]\nplaybooks_dir = "playbooks"\n' + DB.format(name="tasks")
    + CACHE.format(name="redis") + ENDPOINT.format(name="api")
)


def playbook(id: str, text: str, expected: str, config_extra: str = "") -> Case:
    return Case(id, text, expected, env=(("config", config_extra),) if config_extra else ())


def entry(kind: str, extra: str = "") -> str:
    return f'[[checks]]\nkind = "{kind}"\n{extra}'


PLAYBOOK_CASES = [
    playbook("playbook.bad-toml", 'name = "p"\n[[checks]\nkind = "notion.auth"\n',
             "p.toml: not valid TOML"),
    playbook("playbook.unknown-kind", entry("notion.nothing"),
             "p.toml: checks[0].kind: unknown check kind 'notion.nothing'"),
    playbook("playbook.kind-typo", entry("notion.auht"),
             "p.toml: checks[0].kind: unknown check kind 'notion.auht' (did you mean "
             "notion.auth?)"),
    playbook("playbook.kind-missing", '[[checks]]\nname = "x"\n',
             "p.toml: checks[0].kind: required key is missing"),
    playbook("playbook.unknown-param", entry("notion.latency", "samplez = 3\n"),
             "p.toml: checks[0].samplez: unknown key (did you mean samples?)"),
    playbook("playbook.param-type", entry("notion.latency", 'samples = "five"\n'),
             "p.toml: checks[0].samples: not a valid integer"),
    playbook("playbook.param-range", entry("notion.latency", "samples = 500\n"),
             "p.toml: checks[0].samples:"),
    playbook("playbook.param-duration", entry("history.trend", 'window = "1 day"\n'),
             "p.toml: checks[0].window: not a duration"),
    playbook("playbook.param-missing", entry("notion.count"),
             "p.toml: checks[0].database: required key is missing"),
    playbook("playbook.every-words", 'every = "5 minutes"\n',
             "p.toml: every: not a duration: '5 minutes'"),
    playbook("playbook.every-negative", 'every = "-1s"\n', "p.toml: every: not a duration"),
    playbook("playbook.every-zero", "every = 0\n", "p.toml: every:"),
    playbook("playbook.every-inf", "every = inf\n", "p.toml: every: must be a finite"),
    playbook("playbook.schedule-cron", 'schedule = "0 25 * * *"\n', "p.toml: schedule:"),
    playbook("playbook.schedule-fields", 'schedule = "0 7 * *"\n',
             "p.toml: schedule: cron needs 5 fields"),
    playbook("playbook.schedule-and-every", 'schedule = "0 7 * * mon"\nevery = "1h"\n',
             "p.toml: playbook: give either schedule or every, not both"),
    playbook("playbook.name", 'name = "Daily Report"\n', "p.toml: name:"),
    playbook("playbook.unknown-key", 'schedul = "0 7 * * mon"\n',
             "p.toml: schedul: unknown key (did you mean schedule?)"),
    playbook("playbook.checks-string", 'checks = "notion.auth"\n',
             "p.toml: checks: must be an array of tables"),
    playbook("playbook.entry-not-table", "checks = [1]\n", "p.toml: checks[0]: must be a table"),
    playbook("playbook.duplicate-entries", entry("notion.auth") + entry("notion.auth"),
             "p.toml: playbook: duplicate check names: notion.auth"),
    playbook("playbook.inverted-above", entry("notion.latency", "warn = 3\ncrit = 1\n"),
             "p.toml: checks[0].warn: warn (3) must be below crit (1) for direction 'above'"),
    playbook("playbook.inverted-below", entry("cache.hit_rate", "warn = 0.5\ncrit = 0.7\n"),
             "p.toml: checks[0].warn: warn (0.5) must be above crit (0.7) for direction 'below'"),
    playbook("playbook.inverted-by-default", entry("notion.latency", "warn = 5\n"),
             "p.toml: checks[0].warn: warn (5) must be below crit (2)"),
    playbook("playbook.inverted-by-direction",
             entry("notion.latency", 'direction = "below"\n'),
             "p.toml: checks[0].warn: warn (0.5) must be above crit (2) for direction 'below'"),
    playbook("playbook.warn-inf", entry("notion.latency", "warn = inf\n"),
             "p.toml: checks[0].warn: must be a finite number"),
    playbook("playbook.direction", entry("notion.latency", 'direction = "sideways"\n'),
             "p.toml: checks[0].direction: must be"),
    playbook("playbook.timeout-inf", entry("notion.auth", "timeout = inf\n"),
             "p.toml: checks[0].timeout: must be a finite"),
    playbook("playbook.timeout-nan", entry("notion.auth", "timeout = nan\n"),
             "p.toml: checks[0].timeout: must be a finite"),
    playbook("playbook.timeout-zero", entry("notion.auth", "timeout = 0\n"),
             "p.toml: checks[0].timeout:"),
    playbook("playbook.failure_threshold", entry("notion.auth", "failure_threshold = 0\n"),
             "p.toml: checks[0].failure_threshold:"),
    playbook("playbook.depends_on-string", entry("notion.auth", 'depends_on = "notion.auth"\n'),
             "p.toml: checks[0].depends_on: not a list"),
    playbook("playbook.flapping-enabled", entry("notion.auth", 'flapping = {enabled = "yes"}\n'),
             "p.toml: checks[0].flapping.enabled: not a valid boolean"),
    playbook("playbook.param-bool", entry("secrets.scan", 'verify = "no"\n'),
             "p.toml: checks[0].verify: not a valid boolean"),
    playbook("playbook.flapping-window", entry("notion.auth", "flapping = {window = 1}\n"),
             "p.toml: checks[0].flapping.window:"),
    playbook("playbook.target-database", entry("notion.schema", 'target = "nosuchdb"\n'),
             "p.toml: checks[0].target: no notion.databases entry named 'nosuchdb' "
             "(configured: tasks)"),
    playbook("playbook.target-database-typo", entry("notion.latency", 'target = "taks"\n'),
             "p.toml: checks[0].target: no notion.databases entry named 'taks' (did you mean "
             "tasks?)"),
    playbook("playbook.target-access", entry("notion.access", 'target = "nosuchdb"\n'),
             "p.toml: checks[0].target: no notion.databases entry named 'nosuchdb'"),
    playbook("playbook.target-cache", entry("cache.hit_rate", 'target = "memcache"\n'),
             "p.toml: checks[0].target: no caches entry named 'memcache'"),
    playbook("playbook.target-endpoint", entry("http.endpoint", 'target = "web"\n'),
             "p.toml: checks[0].target: no endpoints entry named 'web' (configured: api)"),
    playbook("playbook.target-app-none", entry("app.error_rate", 'target = "shop"\n'),
             "p.toml: checks[0].target: no apps entry named 'shop' (configured: none, apps is "
             "empty)"),
    playbook("playbook.heartbeat-nosuch", 'every = "1m"\n',
             "opsd.toml: daemon.heartbeat_playbook: no playbook named 'nosuch'",
             config_extra='[daemon]\nheartbeat_playbook = "nosuch"\n'),
    playbook("playbook.heartbeat-typo", 'every = "1m"\n',
             "opsd.toml: daemon.heartbeat_playbook: no playbook named 'pp' (did you mean p?)",
             config_extra='[daemon]\nheartbeat_playbook = "pp"\n'),
    playbook("playbook.heartbeat-default-missing", 'every = "1m"\n',
             "opsd.toml: daemon.heartbeat_playbook: no playbook named 'realtime'",
             config_extra='[daemon]\nheartbeat_url = "https://hc.example/ping/abc"\n'),
]


# --- the checks ----------------------------------------------------------------------------


def assert_one_line(problems: list[str], expected: str, secret: str = "") -> None:
    """One problem, on one line, starting with `expected`; no traceback; no secret."""
    assert len(problems) == 1, problems
    [line] = problems
    assert "\n" not in line and "\r" not in line, line
    assert "Traceback" not in line
    assert line.startswith(expected), f"{line!r} does not start with {expected!r}"
    if secret:
        assert secret not in line


def test_the_table_has_more_than_a_hundred_cases() -> None:
    total = (len(CONFIG_CASES) + len(ENV_CASES) + len(FILE_CASES) + len(CREDENTIAL_CASES)
             + len(STORAGE_CASES) + len(PLAYBOOK_CASES))
    assert total >= 110, total


@pytest.mark.parametrize("case", CONFIG_CASES, ids=lambda c: c.id)
def test_bad_config_key(case: Case, tmp_path: Path) -> None:
    path = _write(tmp_path / "opsd.toml", case.toml)
    with pytest.raises(ConfigError) as raised:
        load_settings(path, env={})
    assert_one_line(raised.value.problems, case.expected, case.secret)


@pytest.mark.parametrize("case", ENV_CASES, ids=lambda c: c.id)
def test_bad_environment_variable(case: Case, tmp_path: Path) -> None:
    path = _write(tmp_path / "opsd.toml", "")
    with pytest.raises(ConfigError) as raised:
        load_settings(path, env=dict(case.env))
    assert_one_line(raised.value.problems, case.expected, case.secret)


@pytest.mark.parametrize(("make", "expected"), [c[1:] for c in FILE_CASES],
                         ids=[c[0] for c in FILE_CASES])
def test_bad_config_file(make: Callable[[Path], Path], expected: str, tmp_path: Path) -> None:
    path = make(tmp_path)
    with pytest.raises(ConfigError) as raised:
        load_settings(path, env={})
    assert_one_line(raised.value.problems, expected.format(path=path))


def test_a_missing_file_named_by_opsd_config(tmp_path: Path) -> None:
    missing = tmp_path / "gone.toml"
    with pytest.raises(ConfigError) as raised:
        load_settings(None, env={"OPSD_CONFIG": str(missing)})
    assert_one_line(raised.value.problems, f"{missing}: no such file")


@pytest.mark.parametrize(("content", "expected"), [c[1:] for c in CREDENTIAL_CASES],
                         ids=[c[0] for c in CREDENTIAL_CASES])
def test_bad_credential(content: bytes | None, expected: str, tmp_path: Path) -> None:
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    if content is None:
        (credentials / "notion_token").mkdir()
    else:
        (credentials / "notion_token").write_bytes(content)
    path = _write(tmp_path / "opsd.toml", "")
    with pytest.raises(ConfigError) as raised:
        load_settings(path, env={"CREDENTIALS_DIRECTORY": str(credentials)})
    assert_one_line(raised.value.problems, expected, secret="ntn_")


@pytest.mark.parametrize(("storage", "expected"), [c[1:] for c in STORAGE_CASES],
                         ids=[c[0] for c in STORAGE_CASES])
def test_unwritable_storage_path(storage: str, expected: str, tmp_path: Path) -> None:
    path = _write(tmp_path / "opsd.toml", f'[storage]\npath = "{storage}"\n')
    settings = load_settings(path, env={})  # valid as a setting; the file system says no
    problems = storage_path_problems(settings.storage.path, path, {})
    assert_one_line(problems, expected)


def test_an_unwritable_storage_path_from_the_environment_names_the_variable(tmp_path: Path):
    problems = storage_path_problems(
        Path("/etc/hostname/opsd.db"), tmp_path / "opsd.toml",
        {"OPSD_STORAGE__PATH": "/etc/hostname/opsd.db"},
    )
    assert_one_line(problems, "environment OPSD_STORAGE__PATH: storage.path: cannot create")


def test_a_writable_storage_path_is_no_problem(tmp_path: Path) -> None:
    assert storage_path_problems(tmp_path / "new" / "dir" / "opsd.db", None, {}) == []
    (tmp_path / "opsd.db").write_bytes(b"")
    assert storage_path_problems(tmp_path / "opsd.db", None, {}) == []


@pytest.mark.parametrize("case", PLAYBOOK_CASES, ids=lambda c: c.id)
def test_bad_playbook(case: Case, tmp_path: Path) -> None:
    (tmp_path / "playbooks").mkdir()
    _write(tmp_path / "playbooks" / "p.toml", case.toml)
    config = _write(tmp_path / "opsd.toml", PLAYBOOK_CONFIG + dict(case.env).get("config", ""))
    settings = load_settings(config, env={})
    with pytest.raises(ConfigError) as raised:
        load_playbooks(settings)
    assert_one_line(raised.value.problems, case.expected)


def test_a_non_utf8_playbook_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "playbooks").mkdir()
    _write(tmp_path / "playbooks" / "p.toml", b'description = "caf\xe9"\n')
    settings = load_settings(_write(tmp_path / "opsd.toml", PLAYBOOK_CONFIG), env={})
    with pytest.raises(ConfigError) as raised:
        load_playbooks(settings)
    assert_one_line(raised.value.problems, "p.toml: not UTF-8 text (byte 0xe9 at offset 18)")


def test_a_playbook_name_defined_twice_names_the_second_file(tmp_path: Path) -> None:
    (tmp_path / "playbooks").mkdir()
    _write(tmp_path / "playbooks" / "a.toml", 'name = "same"\n')
    _write(tmp_path / "playbooks" / "b.toml", 'name = "same"\n')
    settings = load_settings(_write(tmp_path / "opsd.toml", PLAYBOOK_CONFIG), env={})
    with pytest.raises(ConfigError) as raised:
        load_playbooks(settings)
    assert_one_line(raised.value.problems, "b.toml: name: playbook 'same' is defined twice")


# --- what stays valid ----------------------------------------------------------------------


def test_the_strict_rules_still_accept_the_valid_forms(tmp_path: Path) -> None:
    """Booleans from the environment as true/false, host names, tagged URLs, equal limits, a
    crit below the kind's default warn, existing targets, a known heartbeat playbook, opsd's
    own OPSD_CONFIG."""
    (tmp_path / "playbooks").mkdir()
    _write(tmp_path / "playbooks" / "p.toml",
           entry("notion.latency", 'target = "tasks"\nwarn = 1\ncrit = 1\n')
           + entry("cache.hit_rate", 'target = "redis"\n')
           + entry("maintenance.disk", "crit = 0\n"))  # crit alone: the default warn gives way
    config = _write(tmp_path / "opsd.toml", PLAYBOOK_CONFIG + (
        '[daemon]\nheartbeat_playbook = "p"\n'
        '[alerts]\nurls = ["critical,warning=json://127.0.0.1/hook", "mailtos://u:p@host"]\n'
    ))
    settings = load_settings(config, env={
        "OPSD_CONFIG": str(config), "OPSD_METRICS__ENABLED": "False",
        "OPSD_METRICS__HOST": "metrics-host.internal", "OPSD_SECRETS__VERIFY": "true",
    })
    assert settings.metrics.enabled is False and settings.secrets.verify is True
    assert settings.metrics.host == "metrics-host.internal"
    assert [s.name for s in load_playbooks(settings)] == ["p"]


def _boolean_fields(model: type[BaseModel], seen: set[type]) -> Iterator[tuple[str, list[Any]]]:
    """(model.field, its metadata) of every boolean field under `model`, nested models too
    (`StrictBool | None` keeps its `Strict` inside the optional's annotation)."""
    if model in seen:
        return
    seen.add(model)
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if typing.get_origin(annotation) in (typing.Union, types.UnionType):
            annotation = next(a for a in typing.get_args(annotation) if a is not type(None))
        metadata = list(field.metadata)
        if typing.get_origin(annotation) is typing.Annotated:
            metadata += annotation.__metadata__
            annotation = typing.get_args(annotation)[0]
        if annotation is bool:
            yield f"{model.__name__}.{name}", metadata
        for inner in (annotation, *typing.get_args(annotation)):
            if is_model(unwrap(inner)):
                yield from _boolean_fields(unwrap(inner), seen)


def test_every_boolean_setting_and_parameter_is_strict() -> None:
    """So that no new boolean key quietly accepts "yes" again."""
    load_all()
    models = [Settings, CheckSpec, *(kind.params for kind in REGISTRY.values())]
    seen: set[type] = set()
    found = dict(item for model in models for item in _boolean_fields(model, seen))
    assert {"FlappingOverride.enabled", "ScanParams.verify", "MetricsConfig.enabled"} <= set(found)
    lax = [name for name, metadata in found.items()
           if not any(isinstance(m, Strict) and m.strict for m in metadata)]
    assert lax == []
