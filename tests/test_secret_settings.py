"""Secret settings: surrounding whitespace stripped, a control character rejected in one line
naming the source and key (never the value), from every source; the token never goes over
plain HTTP beyond loopback."""

from __future__ import annotations

from pathlib import Path

import pytest

from opsd.config import load_settings
from opsd.config.plain_http import (
    SANDBOX_TOKEN,
    is_loopback_host,
    plain_http_warnings,
)
from opsd.config.secret import secret_problem
from opsd.errors import ConfigError

TOKEN = "ntn_12345678901abcdefghijklmnopqrstuvwxyzABCDEFGHI"  # opsd:allow (valid shape, fake)


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def toml_string(value: str) -> str:
    """`value` as a TOML basic string (control characters as \\uXXXX escapes)."""
    escaped = "".join(
        f"\\u{ord(c):04X}" if ord(c) < 0x20 or ord(c) == 0x7F else c
        for c in value.replace("\\", "\\\\").replace('"', '\\"')
    )
    return f'"{escaped}"'


def config(tmp_path: Path, body: str = "") -> Path:
    return write(tmp_path / "opsd.toml", f'[storage]\npath = "{tmp_path / "opsd.db"}"\n{body}')


def credentials(tmp_path: Path, content: str) -> dict[str, str]:
    directory = tmp_path / "creds"
    directory.mkdir(exist_ok=True)
    (directory / "notion_token").write_text(content)
    return {"CREDENTIALS_DIRECTORY": str(directory)}


def token_from(tmp_path: Path, source: str, value: str) -> tuple[Path, dict[str, str]]:
    """A config and environment that give `value` as notion.token through `source`."""
    if source == "toml":
        return config(tmp_path, f"[notion]\ntoken = {toml_string(value)}\n"), {}
    if source == "credential":
        return config(tmp_path), credentials(tmp_path, value)
    return config(tmp_path), {source: value}


def problems(path: Path, env: dict[str, str]) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_settings(path, env=env)
    return caught.value.problems


SOURCES = {
    "toml": "opsd.toml",
    "NOTION_API_TOKEN": "environment NOTION_API_TOKEN",
    "OPSD_NOTION__TOKEN": "environment OPSD_NOTION__TOKEN",
    "credential": "credential notion_token",
}


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("padded", [f"{TOKEN}\n", f"  {TOKEN}\r\n", f"\t{TOKEN} "])
def test_surrounding_whitespace_is_stripped(tmp_path: Path, source: str, padded: str) -> None:
    path, env = token_from(tmp_path, source, padded)
    settings = load_settings(path, env=env)
    assert settings.notion.token is not None
    assert settings.notion.token.get_secret_value() == TOKEN


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (f"{TOKEN}\nmore", "contains a control character (U+000A at position 51)"),
        (f"{TOKEN[:10]}\x00{TOKEN[10:]}", "contains a control character (U+0000 at position 11)"),
        (f"{TOKEN[:4]}\x7f{TOKEN[4:]}", "contains a control character (U+007F at position 5)"),
        (f"{TOKEN[:4]}\t{TOKEN[4:]}", "contains a control character (U+0009 at position 5)"),
        (f"{TOKEN[:4]}é{TOKEN[4:]}",
         "contains a character an HTTP header cannot carry (U+00E9 at position 5)"),
        (" \n ", "is empty"),
    ],
)
def test_a_bad_token_is_one_line_naming_source_and_key(
    tmp_path: Path, source: str, value: str, reason: str
) -> None:
    path, env = token_from(tmp_path, source, value)
    found = problems(path, env)
    if source == "credential" and reason == "is empty":  # the loader names an empty file
        assert found == ["credential notion_token: empty file"]
        return
    assert found == [f"{SOURCES[source]}: notion.token: {reason}"]
    assert TOKEN[4:12] not in "\n".join(found)


@pytest.mark.parametrize(
    ("body", "key"),
    [
        ('[alerts]\nurls = ["json://127.0.0.1/hook?key=ab\\u000Acd"]\n', "alerts.urls[0]"),
        ('[daemon]\nheartbeat_url = "https://hc.example/ab\\u0000cd"\n', "daemon.heartbeat_url"),
        ('[[endpoints]]\nname = "api"\nurl = "http://127.0.0.1/"\n'
         '[endpoints.headers]\nAuthorization = "Bearer ab\\u000Dcd"\n',
         "endpoints[0].headers.Authorization"),
        ('[[caches]]\nname = "redis"\nsource = "redis://127.0.0.1:6379/0"\n'
         'password = "pass\\u001Bword"\n', "caches[0].password"),
    ],
)
def test_every_secret_setting_rejects_control_characters(
    tmp_path: Path, body: str, key: str
) -> None:
    found = problems(config(tmp_path, body), {})
    assert len(found) == 1
    assert found[0].startswith(f"opsd.toml: {key}: contains a control character (U+00")
    assert "cd" not in found[0].split("position")[0].split(": ")[-1]


def test_secret_settings_other_than_the_token_are_stripped(tmp_path: Path) -> None:
    body = ('[daemon]\nheartbeat_url = " https://hc.example/ping\\n"\n'
            '[[endpoints]]\nname = "api"\nurl = "http://127.0.0.1/"\n'
            '[endpoints.headers]\nAuthorization = "Bearer abc \\n"\n')
    settings = load_settings(config(tmp_path, body), env={})
    assert settings.daemon.heartbeat_url is not None
    assert settings.daemon.heartbeat_url.get_secret_value() == "https://hc.example/ping"
    assert settings.endpoints[0].headers["Authorization"].get_secret_value() == "Bearer abc"


def test_an_environment_secret_is_named_by_its_variable(tmp_path: Path) -> None:
    env = {"OPSD_DAEMON__HEARTBEAT_URL": "https://hc.example/a\x01b"}
    assert problems(config(tmp_path), env) == [
        "environment OPSD_DAEMON__HEARTBEAT_URL: daemon.heartbeat_url: contains a control "
        "character (U+0001 at position 21)"
    ]


@pytest.mark.parametrize(
    ("value", "header", "problem"),
    [
        ("abc", False, None),
        ("a b", False, None),
        ("", False, "is empty"),
        ("a\nb", False, "contains a control character (U+000A at position 2)"),
        ("aé", False, None),
        ("aé", True, "contains a character an HTTP header cannot carry (U+00E9 at position 2)"),
        ("a\x7f", True, "contains a control character (U+007F at position 2)"),
    ],
)
def test_secret_problem(value: str, header: bool, problem: str | None) -> None:
    assert secret_problem(value, header=header) == problem


# --- notion.base_url: no token in clear beyond loopback -------------------------------------


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True), ("127.8.9.10", True), ("::1", True), ("localhost", True),
        ("LOCALHOST.", True), ("::ffff:127.0.0.1", True), ("10.0.0.1", False),
        ("128.0.0.1", False), ("example.com", False), ("localhost.example.com", False),
        ("0.0.0.0", False), ("", False), (None, False),
    ],
)
def test_loopback_hosts(host: str | None, loopback: bool) -> None:
    assert is_loopback_host(host) is loopback


BASE_URL_CASES = [
    # base_url, token configured, refused
    ("http://example.com", True, True),
    ("http://10.1.2.3:8080", True, True),
    ("http://[2001:db8::1]", True, True),
    ("http://example.com", False, False),
    ("https://example.com", True, False),
    ("https://api.notion.com", True, False),
    ("http://127.0.0.1:8765", True, False),
    ("http://[::1]:8765", True, False),
    ("http://localhost:8765", True, False),
]


@pytest.mark.parametrize(("base_url", "with_token", "refused"), BASE_URL_CASES)
def test_plain_http_beyond_loopback_is_refused(
    tmp_path: Path, base_url: str, with_token: bool, refused: bool
) -> None:
    path = config(tmp_path, f'[notion]\nbase_url = "{base_url}"\n')
    env = {"NOTION_API_TOKEN": TOKEN} if with_token else {}
    if refused:
        found = problems(path, env)
        assert len(found) == 1
        assert found[0].startswith("opsd.toml: notion.base_url: plain http:// to a host")
    else:
        load_settings(path, env=env)


def test_the_refusal_names_the_variable_that_set_base_url(tmp_path: Path) -> None:
    env = {"NOTION_API_TOKEN": TOKEN, "OPSD_NOTION__BASE_URL": "http://192.0.2.7"}
    assert problems(config(tmp_path), env)[0].startswith(
        "environment OPSD_NOTION__BASE_URL: notion.base_url: plain http://"
    )


@pytest.mark.parametrize(
    ("base_url", "token", "warned"),
    [
        ("http://127.0.0.1:8765", TOKEN, True),
        ("http://localhost:9", TOKEN, True),
        ("http://127.0.0.1:8765", SANDBOX_TOKEN, False),  # the sandbox's public fake token
        ("http://127.0.0.1:8765", None, False),
        ("https://api.notion.com", TOKEN, False),
    ],
)
def test_plain_http_to_loopback_warns_once(
    tmp_path: Path, base_url: str, token: str | None, warned: bool
) -> None:
    env = {"NOTION_API_TOKEN": token} if token else {}
    settings = load_settings(config(tmp_path, f'[notion]\nbase_url = "{base_url}"\n'), env=env)
    warnings = plain_http_warnings(settings, "opsd.toml")
    assert len(warnings) == (1 if warned else 0)
    if warned:
        assert warnings[0].startswith("warning: opsd.toml: notion.base_url: the token goes over")
        assert TOKEN[4:12] not in warnings[0]


def test_the_sandbox_token_copy_matches_the_sandbox() -> None:
    from opsd.sandbox import SANDBOX_TOKEN as THE_SANDBOX_TOKEN

    assert SANDBOX_TOKEN == THE_SANDBOX_TOKEN
