"""Shared fixtures: config files in tmp_path, the real `opsd` CLI as a subprocess, free ports,
and `require_tool` (skip locally, fail under CI=true, when a real tool is missing)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PLAYBOOKS = REPO / "playbooks"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def require_tool(name: str) -> str:
    """Path of executable `name`; a missing tool skips locally but fails under CI=true."""
    path = shutil.which(name)
    if path is None:
        message = f"{name} is not installed"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{message} (CI must install it: see .ci/run)")
        pytest.skip(message)
    return path


def toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{toml_key(k)} = {toml_value(v)}" for k, v in value.items()) + " }"
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def toml_key(key: str) -> str:
    return key if key.replace("_", "").replace("-", "").isalnum() else toml_value(key)


def render_toml(sections: dict[str, object]) -> str:
    """A TOML document from {"section": {key: value}} / {"array": [{...}, ...]} (one level)."""
    lines: list[str] = []
    for name, body in sections.items():
        if isinstance(body, list):
            for item in body:
                lines.append(f"[[{name}]]")
                lines += [f"{toml_key(k)} = {toml_value(v)}" for k, v in item.items()]
        elif isinstance(body, dict):
            lines.append(f"[{name}]")
            lines += [f"{toml_key(k)} = {toml_value(v)}" for k, v in body.items()]
        else:
            lines.insert(0, f"{toml_key(name)} = {toml_value(body)}")
    return "\n".join(lines) + "\n"


@pytest.fixture
def make_config(tmp_path: Path) -> Callable[..., Path]:
    """Write `opsd.toml` in tmp_path: storage in tmp_path, the repo's playbooks by default."""

    def make(**sections: object) -> Path:
        sections.setdefault("storage", {})
        sections["storage"] = {"path": str(tmp_path / "opsd.db"), **sections["storage"]}  # type: ignore[dict-item]
        sections.setdefault("scheduler", {})
        sections["scheduler"] = {"playbooks_dir": str(PLAYBOOKS), **sections["scheduler"]}  # type: ignore[dict-item]
        path = tmp_path / "opsd.toml"
        path.write_text(render_toml(sections))
        return path

    return make


@dataclass
class Completed:
    code: int
    out: str
    err: str


@pytest.fixture
def opsd_cli(tmp_path: Path) -> Callable[..., Completed]:
    """Run the real `opsd` command (`python -m opsd`) in a subprocess."""

    def run(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> Completed:
        full_env = {
            k: v for k, v in os.environ.items()
            if not k.startswith("OPSD_") and k not in ("NOTION_API_TOKEN", "CREDENTIALS_DIRECTORY")
        }
        full_env.update(env or {})
        proc = subprocess.run(
            [sys.executable, "-m", "opsd", *args],
            capture_output=True, text=True, env=full_env, cwd=tmp_path, timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
        return Completed(proc.returncode, proc.stdout, proc.stderr)

    return run


@pytest.fixture
def sandbox():
    """A started local Notion API (opsd.sandbox), unthrottled; stopped after the test."""
    from opsd.sandbox import Sandbox

    with Sandbox(port=0, rate=1000, burst=1000).start() as sb:
        yield sb
