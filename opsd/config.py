"""Configuration: one TOML file, overridden by credentials, overridden by the environment.

Sources, highest precedence first (all pydantic-settings sources):

1. environment: `OPSD_<SECTION>__<KEY>` (e.g. `OPSD_METRICS__PORT=9100`), and
   `NOTION_API_TOKEN` for the Notion token;
2. systemd credentials: a file `notion_token` in `$CREDENTIALS_DIRECTORY`
   (`LoadCredential=notion_token:/etc/opsd/notion_token`);
3. the TOML file: `opsd --config PATH`, else `$OPSD_CONFIG`, else `/etc/opsd/opsd.toml`.

Every model forbids unknown keys: a typo must fail loudly, not silently disable a check.
"""

from __future__ import annotations

import os
import re
import tomllib
import zoneinfo
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SecretsSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from opsd.durations import Duration
from opsd.errors import ConfigError

DEFAULT_CONFIG_PATH = Path("/etc/opsd/opsd.toml")
ENV_PREFIX = "OPSD_"
NOTION_VERSIONS = ("2022-06-28", "2025-09-03")

PropertyType = Literal[
    "title", "rich_text", "number", "select", "multi_select", "status", "date", "people",
    "files", "checkbox", "url", "email", "phone_number", "formula", "relation", "rollup",
    "created_time", "created_by", "last_edited_time", "last_edited_by", "unique_id",
    "verification", "button", "place",
]


class Section(BaseModel):
    """Base for config sections: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid")


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
    token: SecretStr | None = Field(
        None, description="Internal integration secret (ntn_…); or NOTION_API_TOKEN, or the "
        "notion_token credential. Never printed, logged or stored.",
    )
    base_url: str = Field("https://api.notion.com", description="Notion API (or the sandbox).")
    notion_version: Literal["2022-06-28", "2025-09-03"] = Field(
        "2025-09-03", description="Notion-Version header; 2025-09-03 reads data sources.",
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
    request_log_retention: Duration = Field(
        35 * 86400.0, gt=0,
        description="How long the per-request log (notion_requests) is kept; the monthly "
        "rate-limit and error-rate review reads 30 days of it.",
    )
    databases: list[DatabaseConfig] = Field(
        default_factory=list, description="The databases the checks look at ([[notion.databases]])."
    )

    @field_validator("base_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        if not re.match(r"^https?://", value):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

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
    retention: Duration = Field(90 * 86400.0, gt=0, description="How long results are kept.")
    backup_dir: Path | None = Field(None, description="Where maintenance.backup writes copies.")


class MetricsConfig(Section):
    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = Field(9464, ge=0, le=65535)


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
    heartbeat_url: SecretStr | None = Field(
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
        # Same rules as a playbook's schedule (5 fields, day names), checked by the same code.
        from opsd.playbooks import Playbook

        try:
            Playbook(name="maintenance", schedule=value)
        except ValidationError as exc:
            raise ValueError(friendly_message(exc.errors()[0])) from None
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        return None if value is None else SchedulerConfig._known_zone(value)


class AlertsConfig(Section):
    urls: list[SecretStr] = Field(
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
    group: bool = Field(True, description="Several alerts of one run go out as one message.")
    timeout: Duration = Field(30.0, gt=0, description="Per-URL delivery timeout.")
    plugin_paths: list[Path] = Field(
        default_factory=list,
        description="Files or directories of custom Apprise plugins (`@notify` functions).",
    )
    outbox_max_age: Duration = Field(
        2 * 86400.0, gt=0, description="Undelivered messages are retried for this long."
    )
    maintenance: list[MaintenanceWindow] = Field(default_factory=list)


# --- [[caches]] [[apps]] [[endpoints]] [secrets] ---------------------------------------------

# URL scheme of a counter source -> the reader family in `opsd.sources`.
SOURCE_FAMILIES = {
    "redis": "redis", "rediss": "redis", "unix": "redis",
    "prometheus+http": "prometheus", "prometheus+https": "prometheus",
    "json+http": "json", "json+https": "json",
    "file": "file", "sqlite": "sqlite",
}


def _reject_url_password(url: str) -> None:
    if urlsplit(url).password:
        raise ValueError(
            "do not put a password in the URL (it would show in results); "
            "use the `password` or `headers` key, which are kept secret"
        )


class TransportConfig(Section):
    """How opsd talks to a service over the network: headers, TLS and a timeout."""

    headers: dict[str, SecretStr] = Field(
        default_factory=dict,
        description="Extra HTTP request headers (e.g. Authorization); values are kept secret.",
    )
    verify: bool = Field(True, description="Verify the server's TLS certificate.")
    ca_file: Path | None = Field(
        None, description="PEM CA bundle that signs a private or self-signed certificate."
    )
    timeout: Duration = Field(10.0, gt=0, description="Per-request timeout.")

    def secrets(self) -> list[SecretStr]:
        """The secret values of this entry, for redaction."""
        return list(self.headers.values())


class SourceConfig(TransportConfig):
    """Where a pair of counters is read: Redis INFO, a Prometheus exposition, JSON or SQLite."""

    name: str = Field(min_length=1, description="Label used in results and alerts.")
    source: str = Field(
        description="redis://host:port/db, rediss://, prometheus+http(s)://host/metrics, "
        "json+http(s)://host/stats, file:///path/stats.json or sqlite:///path/stats.db"
    )
    password: SecretStr | None = Field(None, description="Redis password (kept secret).")
    query: str | None = Field(
        None, description="sqlite:// sources: a SELECT returning one row; selectors name columns."
    )

    @property
    def family(self) -> str:
        """The reader that handles `source`: redis, prometheus, json, file or sqlite."""
        return SOURCE_FAMILIES[urlsplit(self.source).scheme.lower()]

    def secrets(self) -> list[SecretStr]:
        return [*super().secrets(), *([self.password] if self.password else [])]

    @field_validator("source")
    @classmethod
    def _known_scheme(cls, value: str) -> str:
        scheme = urlsplit(value).scheme.lower()
        if scheme not in SOURCE_FAMILIES:
            known = ", ".join(f"{s}://" for s in SOURCE_FAMILIES)
            raise ValueError(f"unknown source scheme {scheme + '://' if scheme else value!r} "
                             f"(use one of {known})")
        _reject_url_password(value)
        local = SOURCE_FAMILIES[scheme] in ("file", "sqlite")
        if local and not urlsplit(value).path.startswith("/"):
            raise ValueError(f"{scheme}:// needs an absolute path: {scheme}:///var/lib/app/stats")
        return value

    def _check_selectors(self, selectors: dict[str, str | None]) -> None:
        from opsd.sources import check_selector

        if (self.query is not None) != (self.family == "sqlite"):
            raise ValueError("query: needed by sqlite:// sources and only by them")
        if self.password is not None and self.family != "redis":
            raise ValueError("password: only for redis:// sources")
        for key, selector in selectors.items():
            if selector is not None:
                try:
                    check_selector(self.family, selector)
                except ValueError as exc:
                    raise ValueError(f"{key}: {exc}") from None


class CacheConfig(SourceConfig):
    """A cache whose hit rate is watched: `cache.hit_rate`, `cache.ttl_review`."""

    ttl_seconds: float | None = Field(
        None, gt=0, description="The cache's current TTL, for the TTL review's recommendation."
    )
    hits: str | None = Field(
        None,
        description="Where the hit counter is: a Redis INFO field (default keyspace_hits), "
        'a metric selector (app_cache_hits_total{cache="notion"}), a JSON path (stats.hits) '
        "or a column of `query`.",
    )
    misses: str | None = Field(
        None, description="Where the miss counter is (as `hits`; Redis default keyspace_misses)."
    )
    ratio: str | None = Field(
        None, description="Instead of hits/misses: where a ready-made hit ratio 0..1 is."
    )
    min_lookups: int = Field(
        100, ge=0, description="Fewer lookups than this in the interval: 'not enough traffic to "
        "judge' (OK); the interval then grows until there are enough.",
    )

    @model_validator(mode="after")
    def _selectors(self) -> CacheConfig:
        self._check_selectors({"hits": self.hits, "misses": self.misses, "ratio": self.ratio})
        counters = self.hits is not None and self.misses is not None
        if self.family == "redis":
            if self.ratio is not None:
                raise ValueError("ratio: redis:// sources give hits and misses, not a ratio")
        elif counters == (self.ratio is not None) or (self.hits is None) != (self.misses is None):
            raise ValueError(f"{self.family} sources need either hits and misses, or ratio")
        return self


class AppConfig(SourceConfig):
    """An application whose error rate is watched: `app.error_rate`."""

    errors: str = Field(description="Where the error counter is (selector, JSON path, column).")
    requests: str = Field(description="Where the request counter is (errors included).")
    min_requests: int = Field(
        100, ge=0, description="Fewer requests than this in the interval: 'not enough traffic to "
        "judge' (OK); the interval then grows until there are enough.",
    )

    @model_validator(mode="after")
    def _selectors(self) -> AppConfig:
        if self.family == "redis":
            raise ValueError("source: redis:// has no error counters; use prometheus+http://, "
                             "json+http://, file:// or sqlite://")
        self._check_selectors({"errors": self.errors, "requests": self.requests})
        return self


class EndpointConfig(TransportConfig):
    """A service endpoint probed by `http.endpoint` (e.g. the MCP server's health check)."""

    name: str = Field(min_length=1, description="Label used in results and alerts.")
    url: str = Field(description="http:// or https:// URL.")
    method: Literal["GET", "HEAD", "POST", "PUT", "OPTIONS"] = "GET"
    expected_status: int = Field(200, ge=100, le=599)
    json_field: str | None = Field(
        None, description="JSON path in the response body that must exist (e.g. status)."
    )
    json_value: Any = Field(None, description="With json_field: the value it must equal.")
    body_contains: str | None = Field(None, description="Text the response body must contain.")
    cert_warn_days: float = Field(
        14.0, ge=0, description="https: WARNING when the certificate expires within this many days."
    )
    cert_crit_days: float = Field(
        7.0, ge=0, description="https: CRITICAL when the certificate expires within this many days."
    )

    @field_validator("method", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not re.match(r"^https?://[^/]", value):
            raise ValueError("must start with http:// or https://")
        _reject_url_password(value)
        return value

    @model_validator(mode="after")
    def _consistent(self) -> EndpointConfig:
        if self.cert_crit_days > self.cert_warn_days:
            raise ValueError("cert_crit_days must not exceed cert_warn_days")
        if self.json_value is not None and self.json_field is None:
            raise ValueError("json_value needs json_field")
        return self


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
    verify: bool = Field(
        True, description="Try each new Notion token found against GET /v1/users/me: "
        "live is CRITICAL, revoked WARNING.",
    )
    audit_permissions: bool = Field(
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


class Settings(BaseSettings):
    """Everything opsd reads from its configuration."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        extra="forbid",
        case_sensitive=False,
    )

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
        return [v.get_secret_value() for v in values if v is not None and v.get_secret_value()]

    def redact(self, text: str) -> str:
        """`text` with every configured secret replaced by its redacted form."""
        from opsd.redact import redact_secret

        for secret in self.secret_values():
            if secret in text:
                text = text.replace(secret, redact_secret(secret))
        return text


class _TokenEnv(BaseSettings):
    """`NOTION_API_TOKEN`, the variable the seeds and most Notion integrations use."""

    model_config = SettingsConfigDict(extra="ignore")
    notion_api_token: SecretStr | None = None


class _TokenCredentials(BaseSettings):
    """The token as a systemd credential file (`LoadCredential=notion_token:...`)."""

    model_config = SettingsConfigDict(extra="ignore")
    notion_token: SecretStr | None = Field(
        None, validation_alias=AliasChoices("notion_token", "notion.token")
    )


class _NotionTokenSource(PydanticBaseSettingsSource):
    """Feeds `notion.token` from another settings source (env var or credential file)."""

    def __init__(self, settings_cls: type[BaseSettings], inner: PydanticBaseSettingsSource):
        super().__init__(settings_cls)
        self._inner = inner

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        raise NotImplementedError  # __call__ reads the inner source as a whole

    def __call__(self) -> dict[str, Any]:
        values = self._inner()
        token = next((v for v in values.values() if v), None)
        return {"notion": {"token": token}} if token else {}


def _sources(config_file: Path | None, env: dict[str, str]):
    def customise(
        _cls: type, settings_cls: type[BaseSettings], **_: PydanticBaseSettingsSource
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [
            _EnvSource(settings_cls, env),
            _NotionTokenSource(settings_cls, _EnvSource(_TokenEnv, env)),
        ]
        credentials_dir = env.get("CREDENTIALS_DIRECTORY")
        if credentials_dir and Path(credentials_dir).is_dir():
            secrets = SecretsSettingsSource(_TokenCredentials, secrets_dir=credentials_dir)
            sources.append(_NotionTokenSource(settings_cls, secrets))
        if config_file is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=config_file))
        return tuple(sources)

    return customise


class _EnvSource(EnvSettingsSource):
    """The environment source over an explicit mapping, ignoring opsd's own non-setting
    variables (`OPSD_CONFIG`)."""

    def __init__(self, settings_cls: type[BaseSettings], env: dict[str, str]) -> None:
        self._environ = {
            k: v for k, v in env.items() if k.upper() not in _NON_SETTING_VARIABLES
        }
        super().__init__(settings_cls)

    def _load_env_vars(self) -> dict[str, str | None]:
        if self.case_sensitive:
            return dict(self._environ)
        return {k.lower(): v for k, v in self._environ.items()}


_NON_SETTING_VARIABLES = {"OPSD_CONFIG"}


# --- loading --------------------------------------------------------------------------------


def resolve_config_path(explicit: str | os.PathLike | None, env: dict[str, str]) -> Path | None:
    """The config file to read: explicit, else $OPSD_CONFIG, else the default if it exists."""
    if explicit:
        return Path(explicit)
    if env.get("OPSD_CONFIG"):
        return Path(env["OPSD_CONFIG"])
    return DEFAULT_CONFIG_PATH if DEFAULT_CONFIG_PATH.exists() else None


def load_settings(
    path: str | os.PathLike | None = None, env: dict[str, str] | None = None
) -> Settings:
    """Read and validate the configuration; raises ConfigError with one line per problem."""
    env = dict(os.environ if env is None else env)
    config_file = resolve_config_path(path, env)
    label = config_file.name if config_file else "config"
    if config_file is not None:
        _check_toml(config_file)
        config_file = config_file.resolve()

    class _Loaded(Settings):
        settings_customise_sources = classmethod(_sources(config_file, env))  # type: ignore[assignment]

    try:
        loaded = _Loaded()
    except ValidationError as exc:
        raise ConfigError(_problems(exc, label, env)) from None
    values = {name: getattr(loaded, name) for name in Settings.model_fields}
    settings = Settings.model_construct(**values)
    settings._config_file = config_file  # type: ignore[attr-defined]
    return _resolve_paths(settings, config_file.parent if config_file else Path.cwd())


def config_file_of(settings: Settings) -> Path | None:
    """The file `settings` were read from, or None for built-in defaults."""
    return getattr(settings, "_config_file", None)


def _check_toml(config_file: Path) -> None:
    try:
        with config_file.open("rb") as fh:
            tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"{config_file}: no such file") from None
    except (PermissionError, IsADirectoryError) as exc:
        raise ConfigError(f"{config_file}: cannot read: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{config_file.name}: not valid TOML: {exc}") from None


def _resolve_paths(settings: Settings, base: Path) -> Settings:
    """Relative paths in the file are relative to the file's directory."""

    def resolve(path: Path | None) -> Path | None:
        if path is None:
            return None
        path = path.expanduser()
        return path if path.is_absolute() else (base / path)

    settings.storage.path = resolve(settings.storage.path)  # type: ignore[assignment]
    settings.storage.backup_dir = resolve(settings.storage.backup_dir)
    settings.scheduler.playbooks_dir = resolve(settings.scheduler.playbooks_dir)
    settings.secrets.paths = [resolve(p) for p in settings.secrets.paths]  # type: ignore[misc]
    settings.secrets.root = resolve(settings.secrets.root)
    settings.secrets.baseline = resolve(settings.secrets.baseline)
    settings.alerts.plugin_paths = [resolve(p) for p in settings.alerts.plugin_paths]  # type: ignore[misc]
    for transport in [*settings.caches, *settings.apps, *settings.endpoints]:
        transport.ca_file = resolve(transport.ca_file)
    return settings


_FRIENDLY = {
    "int_parsing": "not a valid integer",
    "int_type": "not a valid integer",
    "float_parsing": "not a valid number",
    "float_type": "not a valid number",
    "bool_parsing": "not a valid boolean (true or false)",
    "bool_type": "not a valid boolean (true or false)",
    "extra_forbidden": "unknown key",
    "missing": "required key is missing",
    "string_type": "not a string",
    "list_type": "not a list",
}


def format_location(loc: tuple[Any, ...]) -> str:
    """`("notion", "databases", 0, "id")` -> `notion.databases[0].id`."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += ("." if text else "") + str(part)
    return text


def friendly_message(error: dict[str, Any]) -> str:
    """A pydantic error as a short phrase for humans."""
    message = _FRIENDLY.get(error["type"])
    if message is None:
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "literal_error":
            message = message.replace("Input should be", "must be")
    return message


def _problems(exc: ValidationError, label: str, env: dict[str, str]) -> list[str]:
    problems = []
    for error in exc.errors():
        loc = tuple(p for p in error["loc"] if not str(p).startswith("function-"))
        key = format_location(loc)
        env_name = ENV_PREFIX + "__".join(str(p) for p in loc).upper()
        where = f"environment {env_name}" if env_name in {k.upper() for k in env} else label
        problems.append(f"{where}: {key}: {friendly_message(error)}")
    return problems


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
