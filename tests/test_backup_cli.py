"""`opsd backup list|verify|restore` as the real command in a subprocess, on snapshots the real
`maintenance.backup` check wrote (one through `opsd run-playbook`, an older one in-process at
an injected time): output shapes, --json, exit codes."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import pytest

from opsd import backups
from opsd.store import Store
from opsd.store.migrations import MIGRATIONS
from tests.test_backups import T0, checks_in, damage, record, run_backup

BACKUP_PLAYBOOK = '[[checks]]\nname = "backup"\nkind = "maintenance.backup"\n'


@pytest.fixture
def config(make_config, tmp_path: Path) -> Path:
    playbooks = tmp_path / "playbooks"
    playbooks.mkdir()
    (playbooks / "nightly.toml").write_text(BACKUP_PLAYBOOK)
    return make_config(storage={"backup_dir": str(tmp_path / "backups")},
                       scheduler={"playbooks_dir": str(playbooks)})


@pytest.fixture
def older(config: Path, tmp_path: Path) -> str:
    """A snapshot taken at T0 (holding the run of a check named `before`); its id."""
    with contextlib.closing(Store.open(tmp_path / "opsd.db")) as store:
        for number in range(200):  # rows enough that the file's middle is data pages
            record(store, "before" if number == 0 else f"filler-{number}", T0 + number)
        run_backup(store, tmp_path / "backups", T0 + 1000)
    return backups.snapshot_id(T0 + 1000)


def test_list_and_verify_snapshots_the_check_wrote(opsd_cli, config, older):
    ran = opsd_cli("--config", str(config), "run-playbook", "nightly")
    assert ran.code == 0, ran.out + ran.err
    listed = opsd_cli("--config", str(config), "backup", "list", "--json")
    assert listed.code == 0, listed.err
    data = json.loads(listed.out)
    assert data["backup_dir"] == str(config.parent / "backups")
    newest, oldest = data["backups"]
    assert oldest["id"] == older and oldest["taken_at"] == T0 + 1000
    assert newest["taken_at"] > oldest["taken_at"]  # newest first
    assert set(newest) == {"id", "path", "taken_at", "size_bytes", "schema", "verified",
                           "verified_at", "problems"}
    assert newest["schema"] == {c: len(s) for c, s in MIGRATIONS.items()}
    assert newest["verified"] is True and newest["problems"] == []
    assert newest["size_bytes"] > 0

    table = opsd_cli("--config", str(config), "backup", "list")
    lines = table.out.splitlines()
    assert lines[0].split() == ["ID", "TAKEN", "SIZE", "SCHEMA", "VERIFIED"]
    assert [line.split()[0] for line in lines[1:]] == [newest["id"], older]
    assert all(" current  ok " in line for line in lines[1:]), table.out

    verified = opsd_cli("--config", str(config), "backup", "verify", "--json")
    assert verified.code == 0, verified.err
    answer = json.loads(verified.out)
    assert answer["id"] == newest["id"] and answer["ok"] is True
    assert answer["schema_state"] == "current" and answer["problems"] == []
    plain = opsd_cli("--config", str(config), "backup", "verify", older)
    assert plain.code == 0
    assert plain.out.startswith(f"backup {older}: ok (integrity_check ok, schema current")


def test_a_damaged_snapshot_fails_verify_and_is_not_restored(opsd_cli, config, older):
    snapshot = config.parent / "backups" / older / "opsd.db"
    damage(snapshot)
    before = (config.parent / "opsd.db").read_bytes()

    verify = opsd_cli("--config", str(config), "backup", "verify", older)
    assert verify.code == 2
    assert verify.out.splitlines()[0] == f"backup {older}: NOT USABLE ({snapshot.parent})"
    assert verify.out.splitlines()[1].startswith("  - ")
    as_json = json.loads(opsd_cli("--config", str(config), "backup", "verify", older,
                                  "--json").out)
    assert as_json["ok"] is False and as_json["problems"]
    listed = json.loads(opsd_cli("--config", str(config), "backup", "list", "--json").out)
    assert listed["backups"][0]["verified"] is False

    restore = opsd_cli("--config", str(config), "backup", "restore", older, "--yes")
    assert restore.code == 2
    assert restore.err.startswith(f"opsd: backup {older} is corrupt, not restored: ")
    assert len(restore.err.splitlines()) == 1
    assert (config.parent / "opsd.db").read_bytes() == before


def test_restore_brings_the_snapshot_back(opsd_cli, config, older):
    opsd_cli("--config", str(config), "run-playbook", "nightly")  # runs after the snapshot
    database = config.parent / "opsd.db"
    assert "backup" in checks_in(database)

    unconfirmed = opsd_cli("--config", str(config), "backup", "restore", older)
    assert unconfirmed.code == 3
    assert unconfirmed.err == ("opsd: --yes: restoring replaces the history database; add --yes"
                               " to confirm\n")
    restored = opsd_cli("--config", str(config), "backup", "restore", older, "--yes", "--json")
    assert restored.code == 0, restored.err
    data = json.loads(restored.out)
    assert data["restored"] == older and data["database"] == str(database)
    assert data["schema_state"] == "current"
    aside = Path(data["kept_aside"])
    assert aside.name.startswith("opsd.db.before-restore-")
    assert "backup" not in checks_in(database) and "before" in checks_in(database)
    assert "backup" in checks_in(aside)
    status = opsd_cli("--config", str(config), "status", "--json")  # the history opens
    assert status.code == 0, status.err


def test_unknown_backups_and_no_backup_dir_are_one_line_exit_3(
    opsd_cli, make_config, config, older
):
    empty = config.parent / "elsewhere"
    missing = opsd_cli("--config", str(config), "backup", "verify", "--dir", str(empty))
    assert (missing.code, missing.err) == (
        3, f"opsd: no backups in {empty}\n")
    unknown = opsd_cli("--config", str(config), "backup", "restore", "20200101T000000Z",
                       "--yes")
    assert unknown.code == 3 and len(unknown.err.splitlines()) == 1
    assert "backup '20200101T000000Z': not in " in unknown.err
    bare = make_config()
    unset = opsd_cli("--config", str(bare), "backup", "list")
    assert (unset.code, unset.err) == (
        3, "opsd: opsd.toml: storage.backup_dir: not set (where maintenance.backup writes;"
        " or give --dir)\n")
