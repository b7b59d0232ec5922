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
import warnings
from pathlib import Path
from typing import Any

from pydantic import AliasChoices, Field, SecretStr, ValidationError
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SecretsSettingsSource,
    SettingsConfigDict,
    SettingsError,
    TomlConfigSettingsSource,
)

from opsd.config import environment
from opsd.config.fields import keys_at
from opsd.config.messages import format_location, friendly_message, not_utf8
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
            k: v for k, v in env.items() if k.upper() not in environment.NON_SETTING_VARIABLES
        }
        super().__init__(settings_cls)

    def __call__(self) -> dict[str, Any]:
        return environment.plain_booleans(self.settings_cls, super().__call__())

    def _load_env_vars(self) -> dict[str, str | None]:
        if self.case_sensitive:
            return dict(self._environ)
        return {k.lower(): v for k, v in self._environ.items()}


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
    problems = environment.unknown_variables(Settings, environ) + _credential_problems(environ)
    request = LOAD_SOURCES.set(lambda cls: _sources(cls, config_file, environ))
    try:
        with warnings.catch_warnings():
            # A credential that is a directory: reported above in one line, not as a warning.
            warnings.filterwarnings("ignore", "attempted to load secret file")
            loaded = Settings()
    except ValidationError as exc:
        unknown = frozenset(n.upper() for n in environment.unknown_names(Settings, environ))
        raise ConfigError(problems + _problems(exc, label, environ, unknown)) from None
    except SettingsError as exc:
        # pydantic-settings could not parse a variable's value (a list or table needs JSON),
        # or read a credential file (already reported above).
        unparsable = environment.unparsable_variables(Settings, environ)
        raise ConfigError(
            problems + (unparsable or ([] if problems else [f"environment: {exc}"]))
        ) from None
    finally:
        LOAD_SOURCES.reset(request)
    if problems:
        raise ConfigError(problems)
    values = {name: getattr(loaded, name) for name in Settings.model_fields}
    settings = Settings.model_construct(**values)
    settings._config_file = config_file  # type: ignore[attr-defined]
    return _resolve_paths(settings, config_file.parent if config_file else Path.cwd())


def config_file_of(settings: Settings) -> Path | None:
    """The file `settings` were read from, or None for built-in defaults."""
    return getattr(settings, "_config_file", None)


def config_label(settings: Settings) -> str:
    """The name of the file `settings` were read from, for messages ("config" for defaults)."""
    config_file = config_file_of(settings)
    return config_file.name if config_file else "config"


def _check_toml(config_file: Path) -> None:
    try:
        with config_file.open("rb") as fh:
            tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"{config_file}: no such file") from None
    except OSError as exc:  # a directory, no permission, a path through a file, ...
        raise ConfigError(f"{config_file}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{config_file.name}: {not_utf8(exc)}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{config_file.name}: not valid TOML: {exc}") from None


_CREDENTIAL_FILES = ("notion_token", "notion.token")


def _credential_problems(env: dict[str, str]) -> list[str]:
    """A credential file that is present but empty, unreadable or not text: an error, not a
    silently missing token."""
    directory = env.get("CREDENTIALS_DIRECTORY")
    if not directory or not Path(directory).is_dir():
        return []
    problems = []
    for name in _CREDENTIAL_FILES:
        path = Path(directory) / name
        if not path.exists():
            continue
        try:
            text = path.read_bytes().decode("utf-8")
        except OSError as exc:
            problems.append(f"credential {name}: cannot read: {exc.strerror or exc}")
        except UnicodeDecodeError as exc:
            problems.append(f"credential {name}: {not_utf8(exc)}")
        else:
            if not text.strip():
                problems.append(f"credential {name}: empty file")
    return problems


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
    settings.secrets.rules_file = resolve(settings.secrets.rules_file)
    settings.alerts.plugin_paths = [resolve(p) for p in settings.alerts.plugin_paths]  # type: ignore[misc]
    for transport in [*settings.caches, *settings.apps, *settings.endpoints]:
        transport.ca_file = resolve(transport.ca_file)
    settings.alerts.alertmanager.tls_ca_file = resolve(settings.alerts.alertmanager.tls_ca_file)
    return settings


def _problems(
    exc: ValidationError, label: str, env: dict[str, str], unknown: frozenset[str] = frozenset()
) -> list[str]:
    """One line per validation error; `unknown`: variables already reported as no setting."""
    problems = []
    for error in exc.errors():
        loc = tuple(p for p in error["loc"] if not str(p).startswith("function-"))
        key = format_location(loc)
        env_name = _variable_of(loc, env)
        if error["type"] == "extra_forbidden" and env_name in unknown:
            continue  # already reported as "no such setting", with a suggestion
        where = f"environment {env_name}" if env_name else label
        if loc[:2] == ("notion", "token"):
            where = _token_source(env, label)
        message = friendly_message(error, keys_at(Settings, loc))
        problems.append(f"{where}: {key}: {message}" if key else f"{where}: {message}")
    return problems


def _variable_of(loc: tuple[Any, ...], env: dict[str, str]) -> str | None:
    """The `OPSD_*` variable that gave the value at `loc` (or the list or table holding it,
    `OPSD_ALERTS__URLS` for `alerts.urls[0]`); None when the value came from elsewhere."""
    names = {k.upper() for k in env}
    for end in range(len(loc), 0, -1):
        name = ENV_PREFIX + "__".join(str(p) for p in loc[:end]).upper()
        if name in names:
            return name
    return None


def _token_source(env: dict[str, str], label: str) -> str:
    """Where `notion.token` came from, by the sources' precedence (as `_NotionTokenSource`
    reads them: an empty variable or credential file gives no token)."""
    upper = {k.upper(): v for k, v in env.items()}
    if ENV_PREFIX + "NOTION__TOKEN" in upper:
        return f"environment {ENV_PREFIX}NOTION__TOKEN"
    if upper.get("NOTION_API_TOKEN"):
        return "environment NOTION_API_TOKEN"
    directory = env.get("CREDENTIALS_DIRECTORY")
    for name in _CREDENTIAL_FILES if directory else ():
        path = Path(directory or "") / name
        if path.is_file() and path.stat().st_size:
            return f"credential {name}"
    return label
