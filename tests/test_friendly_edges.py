"""Friendly edges of the command line: what `opsd scan` skips, "did you mean", durations in
`config show`, and `--json` on every command that prints.

The commands run in-process through the CLI's entry function (`opsd.cli.main`) on real files
and a real database in tmp_path; `alerts test --json` needs the delivery child and a webhook,
so it is the one slow test here.
"""

from __future__ import annotations

import argparse
import json
import random
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NamedTuple

import pytest

from bench.secret_corpus import notion_token
from opsd.cli import build_parser, main
from opsd.cli.scan_output import skipped_line
from opsd.cli.suggest import closest
from opsd.config import load_settings
from opsd.durations import format_duration_exact, parse_duration
from opsd.secretscan import ScanOptions, Selection
from opsd.secretscan.engine import scan_paths
from opsd.secretscan.walk import SkippedDirectory

TOKEN = notion_token(random.Random(14))


class Done(NamedTuple):
    code: int
    out: str
    err: str


@pytest.fixture
def cli(tmp_path: Path, monkeypatch, capsys) -> Callable[..., Done]:
    """`opsd ARGS` in-process, in tmp_path, with no opsd settings from this environment."""
    for name in ("OPSD_CONFIG", "NOTION_API_TOKEN", "CREDENTIALS_DIRECTORY", "CACHE_DIRECTORY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / ".cache"))
    monkeypatch.chdir(tmp_path)

    def run(*args: str) -> Done:
        try:
            code = main(list(args))
        except SystemExit as exc:  # argparse's own exits (usage errors)
            code = int(exc.code or 0)
        captured = capsys.readouterr()
        return Done(code, captured.out, captured.err)

    return run


@pytest.fixture
def config(make_config) -> str:
    return str(make_config(secrets={"verify": False}))


def write(path: Path, text: str = "") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text or f"TOKEN = '{TOKEN}'\n")


# --- what a scan skips ------------------------------------------------------------------------

# (files to create under the tree, the directory skipped or None, its reason)
SKIP_CASES = [
    (("repo/.git/config",), "repo/.git", "version control"),
    (("node_modules/x/index.js",), "node_modules", "dependencies"),
    (("lib/python3.11/site-packages/pkg/a.py",), "lib/python3.11/site-packages",
     "installed packages"),
    (("usr/lib/python3/dist-packages/pkg/a.py",), "usr/lib/python3/dist-packages",
     "installed packages"),
    (("src/__pycache__/a.txt",), "src/__pycache__", "cache"),
    ((".tox/py311/log.txt",), ".tox", "cache"),
    ((".mypy_cache/3.11/a.json",), ".mypy_cache", "cache"),
    # A virtualenv by its pyvenv.cfg, whatever its name.
    (("tools/pyvenv.cfg", "tools/lib/a.py"), "tools", "virtualenv"),
    ((".venv/pyvenv.cfg", ".venv/lib/a.py"), ".venv", "virtualenv"),
    # By bin/activate only under a virtualenv's usual names.
    (("venv/bin/activate", "venv/lib/a.py"), "venv", "virtualenv"),
    (("env/bin/activate", "env/lib/a.py"), "env", "virtualenv"),
    (("scripts/bin/activate", "scripts/lib/a.py"), None, None),
    # A directory merely named like a virtualenv is scanned.
    (("env/settings.py",), None, None),
    ((".venv/notes.txt",), None, None),
]


@pytest.mark.parametrize(("files", "skipped", "reason"), SKIP_CASES)
def test_walk_skips_by_default_and_all_includes(
    tmp_path: Path, files: tuple[str, ...], skipped: str | None, reason: str | None
) -> None:
    for name in files:
        write(tmp_path / name)
    default = scan_paths([tmp_path], ScanOptions()).report
    everything = scan_paths([tmp_path], ScanOptions(selection=Selection(all=True))).report
    expected = [] if skipped is None else [
        SkippedDirectory(str(tmp_path / skipped), reason or "")
    ]
    assert default.skipped == expected
    assert len(default.findings) == (len(files) if skipped is None else 0)
    assert (everything.skipped, len(everything.findings)) == ([], len(files))


def test_a_root_named_explicitly_is_scanned(tmp_path: Path) -> None:
    write(tmp_path / "node_modules" / "x.js")
    report = scan_paths([tmp_path / "node_modules"], ScanOptions()).report
    assert (report.skipped, len(report.findings)) == ([], 1)


@pytest.mark.parametrize(
    ("skipped", "line"),
    [
        ([SkippedDirectory(".git", "version control"), SkippedDirectory(".venv", "virtualenv"),
          SkippedDirectory("node_modules", "dependencies")],
         "skipped 3 directories: .git, .venv (virtualenv), node_modules; --all to include them"),
        ([SkippedDirectory("a/.git", "version control")],
         "skipped 1 directory: a/.git; --all to include them"),
        ([SkippedDirectory(f"d{i}/.git", "version control") for i in range(12)],
         "skipped 12 directories: " + ", ".join(f"d{i}/.git" for i in range(10))
         + " and 2 more; --all to include them"),
    ],
)
def test_skipped_line(skipped: list[SkippedDirectory], line: str) -> None:
    assert skipped_line(skipped) == line


def test_scan_says_what_it_skipped_and_all_includes_it(cli, tmp_path: Path, monkeypatch
                                                      ) -> None:
    write(tmp_path / "tree" / ".git" / "config")
    write(tmp_path / "tree" / ".venv" / "pyvenv.cfg", "home = /usr/bin\n")
    write(tmp_path / "tree" / ".venv" / "lib" / "settings.py")
    write(tmp_path / "tree" / "node_modules" / "x" / "index.js")
    write(tmp_path / "tree" / "app.py", "print('hello')\n")
    (tmp_path / "tree" / "app.py").chmod(0o600)
    monkeypatch.chdir(tmp_path / "tree")  # no PATH and no config: the working directory
    plain = cli("scan")
    assert plain.code == 0, plain.err
    assert plain.out.splitlines()[0] == (
        "skipped 3 directories: .git, .venv (virtualenv), node_modules; --all to include them"
    )
    data = json.loads(cli("scan", "--json").out)
    assert data["skipped"] == [
        {"path": ".git", "reason": "version control"},
        {"path": ".venv", "reason": "virtualenv"},
        {"path": "node_modules", "reason": "dependencies"},
    ]
    assert data["findings"] == []
    everything = json.loads(cli("scan", "--all", "--json").out)
    assert everything["skipped"] == []
    assert sorted(f["path"] for f in everything["findings"]) == [
        ".git/config", ".venv/lib/settings.py", "node_modules/x/index.js",
    ]


@pytest.fixture
def scan_playbooks(tmp_path: Path) -> Path:
    tree = tmp_path / "tree"
    write(tree / "node_modules" / "x" / "index.js")
    write(tree / "app.py", "print('hello')\n")
    directory = tmp_path / "playbooks"
    directory.mkdir()
    (directory / "scans.toml").write_text(
        f'[[checks]]\nname = "scan_default"\nkind = "secrets.scan"\npaths = ["{tree}"]\n'
        f'[[checks]]\nname = "scan_all"\nkind = "secrets.scan"\npaths = ["{tree}"]\nall = true\n'
    )
    return directory


@pytest.mark.parametrize(("entry", "new"), [("scan_default", 0), ("scan_all", 1)])
def test_the_check_kind_uses_the_same_skips(
    cli, make_config, scan_playbooks: Path, entry: str, new: int
) -> None:
    config = make_config(scheduler={"playbooks_dir": str(scan_playbooks)},
                         secrets={"verify": False})
    done = cli("--config", str(config), "check", entry, "--json")
    results = json.loads(done.out)["results"]
    assert [r["value"] for r in results] == [new]
    skipped = [d["reason"] for d in results[0]["details"]["skipped"]]
    assert skipped == ([] if new else ["dependencies"])


# --- did you mean -----------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("stauts",), "opsd: unknown command 'stauts'; did you mean 'status'?"),
        (("playbook",), "opsd: unknown command 'playbook'; did you mean 'playbooks'?"),
        (("run-playbok", "daily"), "opsd: unknown command 'run-playbok'; "
                                   "did you mean 'run-playbook'?"),
        (("xyzzy",), "opsd: unknown command 'xyzzy' (see --help)"),
        (("alerts", "histroy"), "opsd alerts: unknown action 'histroy'; did you mean 'history'?"),
        (("silence", "lsit"), "opsd silence: unknown action 'lsit'; did you mean 'list'?"),
        (("config", "shwo"), "opsd config: unknown action 'shwo'; did you mean 'show'?"),
    ],
)
def test_unknown_commands_get_one_line_and_exit_3(cli, args: tuple[str, ...], message: str):
    done = cli(*args)
    assert (done.code, done.out, done.err) == (3, "", message + "\n")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("check", "notion.auht"), "opsd: unknown check 'notion.auht': no playbook entry has "
                                   "that name; did you mean 'notion.auth'?"),
        (("check", "zzz"), "opsd: unknown check 'zzz': no playbook entry has that name"),
        (("history", "notoin.auth"), "opsd: unknown check 'notoin.auth': no results and no "
                                     "playbook entry; did you mean 'notion.auth'?"),
        (("history", "zzz"), "opsd: unknown check 'zzz': no results and no playbook entry"),
    ],
)
def test_unknown_check_names_get_a_suggestion(cli, config: str, args: tuple[str, ...],
                                               message: str) -> None:
    done = cli("--config", config, *args)
    assert (done.code, done.out, done.err) == (3, "", message + "\n")


def test_a_typo_in_a_config_key_gets_a_suggestion(cli, tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[storage]\npath = "x.db"\nretension = "30d"\n')
    done = cli("--config", str(bad), "config", "check")
    assert done.code == 3
    assert "retension" in done.out + done.err
    assert "did you mean retention?" in done.out + done.err


@pytest.mark.parametrize(
    ("word", "candidates", "expected"),
    [
        ("stauts", ["status", "scan", "schema"], "status"),
        ("STATUS", ["status"], "status"),
        ("q", ["status", "scan"], None),
        ("cache.hit_rte", ["cache.hit_rate", "cache.latency"], "cache.hit_rate"),
    ],
)
def test_closest(word: str, candidates: list[str], expected: str | None) -> None:
    assert closest(word, candidates) == expected


# --- durations in config show -----------------------------------------------------------------

@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (3024000.0, "35d"), (300.0, "5m"), (5400.0, "1h 30m"), (30.0, "30s"), (0.0, "0s"),
        (0.25, "250ms"), (90061.5, "1d 1h 1m 1s 500ms"), (1e-7, "0.0000001"),
    ],
)
def test_exact_durations_read_back_the_same(seconds: float, text: str) -> None:
    assert format_duration_exact(seconds) == text
    assert parse_duration(text) == pytest.approx(seconds)


def test_config_show_is_toml_with_durations_that_loads_back(cli, make_config, tmp_path: Path):
    config = make_config(
        notion={"token": "ntn_" + "a" * 46, "request_log_retention": "35d"},
        daemon={"heartbeat_url": "https://hc.example.com/ping/s3cr3t-uuid"},
        alerts={"maintenance": [{"name": "nightly", "schedule": "0 2 * * *",
                                 "duration": "1h30m"}],
                "urls": ["json://user:hunter2@127.0.0.1:9/hook"]},
    )
    shown = cli("--config", str(config), "config", "show")
    assert shown.code == 0, shown.err
    data = tomllib.loads(shown.out)
    assert data["notion"]["request_log_retention"] == "35d"
    assert data["notion"]["timeout"] == "30s"
    assert data["alerts"]["maintenance"][0]["duration"] == "1h 30m"
    for secret in ("aaaaaaaaaa", "s3cr3t", "hunter2"):
        assert secret not in shown.out
    assert "token" not in data["notion"]  # a redacted secret is a comment, not a value

    again = tmp_path / "again.toml"
    again.write_text(shown.out)
    original, loaded = load_settings(str(config)), load_settings(str(again))
    assert loaded.notion.request_log_retention == original.notion.request_log_retention
    assert loaded.alerts.maintenance == original.alerts.maintenance
    assert loaded.storage == original.storage
    # Without the redacted secrets, the output is a fixed point: show(load(show)) == show.
    second = cli("--config", str(again), "config", "show").out
    again.write_text(second)
    assert cli("--config", str(again), "config", "show").out == second
    expected = [
        "urls = []" if line.startswith("# urls") else line
        for line in shown.out.splitlines()
        if not line.startswith("# ") or line.startswith("# urls")
    ]
    assert second.splitlines() == expected

    numbers = json.loads(cli("--config", str(config), "config", "show", "--json").out)
    assert numbers["notion"]["request_log_retention"] == 3024000.0
    assert numbers["alerts"]["maintenance"][0]["duration"] == 5400.0


# --- --json everywhere ------------------------------------------------------------------------

# Commands that print no report to parse, and why.
NO_JSON = {
    "run": "the daemon: it logs (daemon.log_format = \"json\"), it prints no report",
    "sandbox": "a server: it prints where it listens, then serves until stopped",
    "proxy": "a server: it prints where it listens, then forwards until stopped",
    "demo": "a guided demonstration for people; `run-playbook --json` gives its results",
}


def leaves(parser: argparse.ArgumentParser, words: tuple[str, ...] = ()
           ) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    """Every command line that runs a handler: ("status", parser), ("alerts history", ...)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                if sub.get_default("handler"):
                    yield " ".join((*words, name)), sub
                yield from leaves(sub, (*words, name))


def test_every_command_that_prints_has_json() -> None:
    commands = dict(leaves(build_parser()))
    assert set(NO_JSON) <= set(commands)
    missing = [
        name for name, parser in commands.items()
        if name not in NO_JSON
        and not any("--json" in a.option_strings for a in parser._actions)
    ]
    assert missing == []
    for name in NO_JSON:
        assert not any("--json" in a.option_strings for a in commands[name]._actions)


def test_config_check_json(cli, config: str, tmp_path: Path) -> None:
    good = cli("--config", config, "config", "check", "--json")
    assert (good.code, json.loads(good.out)) == (0, {"ok": True, "problems": [], "warnings": []})
    bad = tmp_path / "bad.toml"
    bad.write_text('[metrics]\nport = "abc"\n')
    done = cli("--config", str(bad), "config", "check", "--json")
    data = json.loads(done.out)
    assert (done.code, data["ok"], data["warnings"]) == (3, False, [])
    assert len(data["problems"]) == 1 and "metrics.port" in data["problems"][0]


def test_silence_add_and_remove_json(cli, config: str) -> None:
    added = cli("--config", config, "silence", "add", "--check", "notion.*", "--for", "2h",
                "--reason", "upgrade", "--json")
    assert added.code == 0, added.err
    silence = json.loads(added.out)["added"]
    assert (silence["pattern"], silence["reason"]) == ("notion.*", "upgrade")
    assert silence["ends_at"] - silence["created_at"] == pytest.approx(7200)
    removed = cli("--config", config, "silence", "remove", str(silence["id"]), "--json")
    assert removed.code == 0, removed.err
    assert json.loads(removed.out)["removed"]["id"] == silence["id"]
    listed = json.loads(cli("--config", config, "silence", "list", "--json").out)
    assert listed["silences"] == []


def test_alerts_test_json(make_config, opsd_cli, webhook) -> None:
    config = str(make_config(alerts={"urls": [webhook.url, "json://127.0.0.1:9/down"]}))
    done = opsd_cli("--config", config, "alerts", "test", "--json")
    data = json.loads(done.out)
    assert (done.code, data["delivered"], data["total"]) == (2, 1, 2)
    assert [d["delivered"] for d in data["destinations"]] == [True, False]
    assert data["destinations"][0]["error"] is None
    assert data["destinations"][1]["error"]
