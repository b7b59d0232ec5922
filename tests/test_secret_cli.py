"""`opsd scan` and the `secrets.scan` check as a user runs them: real subprocesses, real files,
a real SQLite store, and verification against the local Notion API (the sandbox).

The canary: every token planted here must appear in no output, no log line and no byte of the
database files.
"""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

import pytest

from bench.secret_corpus import notion_legacy_token, password
from tests.conftest import REPO, render_toml, require_tool
from tests.test_secret_scan import tokens, write


def assert_nowhere(secrets: list[str], *texts: str, files: list[Path] = ()) -> None:
    for secret in secrets:
        for text in texts:
            assert secret not in text
        for path in files:
            assert secret.encode() not in path.read_bytes(), path


def scan_playbook(tmp_path: Path, **entry: object) -> Path:
    """A playbooks directory with one playbook holding one secrets.scan entry."""
    directory = tmp_path / "playbooks"
    directory.mkdir(exist_ok=True)
    (directory / "audit.toml").write_text(render_toml({
        "name": "audit",
        "checks": [{"name": "secrets", "kind": "secrets.scan", **entry}],
    }))
    return directory


def test_scan_without_config_reports_and_exits_2(tmp_path: Path, opsd_cli) -> None:
    token, other = tokens(2)
    db_password = password(random.Random(1))
    write(tmp_path / "app" / ".env", f"NOTION_TOKEN={token}\nDB_PASSWORD={db_password}\n")
    write(tmp_path / "app" / "logs" / "app.log", f"INFO ok\nDEBUG Authorization: Bearer {other}\n")
    result = opsd_cli("scan", "app")
    assert result.code == 2, result.err
    lines = result.out.splitlines()
    assert lines[0].split() == ["SEVERITY", "RULE", "LOCATION", "PREVIEW", "NOTE"]
    preview = "ntn_…" + token[-4:]
    assert lines[1].split()[:4] == ["WARNING", "notion-token", "app/.env:1:14", preview]
    assert lines[2].split()[:3] == ["WARNING", "generic-secret", "app/.env:2:13"]
    assert lines[3].split()[:3] == ["WARNING", "notion-token", "app/logs/app.log:2:29"]
    assert lines[-1].startswith("2 files scanned (2 read, ") and lines[-1].endswith(
        "3 findings, 3 new"
    )
    assert_nowhere([token, other, db_password], result.out, result.err)
    assert not (tmp_path / "opsd.db").exists()


def test_scan_json_shape_and_clean_tree_exits_0(tmp_path: Path, opsd_cli) -> None:
    (token,) = tokens(1)
    write(tmp_path / "src" / "client.py", f'notion = Client(auth="{token}")\n')
    write(tmp_path / "clean" / "README.md", "nothing to see\n")
    result = opsd_cli("scan", "--json", "src")
    data = json.loads(result.out)
    assert result.code == 2
    assert {"findings", "files_scanned", "bytes_scanned", "seconds"} <= set(data)
    (finding,) = data["findings"]
    assert {k: finding[k] for k in ("rule", "path", "line", "column", "new")} == {
        "rule": "notion-token", "path": "src/client.py", "line": 1, "column": 23, "new": True,
    }
    assert len(finding["fingerprint"]) == 64 and finding["preview"] == "ntn_…" + token[-4:]
    size = (tmp_path / "src" / "client.py").stat().st_size
    assert (data["files_scanned"], data["bytes_scanned"]) == (1, size)
    clean = opsd_cli("scan", "clean")
    assert clean.code == 0
    assert clean.out.strip().endswith("0 findings, 0 new")


def test_update_baseline_then_only_new_findings_count(tmp_path: Path, opsd_cli) -> None:
    known, fresh = tokens(2)
    write(tmp_path / "tree" / "config.yaml", f"token: {known}\n")
    updated = opsd_cli("scan", "tree", "--update-baseline", "baseline.json")
    assert updated.code == 0
    assert updated.out.strip().endswith("baseline baseline.json: 1 findings accepted")
    baseline = (tmp_path / "baseline.json").read_text()
    assert_nowhere([known], baseline)
    assert opsd_cli("scan", "tree", "--baseline", "baseline.json").code == 0
    write(tmp_path / "tree" / "config.yaml", f"# moved\ntoken: {known}\nother: {fresh}\n")
    result = opsd_cli("scan", "tree", "--baseline", "baseline.json", "--json")
    assert result.code == 2
    assert [(f["line"], f["new"]) for f in json.loads(result.out)["findings"]] == [
        (2, False), (3, True)
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["scan", "nowhere"], "opsd: scan: nowhere: no such file or directory"),
        (["scan", ".", "--baseline", "missing.json"], "opsd: baseline missing.json: no such file"),
    ],
)
def test_user_mistakes_are_one_line_and_exit_3(opsd_cli, args: list[str], message: str) -> None:
    result = opsd_cli(*args)
    assert result.code == 3
    assert result.out == ""
    assert len(result.err.splitlines()) == 1 and result.err.startswith(message)


def test_unreadable_file_is_reported_not_fatal(tmp_path: Path, opsd_cli) -> None:
    (token,) = tokens(1)
    write(tmp_path / "tree" / "ok.log", f"{token}\n")
    write(tmp_path / "tree" / "locked.log", f"{token}\n", mode=0)
    wrap: list[str] = []
    if os.geteuid() == 0:  # root reads anything: run without the capabilities that allow it
        wrap = [require_tool("setpriv"), "--bounding-set=-dac_override,-dac_read_search"]
    result = opsd_cli("scan", "tree", wrap=wrap)
    assert result.code == 2, result.err
    assert "unreadable: tree/locked.log: Permission denied" in result.out.splitlines()
    assert "tree/ok.log:1:1" in result.out


def test_scan_with_config_uses_the_store_for_incremental_rescans(
    tmp_path: Path, make_config, opsd_cli
) -> None:
    token, legacy = tokens(1)[0], notion_legacy_token(random.Random(2))
    write(tmp_path / "tree" / "a.log", f"{token}\n")
    write(tmp_path / "tree" / "b.js", f"const t = '{legacy}';\n")
    config = make_config(secrets={"verify": False, "paths": ["tree"]},
                         daemon={"log_level": "debug"})
    first = opsd_cli("--config", str(config), "scan", "--json")
    second = opsd_cli("--config", str(config), "scan", "--json")
    assert (first.code, second.code) == (2, 2)
    assert [json.loads(r.out)["files_read"] for r in (first, second)] == [2, 0]
    assert [f["rule"] for f in json.loads(second.out)["findings"]] == [
        "notion-token", "notion-token-legacy"
    ]
    assert_nowhere([token, legacy], first.out, first.err, second.out, second.err,
                   files=sorted(tmp_path.glob("opsd.db*")))


def test_check_verifies_tokens_against_the_sandbox(tmp_path: Path, make_config, opsd_cli,
                                                    sandbox) -> None:
    from opsd.sandbox import SANDBOX_TOKEN

    live, revoked, unknown = tokens(3, seed=5)
    sandbox.add_token(live)
    sandbox.add_token(revoked)
    sandbox.revoke_token(revoked)
    root = tmp_path / "integration"
    write(root / "logs" / "app.log",
          f"DEBUG Authorization: Bearer {live}\nDEBUG retry with {revoked}\nold {unknown}\n")
    write(root / "logs" / "app.log.1", f"again {live}\n")
    write(root / ".env", f"NOTION_TOKEN={SANDBOX_TOKEN}\n")
    config = make_config(
        notion={"base_url": sandbox.url, "token": SANDBOX_TOKEN},
        secrets={"root": str(root)},
        scheduler={"playbooks_dir": str(scan_playbook(tmp_path, paths=["logs", ".env"]))},
        daemon={"log_level": "debug"},
    )
    result = opsd_cli("--config", str(config), "check", "secrets", "--json")
    assert result.code == 2, result.err
    (check,) = json.loads(result.out)["results"]
    assert check["status"] == "CRITICAL" and check["value"] == 4
    assert check["summary"].startswith("4 new secrets: notion-token ")
    verdicts = sorted((Path(f["path"]).name, f["line"], f["verdict"], f["severity"])
                      for f in check["details"]["findings"])
    assert verdicts == [
        ("app.log", 1, "live", "CRITICAL"),
        ("app.log", 2, "revoked", "WARNING"),
        ("app.log", 3, "revoked", "WARNING"),
        ("app.log.1", 1, "live", "CRITICAL"),
    ]
    assert check["details"]["accepted"] == 1  # the configured token in its .env
    probes = sandbox.stats()["requests"]["GET /v1/users/me"]
    assert sum(probes.values()) == 3  # each distinct token once, never the configured one
    assert_nowhere([live, revoked, unknown, SANDBOX_TOKEN], result.out, result.err,
                   files=sorted(tmp_path.glob("opsd.db*")))


def test_scan_verifies_only_when_a_notion_api_is_configured(tmp_path: Path, opsd_cli,
                                                            sandbox) -> None:
    live, revoked = tokens(2, seed=6)
    sandbox.add_token(live)
    write(tmp_path / "t" / "app.log", f"{live}\n{revoked}\n")
    plain = json.loads(opsd_cli("scan", "--json", "t").out)
    assert [f.get("verdict") for f in plain["findings"]] == [None, None]
    assert sandbox.stats()["requests_total"] == 0
    verified = opsd_cli("scan", "--json", "t", env={"OPSD_NOTION__BASE_URL": sandbox.url})
    assert [(f["verdict"], f.get("note")) for f in json.loads(verified.out)["findings"]] == [
        ("live", "live token leaked"), ("revoked", "revoked token in file")
    ]
    assert_nowhere([live, revoked], verified.out, verified.err)


def test_configured_token_in_a_log_is_critical(tmp_path: Path, make_config, opsd_cli) -> None:
    configured = notion_legacy_token(random.Random(7))
    write(tmp_path / "app" / "logs" / "app.log", f"sent Authorization: Bearer {configured}\n")
    config = make_config(
        notion={"token": configured},
        secrets={"root": str(tmp_path / "app"), "verify": False},
        scheduler={"playbooks_dir": str(scan_playbook(tmp_path, paths=["logs"]))},
    )
    result = opsd_cli("--config", str(config), "check", "secrets")
    assert result.code == 2
    assert result.out.startswith("CRITICAL - 1 new secret: notion-token-legacy ")
    assert "(the configured Notion token, outside a config file)" in result.out
    assert_nowhere([configured], result.out, result.err)


@pytest.mark.parametrize(
    ("root", "paths", "expected"),
    [
        (None, ["logs"], "relative paths need secrets.root"),
        ("app", ["logs"], "nothing to scan: "),
        ("app", [], "no paths to scan"),
    ],
)
def test_check_without_anything_to_scan_is_skipped(
    tmp_path: Path, make_config, opsd_cli, root: str | None, paths: list[str], expected: str
) -> None:
    (tmp_path / "app").mkdir()
    secrets = {"root": str(tmp_path / root)} if root else {}
    entry = {"paths": paths} if paths else {}
    config = make_config(
        secrets=secrets,
        scheduler={"playbooks_dir": str(scan_playbook(tmp_path, **entry))},
    )
    result = opsd_cli("--config", str(config), "check", "secrets", "--json")
    (check,) = json.loads(result.out)["results"]
    # The result stays SKIPPED (no alert in a daemon run); the plugin checked nothing: UNKNOWN.
    assert (result.code, check["status"]) == (3, "SKIPPED")
    assert check["summary"].startswith(expected)


def test_shipped_playbooks_scan_logs_daily_and_the_tree_weekly() -> None:
    from opsd.playbooks import load_playbook

    entries = {
        name: [s for s in load_playbook(REPO / "playbooks" / f"{name}.toml").checks
               if s.kind == "secrets.scan"]
        for name in ("daily", "weekly")
    }
    assert [str(p) for p in entries["daily"][0].params.paths] == ["logs"]
    assert [str(p) for p in entries["weekly"][0].params.paths] == ["."]
