"""README's example outputs are the real ones: `opsd --help`, `opsd kinds` and `opsd playbooks`
(at the README's moment, frozen) must print exactly the README's block.

To refresh a block after a change, run the command as shown and paste its output.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from freezegun import freeze_time

from opsd.cli import main

README = Path(__file__).resolve().parents[1] / "README.md"
# When the README's `opsd playbooks` example was taken: its NEXT RUN column follows.
PLAYBOOKS_TAKEN_AT = "2026-11-23 12:10:00"


def readme_block(command: str) -> str:
    """The lines after `$ COMMAND` up to the end of its code block."""
    text = README.read_text()
    start = text.index(f"\n$ {command}\n") + len(f"\n$ {command}\n")
    return text[start:text.index("```", start)]


@pytest.fixture
def env(tmp_path: Path, monkeypatch) -> None:
    for name in ("OPSD_CONFIG", "NOTION_API_TOKEN", "CREDENTIALS_DIRECTORY", "CACHE_DIRECTORY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / ".cache"))
    monkeypatch.setenv("COLUMNS", "80")  # argparse wraps --help to the terminal's width


def run(capsys, *args: str) -> str:
    try:
        code = main(list(args))
    except SystemExit as exc:  # --help exits through argparse
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    assert (code, captured.err) == (0, "")
    return captured.out


@pytest.mark.usefixtures("env")
def test_help(capsys) -> None:
    assert run(capsys, "--help") == readme_block("opsd --help")


def test_kinds(opsd_cli) -> None:
    # In a process of its own: test modules register check kinds of their own in this one.
    done = opsd_cli("kinds")
    assert (done.code, done.err) == (0, "")
    assert done.out == readme_block("opsd kinds")


@pytest.mark.usefixtures("env")
def test_playbooks(capsys, make_config) -> None:
    config = make_config()  # the shipped playbooks, time zone UTC, a fresh database
    with freeze_time(PLAYBOOKS_TAKEN_AT):
        shown = run(capsys, "--config", str(config), "playbooks")
    assert shown == readme_block("opsd playbooks")
