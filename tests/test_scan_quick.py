"""`opsd scan PATH` without a configuration takes the quick path (no pydantic, no store) and
prints exactly what the full command prints; anything configured goes the full way."""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
from pathlib import Path

import pytest

from bench.secret_corpus import SAMPLES
from opsd.cli import build_parser, main
from opsd.cli import scan as full
from opsd.cli.scan_quick import is_quick
from opsd.config import SecretsConfig
from opsd.secretscan.audit import options_from_config
from opsd.secretscan.engine import ScanOptions
from opsd.secretscan.walk import Selection


def tree(root: Path) -> Path:
    rng = random.Random(4)
    (root / "src").mkdir(parents=True)
    (root / ".git").mkdir()
    (root / ".git" / "config").write_text("x\n")
    for index, rule in enumerate(sorted(SAMPLES)):
        line, _secret = SAMPLES[rule](rng)
        (root / "src" / f"f{index}.env").write_text(f"# {rule}\nVALUE_{index}={line}\n")
    (root / "src" / "plain.py").write_text("print('nothing here')\n")
    return root


def parse(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(["scan", *argv])


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.upper().startswith("OPSD_") or name == "CREDENTIALS_DIRECTORY":
            monkeypatch.delenv(name)


def without_timing(text: str) -> dict:
    report = json.loads(text)
    report.pop("seconds")
    return report


@pytest.mark.usefixtures("clean_env")
@pytest.mark.parametrize("extra", [(), ("--all",)])
def test_quick_and_full_scans_print_the_same(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: tuple[str, ...]
) -> None:
    root = tree(tmp_path / "repo")
    args = parse("--json", *extra, str(root))
    assert is_quick(args, {})
    assert main(["scan", "--json", *extra, str(root)]) == 2
    quick = without_timing(capsys.readouterr().out)
    assert full.cmd_scan(parse("--json", *extra, str(root))) == 2
    assert without_timing(capsys.readouterr().out) == quick
    assert len(quick["findings"]) >= len(SAMPLES) // 2
    assert bool(quick["skipped"]) == (not extra)


@pytest.mark.usefixtures("clean_env")
def test_quick_text_output_matches_the_full_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tree(tmp_path / "repo")
    main(["scan", str(root)])
    quick = capsys.readouterr().out.splitlines()
    full.cmd_scan(parse(str(root)))
    complete = capsys.readouterr().out.splitlines()
    assert quick[:-1] == complete[:-1]  # the totals line holds the time taken
    assert quick[-1].split(" MB in ")[0] == complete[-1].split(" MB in ")[0]


def test_anything_configured_takes_the_full_path(tmp_path: Path) -> None:
    root = str(tmp_path)
    assert is_quick(parse(root), {})
    assert not is_quick(parse(), {})  # secrets.paths may name the roots
    assert not is_quick(parse(root), {"OPSD_SECRETS__GLOBS": '["*.py"]'})
    assert not is_quick(parse(root), {"OPSD_CONFIG": str(tmp_path / "opsd.toml")})
    assert not is_quick(parse(root), {"CREDENTIALS_DIRECTORY": root})
    assert not is_quick(parse("--config", str(tmp_path / "opsd.toml"), root), {})
    assert not is_quick(parse("--baseline", "b.json", root), {})
    assert not is_quick(parse("--update-baseline", "b.json", root), {})
    assert not is_quick(parse(str(tmp_path / "missing")), {})
    assert is_quick(parse(root), {"OPSD_SCAN_ENGINE": "python"})


@pytest.mark.parametrize("include_all", [False, True])
def test_quick_options_are_the_configured_defaults(include_all: bool) -> None:
    assert ScanOptions(selection=Selection(all=include_all)) == options_from_config(
        SecretsConfig(), include_all=include_all)


@pytest.mark.slow
def test_quick_scan_imports_no_pydantic_nor_config(tmp_path: Path) -> None:
    root = tree(tmp_path / "repo")
    probe = (
        "import sys\n"
        "from opsd.cli import main\n"
        f"code = main(['scan', '--json', {str(root)!r}])\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('pydantic', "
        "'pydantic_settings', 'asyncio', 'sqlite3') or m.startswith('opsd.config.'))\n"
        "print(repr((code, [m for m in heavy if m != 'opsd.config.paths'])), file=sys.stderr)\n"
    )
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith("OPSD_")}
    env["XDG_CACHE_HOME"] = str(tmp_path / "cache")
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          env=env, cwd=tmp_path, timeout=120, check=False)
    assert proc.stderr.strip().splitlines()[-1] == "(2, [])", proc.stderr
