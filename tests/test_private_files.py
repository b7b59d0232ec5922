"""The database, backups and the folders opsd creates for them are 0600/0700 whatever the
umask; backups hold the config with every secret removed."""

from __future__ import annotations

import asyncio
import contextlib
import os
import stat
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
from secret_forms_support import leaked_in_tree

from opsd.config import Settings, config_file_of, load_settings
from opsd.config.scrubbed import REDACTED, scrubbed_config, secret_strings
from opsd.playbooks import parse_playbook
from opsd.private_files import create_private_file, make_private_dirs
from opsd.results import Status
from opsd.runner import Runner
from opsd.store import Store

TOKEN = "ntn_12345678901abcdefghijklmnopqrstuvwxyzABCDEFGHI"  # opsd:allow (valid shape, fake)
SECRETS = {
    "token": TOKEN,
    "webhook": "json://opsd:hook-pass-0123@127.0.0.1:9/hook",
    "redis": "redis-pass-4567",
    "header": "Bearer header-secret-89ab",
    "heartbeat": "https://hc.example/ping/heartbeat-uuid-cdef",
}
CONFIG = f"""
# a comment that stays
[notion]
token = "{TOKEN}"
base_url = "https://api.notion.com"
[daemon]
heartbeat_url = "{SECRETS['heartbeat']}"
[alerts]
urls = ["{SECRETS['webhook']}"]
[[caches]]
name = "redis"
source = "redis://127.0.0.1:6379/0"
password = "{SECRETS['redis']}"
[[endpoints]]
name = "api"
url = "http://127.0.0.1:9/health"
headers = {{ Authorization = "{SECRETS['header']}" }}
"""


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@contextlib.contextmanager
def umask(value: int) -> Iterator[None]:
    old = os.umask(value)
    try:
        yield
    finally:
        os.umask(old)


UMASKS = [0o022, 0o000, 0o277]


@pytest.mark.parametrize("value", UMASKS, ids=oct)
def test_folders_and_files_opsd_creates_are_private(tmp_path: Path, value: int) -> None:
    with umask(value):
        make_private_dirs(tmp_path / "a" / "b")
        assert create_private_file(tmp_path / "a" / "b" / "f")
        assert not create_private_file(tmp_path / "a" / "b" / "f")  # exists: left alone
    assert mode(tmp_path / "a") == mode(tmp_path / "a" / "b") == 0o700
    assert mode(tmp_path / "a" / "b" / "f") == 0o600


def test_existing_folders_and_files_keep_their_mode(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)
    (shared / "opsd.db").touch()
    (shared / "opsd.db").chmod(0o640)
    with umask(0o022):
        make_private_dirs(shared / "state")
        Store.open(shared / "opsd.db").close()
    assert mode(shared) == 0o1777
    assert mode(shared / "state") == 0o700
    assert mode(shared / "opsd.db") == 0o640


@pytest.mark.parametrize("value", UMASKS, ids=oct)
def test_the_database_and_its_wal_are_private(tmp_path: Path, value: int) -> None:
    outer = tmp_path / "outer"
    outer.mkdir()
    outer.chmod(0o755)
    path = outer / "state" / "opsd" / "opsd.db"
    with umask(value):
        store = Store.open(path)
        with contextlib.closing(store):
            store.conn.execute("CREATE TABLE t (x)")
            store.conn.execute("INSERT INTO t VALUES (1)")
            files = [path, path.with_name("opsd.db-wal"), path.with_name("opsd.db-shm")]
            assert all(f.exists() for f in files)
            assert [mode(f) for f in files] == [0o600, 0o600, 0o600]
    assert mode(path.parent) == mode(path.parent.parent) == 0o700
    assert mode(outer) == 0o755  # it existed: not opsd's to change


def settings_with_secrets(tmp_path: Path) -> Settings:
    config = tmp_path / "conf" / "opsd.toml"
    config.parent.mkdir()
    config.write_text(CONFIG + f'[storage]\npath = "{tmp_path / "db" / "opsd.db"}"\n'
                      f'backup_dir = "{tmp_path / "backups"}"\n')
    return load_settings(config, env={})


def run_backup(settings: Settings) -> tuple[Status, str, dict]:
    playbook = parse_playbook({"name": "p", "checks": [{"kind": "maintenance.backup"}]},
                              Path("p.toml"))
    with contextlib.closing(Store.open(settings.storage.path)) as store:
        report = asyncio.run(Runner(settings, store, clock=lambda: 1_000_000.0).run(playbook))
    (result,) = report.results
    return result.status, result.summary, result.details


@pytest.mark.parametrize("value", [0o022, 0o000], ids=oct)
def test_a_backup_is_private_and_holds_no_secret(tmp_path: Path, value: int) -> None:
    settings = settings_with_secrets(tmp_path)
    with umask(value):
        status, summary, details = run_backup(settings)
    assert status is Status.OK, summary
    assert details["config"] is True
    backups = tmp_path / "backups"
    (target,) = backups.iterdir()
    assert sorted(p.name for p in target.iterdir()) == ["opsd.db", "opsd.toml", "verified.json"]
    assert mode(backups) == mode(target) == 0o700
    assert {p.name: mode(p) for p in target.iterdir()} == {
        "opsd.db": 0o600, "opsd.toml": 0o600, "verified.json": 0o600}
    for name, secret in SECRETS.items():
        assert leaked_in_tree(backups, secret) == {}, name
    copy = (target / "opsd.toml").read_text()
    assert "# a comment that stays" in copy
    # The same structure and settings, each secret a "<redacted>" placeholder.
    original, kept = (tomllib.loads(p.read_text())
                      for p in (config_file_of(settings), target / "opsd.toml"))
    assert secret_strings(Settings, kept) == [REDACTED] * len(SECRETS)
    assert kept["caches"][0]["source"] == original["caches"][0]["source"]
    assert kept.keys() == original.keys()


def test_secret_keys_are_read_from_the_model() -> None:
    data = {"notion": {"token": "t", "base_url": "u"}, "alerts": {"urls": ["a", "b"]},
            "caches": [{"name": "n", "password": "p"}], "endpoints": [{"headers": {"H": "h"}}],
            "daemon": {"heartbeat_url": "hb", "log_level": "info"}}
    assert sorted(secret_strings(Settings, data)) == ["a", "b", "h", "hb", "p", "t"]


@pytest.mark.parametrize(
    "text",
    [
        '[notion]\ntoken = "ntn_\\u0061bc-long-enough"\n',  # written with a TOML escape
        "[notion]\ntoken = 'ntn_a' # ntn_a is the token\n[[notion\n",  # not TOML
    ],
)
def test_a_secret_that_cannot_be_removed_for_sure_gives_no_copy(text: str) -> None:
    assert scrubbed_config(text, Settings) is None


def test_a_multi_line_secret_is_removed() -> None:
    text = '[notion]\ntoken = """\nntn_multi-line-token"""\n'
    assert scrubbed_config(text, Settings) == '[notion]\ntoken = """\n<redacted>"""\n'


def test_secrets_from_elsewhere_are_removed_from_the_copy_too() -> None:
    text = '[notion]\nbase_url = "https://api.notion.com"  # token was ntn_from-env-123\n'
    assert scrubbed_config(text, Settings, ["ntn_from-env-123"]) == (
        '[notion]\nbase_url = "https://api.notion.com"  # token was <redacted>\n')
