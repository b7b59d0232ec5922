"""Loading the configuration: one TOML file, overridden by credentials, overridden by the
environment.

Sources, highest precedence first (all pydantic-settings sources):

1. environment: `OPSD_<SECTION>__<KEY>` (e.g. `OPSD_METRICS__PORT=9100`), and
   `NOTION_API_TOKEN` for the Notion token;
2. systemd credentials: a file `notion_token` in `$CREDENTIALS_DIRECTORY`
   (`LoadCredential=notion_token:/etc/opsd/notion_token`);
3. the TOML file: `opsd --config PATH`, else `$OPSD_CONFIG`, else `/etc/opsd/opsd.toml`.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

from pydantic import AliasChoices, Field, SecretStr, ValidationError
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SecretsSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from opsd.config.messages import format_location, friendly_message
from opsd.config.paths import resolve_config_path
from opsd.config.sections import ENV_PREFIX, LOAD_SOURCES, Settings
from opsd.errors import ConfigError


class _TokenEnv(BaseSettings):
    """`NOTION_API_TOKEN`, the variable the seeds and most Notion integrations use."""

    model_config = SettingsConfigDict(extra="ignore")
    notion_api_token: SecretStr | None = None


class _TokenCredentials(BaseSettings):
    """The token as a systemd credential file (`LoadCredential=notion_token:...`)."""

    model_config = SettingsConfigDict(extra="ignore")
    # Either file name in $CREDENTIALS_DIRECTORY; the plugin cannot type a dynamic alias.
    notion_token: SecretStr | None = Field(  # type: ignore[pydantic-alias]
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


def _sources(
    settings_cls: type[BaseSettings], config_file: Path | None, env: dict[str, str]
) -> tuple[PydanticBaseSettingsSource, ...]:
    """Environment, then credentials, then the file (highest precedence first)."""
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


def load_settings(
    path: str | os.PathLike | None = None, env: dict[str, str] | None = None
) -> Settings:
    """Read and validate the configuration; raises ConfigError with one line per problem."""
    environ = dict(os.environ if env is None else env)
    config_file = resolve_config_path(path, environ)
    label = config_file.name if config_file else "config"
    if config_file is not None:
        _check_toml(config_file)
        config_file = config_file.resolve()
    request = LOAD_SOURCES.set(lambda cls: _sources(cls, config_file, environ))
    try:
        loaded = Settings()
    except ValidationError as exc:
        raise ConfigError(_problems(exc, label, environ)) from None
    finally:
        LOAD_SOURCES.reset(request)
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


def _problems(exc: ValidationError, label: str, env: dict[str, str]) -> list[str]:
    problems = []
    for error in exc.errors():
        loc = tuple(p for p in error["loc"] if not str(p).startswith("function-"))
        key = format_location(loc)
        env_name = ENV_PREFIX + "__".join(str(p) for p in loc).upper()
        where = f"environment {env_name}" if env_name in {k.upper() for k in env} else label
        problems.append(f"{where}: {key}: {friendly_message(error)}")
    return problems
