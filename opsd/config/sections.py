"""The configuration's sections as pydantic models; every model forbids unknown keys: a typo
must fail loudly, not silently disable a check. Loading (files, environment, credentials) is
in `opsd.config.loading`.
"""

from __future__ import annotations

import os
import re
import zoneinfo
from collections.abc import Callable
from contextvars import ContextVar
from pathlib import Path
from typing import Annotated, Literal, get_args

from pydantic import (
    AfterValidator,
    Field,
    StrictBool,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from opsd.config.addresses import alert_url, listen_host
from opsd.config.alertmanager import AlertmanagerConfig, workspace_name
from opsd.config.base import Duration, Section
from opsd.config.circuit import CircuitConfig
from opsd.config.flapping import FlappingConfig
from opsd.config.plain_http import refuse_token_in_clear
from opsd.config.proxy import ProxyConfig
from opsd.config.reports import ReportsConfig
from opsd.config.retention import longer_than_finer_tier
from opsd.config.secret import HeaderSecret, Secret
from opsd.config.services import AppConfig, CacheConfig, EndpointConfig
from opsd.config.slos import SloList

ENV_PREFIX = "OPSD_"
ListenHost = Annotated[str, AfterValidator(listen_host)]
"""An IP address or a host name to bind."""
AlertURL = Annotated[Secret, AfterValidator(alert_url)]
"""An `alerts.urls` entry, `[tags=]scheme://…` (kept secret)."""
NotionVersion = Literal["2022-06-28", "2025-09-03", "2026-03-11"]
NOTION_VERSIONS: tuple[str, ...] = get_args(NotionVersion)
"""The Notion-Versions opsd speaks, oldest first (what changes: `opsd.notion.versions`)."""

PropertyType = Literal[
    "title", "rich_text", "number", "select", "multi_select", "status", "date", "people",
    "files", "checkbox", "url", "email", "phone_number", "formula", "relation", "rollup",
    "created_time", "created_by", "last_edited_time", "last_edited_by", "unique_id",
    "verification", "button", "place",
]


# --- [notion] -------------------------------------------------------------------------------


class DatabaseConfig(Section):
    name: str = Field(min_length=1, description="Label used in results and alerts.")
    id: str = Field(description="Database ID, with or without dashes.")
    required_properties: dict[str, PropertyType] = Field(
        default_factory=dict,
        description="Property name -> Notion type that notion.schema expects (read-only check).",
    )

    @field_validator("id")
    @classmethod
    def _normalise_id(cls, value: str) -> str:
        return normalise_notion_id(value)


class NotionConfig(Section):
    token: HeaderSecret | None = Field(
        None, description="Internal integration secret (ntn_…); or NOTION_API_TOKEN, or the "
        "notion_token credential. Never printed, logged or stored.",
    )
    base_url: str = Field("https://api.notion.com", description="Notion API (or the sandbox).")
    notion_version: NotionVersion = Field(
        "2025-09-03", description="Notion-Version header; 2025-09-03 and later read data "
        "sources; 2026-03-11 says in_trash instead of archived.",
    )
    timeout: Duration = Field(30.0, gt=0, description="Per-request timeout.")
    rate_limit: float = Field(
        2.5, gt=0, description="opsd's own request budget, requests/second on average (Notion "
        "allows about 3 per integration, shared with the integration itself).",
    )
    burst: int = Field(3, ge=1, description="Client-side burst size (token bucket).")
    max_retries: int = Field(
        3, ge=0, description="Retries of a failed request (429, 5xx, 529, gateway, timeout, "
        "network), always within the check's timeout.",
    )
    max_retry_after: Duration = Field(
        120.0, gt=0, description="The longest pause a 429 or 529 Retry-After imposes on opsd's "
        "shared request budget (Notion's workspace limits can ask for more than 60 s).",
    )
    request_log_retention: Duration = Field(
        35 * 86400.0, gt=0,
        description="How long the per-request log (notion_requests) is kept; the monthly "
        "rate-limit and error-rate review reads 30 days of it.",
    )
    databases: list[DatabaseConfig] = Field(
        default_factory=list, description="The databases the checks look at ([[notion.databases]])."
    )
    status_page_url: str = Field(
        "https://www.notion-status.com/api/v2/summary.json",
        description="Notion's public status page (Atlassian Statuspage summary.json), read by "
        "notion.status_page.",
    )
    circuit: CircuitConfig = Field(default_factory=CircuitConfig)

    @field_validator("base_url", "status_page_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not re.match(r"^https?://", value):
            raise ValueError("must start with http:// or https://")
        return value

    @field_validator("base_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @field_validator("base_url")
    @classmethod
    def _no_token_in_clear(cls, value: str, info: ValidationInfo) -> str:
        # `token` is declared first, so it is validated (and in `info.data`) by now.
        if info.data.get("token") is not None:
            refuse_token_in_clear(value)
        return value

    @model_validator(mode="after")
    def _unique_names(self) -> NotionConfig:
        _require_unique("databases", [db.name for db in self.databases])
        return self


# --- [storage] [metrics] [scheduler] [daemon] -----------------------------------------------


def _default_storage_path() -> Path:
    state_dir = os.environ.get("STATE_DIRECTORY")  # set by systemd's StateDirectory=
    if state_dir:
        return Path(state_dir.split(":")[0]) / "opsd.db"
    return Path("/var/lib/opsd/opsd.db")


class StorageConfig(Section):
    path: Path = Field(default_factory=_default_storage_path)
    retention: Duration = Field(
        7 * 86400.0, gt=0,
        description="How long raw results are kept (once rolled up; see opsd.store.rollups).",
    )
    retention_hourly: Duration = Field(90 * 86400.0, gt=0, description="Hourly rollups.")
    retention_daily: Duration = Field(730 * 86400.0, gt=0, description="Daily rollups.")
    backup_dir: Path | None = Field(None, description="Where maintenance.backup writes copies.")
    busy_timeout: Duration = Field(
        30.0, gt=0,
        description="How long the daemon's background writes wait for another process's "
        "write lock (checks never wait on it; runs wait in memory).",
    )

    @field_validator("retention_hourly", "retention_daily")
    @classmethod
    def _tiers_in_order(cls, value: float, info: ValidationInfo) -> float:
        return longer_than_finer_tier(value, info)


class MetricsConfig(Section):
    enabled: StrictBool = True
    host: ListenHost = "127.0.0.1"
    port: int = Field(9464, ge=0, le=65535)
    workspace: Annotated[str | None, AfterValidator(workspace_name)] = Field(
        None, description="The `workspace` label on every series (default: the config's stem).")


class SchedulerConfig(Section):
    timezone: str = "UTC"
    playbooks_dir: Path | None = Field(
        None, description="Directory of playbook TOML files; default: the built-in playbooks."
    )
    max_concurrency: int = Field(4, ge=1, description="Checks of one playbook run at once.")
    shutdown_timeout: Duration = Field(
        30.0, ge=0, description="SIGTERM: how long running playbooks may finish before cancel."
    )
    alerts_interval: Duration = Field(
        30.0, gt=0, description="How often the daemon sends due reminders and outbox retries."
    )
    catch_up_spacing: Duration = Field(
        0.0, ge=0, description="Catch-up runs at start fire this far apart (probing playbooks "
        "first, those judging history last) instead of all at once.",
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown IANA time zone {value!r}") from None
        return value


class DaemonConfig(Section):
    log_format: Literal["text", "json"] = "text"
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    heartbeat_url: Secret | None = Field(
        None, description="Pinged after each successful run of heartbeat_playbook."
    )
    heartbeat_playbook: str = "realtime"


# --- [alerts] -------------------------------------------------------------------------------


class MaintenanceWindow(Section):
    """A recurring window during which matching alerts are recorded but not sent."""

    name: str = Field(min_length=1, description="Shown in alert history as the silencer.")
    schedule: str = Field(description="Cron expression (day names) for the window's start.")
    duration: Duration = Field(gt=0, description="How long each window lasts, e.g. 2h.")
    timezone: str | None = Field(None, description="IANA zone; default: scheduler.timezone.")
    checks: list[str] = Field(
        default_factory=lambda: ["*"], description="Globs over check names and kinds."
    )

    @field_validator("schedule")
    @classmethod
    def _valid_cron(cls, value: str) -> str:
        # Same rules as a playbook's schedule (5 fields, day names), checked by the same code;
        # imported here because the cron parser is only needed when a window is configured.
        from opsd.cron import validate_cron

        return validate_cron(value)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        return None if value is None else SchedulerConfig._known_zone(value)


class Escalation(Section):
    """[[alerts.escalations]]: where a firing alert nobody acknowledged goes after a while."""

    after: Duration = Field(gt=0, description="How long the alert has fired, e.g. 30m.")
    tag: str = Field(
        pattern=r"^[A-Za-z0-9_:-]+$", description="Apprise tag of the URLs to also send it to."
    )

    @field_validator("tag")
    @classmethod
    def _lower_tag(cls, value: str) -> str:
        # Apprise compares tags case-insensitively; URL tags are parsed lowercased.
        return value.lower()


class AlertsConfig(Section):
    urls: list[AlertURL] = Field(
        default_factory=list,
        description="Apprise URLs; a 'tag=url' prefix routes by severity (critical=, warning=).",
    )
    failure_threshold: int | None = Field(
        None, ge=1,
        description="Non-OK results in a row before firing (default 1 CRITICAL, 2 WARNING).",
    )
    success_threshold: int = Field(1, ge=1, description="OK results in a row before resolving.")
    repeat_interval: Duration = Field(4 * 3600.0, ge=0, description="Reminder period; 0 = never.")
    unknown_as: Literal["WARNING", "CRITICAL", "ignore"] = Field(
        "WARNING", description="Severity an UNKNOWN result alerts with ('ignore': never)."
    )
    group: StrictBool = Field(True, description="Several alerts of one run go out as one message.")
    timeout: Duration = Field(30.0, gt=0, description="Per-URL delivery timeout.")
    plugin_paths: list[Path] = Field(
        default_factory=list,
        description="Files or directories of custom Apprise plugins (`@notify` functions).",
    )
    outbox_max_age: Duration = Field(
        2 * 86400.0, gt=0, description="Undelivered messages are retried for this long."
    )
    retry_max_interval: Duration = Field(
        300.0, gt=0, description="Longest wait between two delivery attempts to a URL."
    )
    maintenance: list[MaintenanceWindow] = Field(default_factory=list)
    escalations: list[Escalation] = Field(
        default_factory=list,
        description="An unacknowledged firing alert also goes to URLs tagged `tag` after `after`.",
    )
    flapping: FlappingConfig = Field(default_factory=FlappingConfig)
    alertmanager: AlertmanagerConfig = Field(default_factory=AlertmanagerConfig)


class SecretsConfig(Section):
    """[secrets]: the secret scanner (`opsd scan` and the `secrets.scan` check kind)."""

    root: Path | None = Field(
        None, description="Directory of the monitored integration: relative paths of "
        "secrets.scan entries resolve against it (unset: such entries are SKIPPED).",
    )
    paths: list[Path] = Field(
        default_factory=list, description="Roots for `opsd scan` without PATH and for "
        "secrets.scan entries without paths.",
    )
    globs: list[str] = Field(
        default_factory=list, description="Only files whose name or relative path matches "
        "one of these globs (default: every text file).",
    )
    excludes: list[str] = Field(
        default_factory=list, description="Globs of files and directories never read (on "
        "top of .git, node_modules, lock files and binaries).",
    )
    allowlist: list[str] = Field(
        default_factory=list, description="Path globs whose findings are never reported "
        "(test fixtures, documentation).",
    )
    baseline: Path | None = Field(
        None, description="Accepted findings, written by `opsd scan --update-baseline FILE`: "
        "only findings not in it are new.",
    )
    rules_file: Path | None = Field(
        None, description="Extra rules in gitleaks' TOML format ([[rules]] with id, regex, "
        "secretGroup, keywords, entropy, allowlists), on top of the built-in ones.",
    )
    verify: StrictBool = Field(
        True, description="Try each new Notion token found against GET /v1/users/me: "
        "live is CRITICAL, revoked WARNING.",
    )
    audit_permissions: StrictBool = Field(
        True, description="Report config and .env files holding a secret that are group- "
        "or world-readable (WARNING).",
    )
    max_file_size: int = Field(
        5 * 1024 * 1024, gt=0, description="Bytes; larger files are skipped.",
    )
    max_line_length: int = Field(
        16384, gt=0, description="Bytes; findings on longer lines (minified bundles) are ignored.",
    )


# --- the whole file -------------------------------------------------------------------------


SourcesFactory = Callable[[type[BaseSettings]], tuple[PydanticBaseSettingsSource, ...]]
LOAD_SOURCES: ContextVar[SourcesFactory | None] = ContextVar("opsd_load_sources", default=None)
"""The sources of the load in progress, set by `opsd.config.loading.load_settings`."""


class Settings(BaseSettings):
    """Everything opsd reads from its configuration."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        extra="forbid",
        case_sensitive=False,
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """`load_settings`'s sources while it loads (file, credentials, environment); the
        library's defaults otherwise (`Settings(...)` in tests)."""
        chosen = LOAD_SOURCES.get()
        if chosen is None:
            return init_settings, env_settings, dotenv_settings, file_secret_settings
        return chosen(settings_cls)

    notion: NotionConfig = Field(default_factory=NotionConfig)
    storage: StorageConfig = Field(default_factory=StorageConfig)
    metrics: MetricsConfig = Field(default_factory=MetricsConfig)
    scheduler: SchedulerConfig = Field(default_factory=SchedulerConfig)
    daemon: DaemonConfig = Field(default_factory=DaemonConfig)
    alerts: AlertsConfig = Field(default_factory=AlertsConfig)
    caches: list[CacheConfig] = Field(default_factory=list)
    apps: list[AppConfig] = Field(default_factory=list)
    endpoints: list[EndpointConfig] = Field(default_factory=list)
    secrets: SecretsConfig = Field(default_factory=SecretsConfig)
    reports: ReportsConfig = Field(default_factory=ReportsConfig)
    slos: SloList = Field(default_factory=list)
    proxy: ProxyConfig = Field(default_factory=ProxyConfig)

    @model_validator(mode="after")
    def _unique_names(self) -> Settings:
        _require_unique("caches", [c.name for c in self.caches])
        _require_unique("endpoints", [e.name for e in self.endpoints])
        _require_unique("apps", [a.name for a in self.apps])
        return self

    def secret_values(self) -> list[str]:
        """Every configured secret, for redaction of free text."""
        values = [self.notion.token, self.daemon.heartbeat_url, *self.alerts.urls]
        values += [s for c in [*self.caches, *self.apps, *self.endpoints] for s in c.secrets()]
        found = [v.get_secret_value() for v in values if v is not None and v.get_secret_value()]
        return found + self.alerts.alertmanager.secrets()

    def redact(self, text: str) -> str:
        """`text` with every configured secret, in any encoding it may take (JSON, repr, URL,
        base64, hex), replaced by its redacted form."""
        from opsd.redact import redactor_for

        return redactor_for(tuple(self.secret_values())).redact(text)


def _require_unique(section: str, names: list[str]) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise ValueError(f"{section}: duplicate name {name!r}")
        seen.add(name)


def normalise_notion_id(value: str) -> str:
    """A Notion ID in canonical dashed form; accepts 32 hex digits with or without dashes."""
    compact = value.strip().replace("-", "").lower()
    if not re.fullmatch(r"[0-9a-f]{32}", compact):
        raise ValueError("not a Notion ID (32 hex digits, with or without dashes)")
    c = compact
    return f"{c[:8]}-{c[8:12]}-{c[12:16]}-{c[16:20]}-{c[20:]}"
