"""Configuration: sources and precedence (file < credentials < env), unknown keys, errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from opsd.config import load_settings, normalise_notion_id
from opsd.errors import ConfigError

BASE = """
[notion]
token = "ntn_fromfile"
base_url = "http://127.0.0.1:8765/"
[[notion.databases]]
name = "bottlenecks"
id = "0123456789abcdef0123456789abcdef"
[notion.databases.required_properties]
"Bottleneck Name" = "title"
Severity = "select"
[metrics]
port = 9464
[storage]
path = "state/opsd.db"
"""


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "opsd.toml"
    path.write_text(BASE)
    return path


@pytest.fixture
def credentials(tmp_path: Path) -> Path:
    directory = tmp_path / "creds"
    directory.mkdir()
    (directory / "notion_token").write_text("ntn_fromcredentials\n")
    return directory


def token(settings) -> str:
    return settings.notion.token.get_secret_value()


def test_file_values_and_normalisation(config_file: Path) -> None:
    settings = load_settings(config_file, env={})
    assert token(settings) == "ntn_fromfile"
    assert settings.notion.base_url == "http://127.0.0.1:8765"
    db = settings.notion.databases[0]
    assert db.id == "01234567-89ab-cdef-0123-456789abcdef"
    assert db.required_properties == {"Bottleneck Name": "title", "Severity": "select"}
    # Relative paths are relative to the config file, not the working directory.
    assert settings.storage.path == config_file.parent / "state" / "opsd.db"


def test_credentials_override_file(config_file: Path, credentials: Path) -> None:
    settings = load_settings(config_file, env={"CREDENTIALS_DIRECTORY": str(credentials)})
    assert token(settings) == "ntn_fromcredentials"


def test_environment_overrides_credentials(config_file: Path, credentials: Path) -> None:
    env = {"CREDENTIALS_DIRECTORY": str(credentials), "NOTION_API_TOKEN": "ntn_fromenv"}
    assert token(load_settings(config_file, env=env)) == "ntn_fromenv"
    env["OPSD_NOTION__TOKEN"] = "ntn_fromopsdenv"
    assert token(load_settings(config_file, env=env)) == "ntn_fromopsdenv"


def test_environment_overrides_any_key(config_file: Path) -> None:
    settings = load_settings(config_file, env={"OPSD_METRICS__PORT": "9100",
                                               "OPSD_SCHEDULER__TIMEZONE": "Europe/Berlin"})
    assert settings.metrics.port == 9100
    assert settings.scheduler.timezone == "Europe/Berlin"


def test_config_path_from_environment(config_file: Path) -> None:
    settings = load_settings(None, env={"OPSD_CONFIG": str(config_file)})
    assert token(settings) == "ntn_fromfile"


def test_token_is_secret_in_repr_and_dump(config_file: Path) -> None:
    settings = load_settings(config_file, env={})
    assert "ntn_fromfile" not in repr(settings)
    assert "ntn_fromfile" not in settings.model_dump_json()
    assert settings.redact("auth failed for ntn_fromfile") == "auth failed for ntn_…"


@pytest.mark.parametrize(
    ("snippet", "expected"),
    [
        ("[metrics]\nprot = 1\n", "opsd.toml: metrics.prot: unknown key (did you mean port?)"),
        ("[metrcs]\nport = 1\n", "opsd.toml: metrcs: unknown key (did you mean metrics?)"),
        ('[scheduler]\ntimezone = "Mars/Olympus"\n',
         "opsd.toml: scheduler.timezone: unknown IANA time zone 'Mars/Olympus'"),
        ('[notion]\nnotion_version = "2021-01-01"\n',
         "opsd.toml: notion.notion_version: must be '2022-06-28', '2025-09-03' or '2026-03-11'"),
        ('[[notion.databases]]\nname = "x"\nid = "nope"\n',
         "opsd.toml: notion.databases[0].id: not a Notion ID (32 hex digits, with or without "
         "dashes)"),
        ('[[caches]]\nname = "redis"\nsource = "redis://127.0.0.1"\nttl = 3\n',
         "opsd.toml: caches[0].ttl: unknown key"),
    ],
)
def test_unknown_and_invalid_keys_name_file_and_key(
    tmp_path: Path, snippet: str, expected: str
) -> None:
    path = tmp_path / "opsd.toml"
    path.write_text(snippet)
    with pytest.raises(ConfigError) as info:
        load_settings(path, env={})
    assert info.value.problems == [expected]


def test_bad_value_names_the_key(tmp_path: Path) -> None:
    path = tmp_path / "opsd.toml"
    path.write_text("[metrics]\nport = \"abc\"\n")
    with pytest.raises(ConfigError) as info:
        load_settings(path, env={})
    assert info.value.problems == ["opsd.toml: metrics.port: not a valid integer"]


def test_bad_environment_value_names_the_variable(config_file: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(config_file, env={"OPSD_METRICS__PORT": "x"})
    assert info.value.problems == [
        "environment OPSD_METRICS__PORT: metrics.port: not a valid integer"
    ]


def test_invalid_toml_and_missing_file(tmp_path: Path) -> None:
    broken = tmp_path / "opsd.toml"
    broken.write_text("[metrics\nport = 1\n")
    with pytest.raises(ConfigError, match=r"^opsd.toml: not valid TOML: "):
        load_settings(broken, env={})
    with pytest.raises(ConfigError, match="no such file"):
        load_settings(tmp_path / "missing.toml", env={})


def test_duplicate_database_names(tmp_path: Path) -> None:
    path = tmp_path / "opsd.toml"
    db = "[[notion.databases]]\nname = \"a\"\nid = \"0123456789abcdef0123456789abcdef\"\n"
    path.write_text(db + db)
    with pytest.raises(ConfigError, match="duplicate name 'a'"):
        load_settings(path, env={})


def test_normalise_notion_id() -> None:
    assert normalise_notion_id("01234567-89AB-cdef-0123-456789abcdef") == (
        "01234567-89ab-cdef-0123-456789abcdef"
    )
    with pytest.raises(ValueError):
        normalise_notion_id("0123")
