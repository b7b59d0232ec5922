"""Scanning trees: walking (skips, symlinks), the incremental cache in a real SQLite store,
the baseline, the configured token, the permission audit."""

from __future__ import annotations

import asyncio
import json
import os
import random
from pathlib import Path

import pytest
from pydantic import SecretStr

from bench.secret_corpus import notion_legacy_token, notion_token
from opsd.secretscan import (
    AuditRequest,
    ScanOptions,
    Selection,
    load_baseline,
    run_audit,
    write_baseline,
)
from opsd.secretscan.audit import CONFIGURED_TOKEN, CONFIGURED_TOKEN_HOME
from opsd.secretscan.engine import scan_paths
from opsd.store import Store

NOW = 1_750_000_000.0


def tokens(n: int, seed: int = 1) -> list[str]:
    r = random.Random(seed)
    return [notion_token(r) for _ in range(n)]


def write(path: Path, text: str, mode: int = 0o600) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)
    return path


def audit(request: AuditRequest, store: Store | None = None):
    return asyncio.run(run_audit(request, store=store, now=lambda: NOW))


def found(report) -> list[tuple[str, int, str]]:
    return sorted((Path(f.path).name, f.line, f.rule) for f in report.findings)


def test_skips_vcs_dependencies_lock_files_binaries_and_large_files(tmp_path: Path) -> None:
    (token,) = tokens(1)
    write(tmp_path / "app" / "main.py", f"TOKEN = '{token}'\n")
    write(tmp_path / ".git" / "config", f"token={token}\n")
    write(tmp_path / "node_modules" / "x" / "index.js", f"t='{token}'\n")
    write(tmp_path / "package-lock.json", f'"t": "{token}"\n')
    write(tmp_path / "image.png", f"{token}\n")
    (tmp_path / "data.bin").write_bytes(b"\0\1\2" + token.encode())
    write(tmp_path / "big.log", "x" * 2000 + f" {token}\n")
    report = scan_paths([tmp_path], ScanOptions(selection=Selection(max_file_size=1000))).report
    assert found(report) == [("main.py", 1, "notion-token")]


def test_globs_and_excludes_select_files(tmp_path: Path) -> None:
    (token,) = tokens(1)
    for name in ("logs/app.log", "logs/app.log.1", "logs/old/keep.txt", "src/x.py"):
        write(tmp_path / name, f"{token}\n")
    selection = Selection(globs=("*.log", "*.log.[0-9]*"), excludes=("old",))
    report = scan_paths([tmp_path], ScanOptions(selection=selection)).report
    assert [Path(f.path).name for f in report.findings] == ["app.log", "app.log.1"]


def test_symlink_loop_ends_and_each_file_is_scanned_once(tmp_path: Path) -> None:
    (token,) = tokens(1)
    write(tmp_path / "a" / "b" / "secret.env", f"T={token}\n")
    (tmp_path / "a" / "b" / "loop").symlink_to(tmp_path / "a")
    (tmp_path / "a" / "self").symlink_to(tmp_path / "a" / "self")
    (tmp_path / "alias.env").symlink_to(tmp_path / "a" / "b" / "secret.env")
    report = scan_paths([tmp_path], ScanOptions()).report
    assert report.files_scanned == 1
    assert found(report) == [("secret.env", 1, "notion-token")]


def test_symlink_out_of_the_roots_is_not_followed(tmp_path: Path) -> None:
    (token,) = tokens(1)
    outside = write(tmp_path / "outside" / "creds.env", f"T={token}\n")
    root = tmp_path / "root"
    write(root / "ok.txt", "nothing here\n")
    (root / "link.env").symlink_to(outside)
    (root / "linkdir").symlink_to(outside.parent)
    report = scan_paths([root], ScanOptions()).report
    assert report.findings == []
    assert report.files_scanned == 1


def test_missing_root_is_reported_not_fatal(tmp_path: Path) -> None:
    (token,) = tokens(1)
    write(tmp_path / "there.env", f"T={token}\n")
    report = scan_paths([tmp_path / "gone", tmp_path], ScanOptions()).report
    assert [e.message for e in report.errors] == ["No such file or directory"]
    assert found(report) == [("there.env", 1, "notion-token")]


def test_incremental_rescan_reads_no_unchanged_file(tmp_path: Path) -> None:
    first, second = tokens(2)
    tree = tmp_path / "tree"
    write(tree / "a.log", f"INFO start\nAuthorization: Bearer {first}\n")
    write(tree / "b.py", "print('hello')\n")
    write(tree / "c.yaml", f"token: {second}\n")
    store = Store.open(tmp_path / "opsd.db")
    request = AuditRequest([tree])
    cold = audit(request, store)
    warm = audit(request, store)
    assert (cold.files_read, warm.files_read) == (3, 0)
    expected = [("a.log", 2, "notion-token"), ("c.yaml", 1, "notion-token")]
    assert found(warm) == found(cold) == expected
    assert {f.fingerprint for f in warm.findings} == {f.fingerprint for f in cold.findings}
    write(tree / "b.py", f"print('hello')\nTOKEN = '{first}'\n")
    changed = audit(request, store)
    assert changed.files_read == 1
    assert ("b.py", 2, "notion-token") in found(changed)
    (tree / "a.log").unlink()
    assert audit(request, store).files_read == 0
    rows = store.conn.execute("SELECT path FROM secret_files ORDER BY path").fetchall()
    assert [Path(p).name for (p,) in rows] == ["b.py", "c.yaml"]


def test_findings_table_keeps_first_seen_and_never_the_secret(tmp_path: Path) -> None:
    (token,) = tokens(1)
    write(tmp_path / "t" / "app.log", f"Bearer {token}\n")
    store = Store.open(tmp_path / "opsd.db")
    asyncio.run(run_audit(AuditRequest([tmp_path / "t"]), store=store, now=lambda: NOW))
    write(tmp_path / "t" / "app.log", f"moved down\n\nBearer {token}\n")
    asyncio.run(run_audit(AuditRequest([tmp_path / "t"]), store=store, now=lambda: NOW + 60))
    row = store.conn.execute(
        "SELECT rule, line, preview, first_seen, last_seen FROM secret_findings"
    ).fetchall()
    assert row == [("notion-token", 3, "ntn_…" + token[-4:], NOW, NOW + 60)]
    store.close()
    for path in tmp_path.glob("opsd.db*"):
        assert token.encode() not in path.read_bytes()


def test_baseline_accepts_known_findings_even_when_lines_move(tmp_path: Path) -> None:
    known, fresh = tokens(2)
    tree = tmp_path / "tree"
    write(tree / "config" / "app.toml", f'token = "{known}"\n')
    baseline_file = tmp_path / "baseline.json"
    written = write_baseline(baseline_file, audit(AuditRequest([tree])).findings)
    assert written == 1
    assert known not in baseline_file.read_text()
    write(tree / "config" / "app.toml", f'# moved\n\n[notion]\ntoken = "{known}"\n')
    write(tree / "logs" / "app.log", f"leak {known}\nother {fresh}\n")
    report = audit(AuditRequest([tree], baseline=load_baseline(baseline_file)))
    flags = sorted((Path(f.path).name, f.line, f.new) for f in report.findings)
    assert flags == [("app.log", 1, True), ("app.log", 2, True), ("app.toml", 4, False)]


def test_baseline_paths_are_relative_to_the_baseline_file(tmp_path: Path, monkeypatch) -> None:
    (token,) = tokens(1)
    write(tmp_path / "repo" / "src" / "a.py", f"T = '{token}'\n")
    monkeypatch.chdir(tmp_path / "repo")
    write_baseline(Path(".secrets-baseline.json"), audit(AuditRequest([Path("src")])).findings)
    entry = json.loads((tmp_path / "repo" / ".secrets-baseline.json").read_text())["findings"][0]
    assert entry["path"] == "src/a.py"
    monkeypatch.chdir(tmp_path)
    baseline = load_baseline(tmp_path / "repo" / ".secrets-baseline.json")
    report = audit(AuditRequest([tmp_path / "repo"], baseline=baseline))
    assert [f.new for f in report.findings] == [False]


@pytest.mark.parametrize(
    ("content", "message"),
    [("not json", "not valid JSON"), ('{"findings": [{"path": 1}]}', "findings: must be")],
)
def test_malformed_baseline_is_one_clear_error(tmp_path: Path, content: str, message: str) -> None:
    from opsd.errors import ConfigError

    path = write(tmp_path / "b.json", content)
    with pytest.raises(ConfigError, match=message):
        load_baseline(path)


def test_configured_token_is_critical_outside_config_and_expected_inside(tmp_path: Path) -> None:
    configured = notion_legacy_token(random.Random(4))
    write(tmp_path / ".env", f"NOTION_API_TOKEN={configured}\n")
    write(tmp_path / "logs" / "app.log", f"GET /v1/users/me Authorization: Bearer {configured}\n")
    report = audit(AuditRequest([tmp_path], configured_token=SecretStr(configured)))
    by_file = {Path(f.path).name: (f.new, f.severity, f.note) for f in report.findings}
    assert by_file == {
        ".env": (False, "INFO", CONFIGURED_TOKEN_HOME),
        "app.log": (True, "CRITICAL", CONFIGURED_TOKEN),
    }


def test_permission_audit_flags_readable_config_holding_a_secret(tmp_path: Path) -> None:
    first, second = tokens(2)
    write(tmp_path / ".env", f"T={first}\n", mode=0o644)
    write(tmp_path / "private.env", f"T={second}\n", mode=0o600)
    write(tmp_path / "app.log", f"{second}\n", mode=0o644)
    write(tmp_path / "settings.toml", "nothing = 1\n", mode=0o644)
    report = scan_paths([tmp_path], ScanOptions()).report
    assert [(Path(p.path).name, "readable by group and others" in p.message)
            for p in report.permissions] == [(".env", True)]
    quiet = scan_paths([tmp_path], ScanOptions(audit_permissions=False)).report
    assert quiet.permissions == []


def test_verification_probes_each_new_token_once_and_maps_verdicts(tmp_path: Path) -> None:
    live, revoked = tokens(2, seed=8)
    write(tmp_path / "a.log", f"{live}\n{live}\n{revoked}\n")
    asked: list[str] = []

    async def probe(token: str) -> str:
        asked.append(token)
        return "live" if token == live else "revoked"

    report = asyncio.run(run_audit(AuditRequest([tmp_path]), probe=probe, now=lambda: NOW))
    assert sorted(asked) == sorted([live, revoked])
    assert [(f.line, f.verdict, f.severity, f.note) for f in report.findings] == [
        (1, "live", "CRITICAL", "live token leaked"),
        (2, "live", "CRITICAL", "live token leaked"),
        (3, "revoked", "WARNING", "revoked token in file"),
    ]
    assert all(f.secret is None for f in report.findings)


def test_unreadable_directory_is_reported(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root reads everything; tests/test_secret_cli.py covers this with setpriv")
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0)
    try:
        report = scan_paths([tmp_path], ScanOptions()).report
    finally:
        locked.chmod(0o700)
    assert [e.message for e in report.errors] == ["Permission denied"]


def test_config_allowlist_and_excludes_are_never_read(tmp_path: Path) -> None:
    from opsd.config import SecretsConfig
    from opsd.secretscan.audit import options_from_config

    (token,) = tokens(1)
    for name in ("docs/example.md", "fixtures/keys.env", "vendor/lib.py", "app/main.py"):
        write(tmp_path / name, f"T = '{token}'\n")
    config = SecretsConfig(allowlist=["docs/*", "fixtures"], excludes=["vendor"])
    report = scan_paths([tmp_path], options_from_config(config, excludes=["*.md"])).report
    assert [f.path for f in report.findings] == [str(tmp_path / "app" / "main.py")]
    assert report.files_scanned == 1
