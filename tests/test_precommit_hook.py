""".pre-commit-hooks.yaml: the `opsd-scan` hook as a team uses it, run by the real pre-commit
against a copy of this repository in a throw-away git project with a planted fake token."""

from __future__ import annotations

import random
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from bench.secret_corpus import notion_token
from tests.conftest import REPO, opsd_env, require_tool

pytestmark = pytest.mark.slow

MANIFEST = REPO / ".pre-commit-hooks.yaml"
# What `pip install .` of opsd needs from this repository.
PACKAGE_FILES = ("pyproject.toml", "README.md", ".pre-commit-hooks.yaml", "opsd", "playbooks")


def test_manifest_declares_the_hook() -> None:
    (hook,) = yaml.safe_load(MANIFEST.read_text())
    assert {k: hook[k] for k in ("id", "entry", "language", "pass_filenames", "types")} == {
        "id": "opsd-scan", "entry": "opsd scan", "language": "python",
        "pass_filenames": True, "types": ["text"],
    }


def git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", *args],
                   cwd=cwd, check=True, capture_output=True, timeout=60)


def hook_repository(tmp_path: Path) -> Path:
    """A git repository holding opsd as committed files (try-repo reads commits only)."""
    source = tmp_path / "opsd-src"
    source.mkdir()
    for name in PACKAGE_FILES:
        path = REPO / name
        if path.is_dir():
            shutil.copytree(path, source / name,
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(path, source / name)
    git(source, "init", "-q")
    git(source, "add", "-A")
    git(source, "commit", "-q", "-m", "opsd")
    return source


def hook_env(tmp_path: Path) -> dict[str, str]:
    """pre-commit's own home here; the hook's virtualenv sees the installed dependencies, so
    on a system interpreter nothing is downloaded (in a virtualenv pip may fetch them)."""
    env = opsd_env({"PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home"),
                    "VIRTUALENV_SYSTEM_SITE_PACKAGES": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"})
    if sys.prefix == sys.base_prefix:
        env |= {"PIP_NO_INDEX": "1", "PIP_NO_BUILD_ISOLATION": "0"}
    return env


def test_pre_commit_runs_the_hook_on_staged_files(tmp_path: Path) -> None:
    pre_commit = require_tool("pre-commit")
    source = hook_repository(tmp_path)
    project = tmp_path / "project"
    project.mkdir()
    git(project, "init", "-q")
    token = notion_token(random.Random(31))
    (project / "client.py").write_text(f'notion = Client(auth="{token}")\n')
    (project / "clean.md").write_text("nothing here\n")
    git(project, "add", "client.py", "clean.md")

    def run(*files: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [pre_commit, "try-repo", str(source), "opsd-scan", "--files", *files],
            cwd=project, env=hook_env(tmp_path), capture_output=True, text=True, timeout=300,
            stdin=subprocess.DEVNULL,
        )

    leaked = run("client.py", "clean.md")
    assert leaked.returncode == 1, leaked.stdout + leaked.stderr
    assert "- exit code: 2" in leaked.stdout
    assert "notion-token  client.py:1:23  ntn_…" + token[-4:] in leaked.stdout
    assert token not in leaked.stdout + leaked.stderr
    clean = run("clean.md")
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "Passed" in clean.stdout
