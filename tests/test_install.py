"""The README's production install, run as written: the shell block between its
`<!-- install:begin -->` and `<!-- install:end -->` markers runs in a temporary root standing
for `/`, then the installed `opsd` validates the installed example configuration (without
contacting the network) and lists the playbooks shipped inside the package, and runs a daily
playbook with writable-and-executable memory refused, as the unit's MemoryDenyWriteExecute=yes
does; the wheel carries the playbooks; the systemd unit runs the command the README installs.

What the test changes in the README's lines, all in `runnable` and each required to apply:
`sudo ` goes (the test's user owns the temporary root); `/opt/`, `/etc/` and `/usr/local/`
move under that root; and, to stay fast and offline, the virtualenv sees this environment's
already installed dependencies (`--system-site-packages`) and pip installs opsd alone
(`--no-deps`), built by the hatchling installed here (`--no-build-isolation`, when it is).
What is tested is opsd's own packaging, entry point, shipped playbooks and the README's steps.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from opsd.sandbox import SANDBOX_TOKEN
from tests.conftest import PLAYBOOKS, REPO, opsd_env

pytestmark = pytest.mark.slow

README = REPO / "README.md"
UNIT = REPO / "systemd" / "opsd.service"
SHIPPED = sorted(p.stem for p in PLAYBOOKS.glob("*.toml"))
# A token of the ntn_ shape (4 + 11 digits + 35), made here so no token literal sits in a file.
TOKEN = "ntn_" + "4" * 11 + "InstallTest" + "0" * 24
COPY_IGNORED = shutil.ignore_patterns(
    ".git", ".venv", ".opsd", "__pycache__", ".*_cache", ".benchmarks", "build", "dist",
    "*.egg-info",
)


def install_block(readme: str) -> str:
    """The shell lines of the README's production install (one marked ```sh block)."""
    marked = re.findall(r"<!-- install:begin.*?-->\n(.*?)<!-- install:end -->", readme, re.S)
    assert len(marked) == 1, "README.md: expected one <!-- install:begin --> ... end block"
    fenced = re.fullmatch(r"```sh\n(.*?)```\n", marked[0], re.S)
    assert fenced, "README.md: the install markers must enclose exactly one ```sh block"
    return fenced.group(1)


def venv_path(block: str) -> str:
    """Where the README's install puts opsd's virtualenv (`python3 -m venv PATH`)."""
    found = re.search(r"python3 -m venv (\S+)", block)
    assert found, "README.md: the install block makes no virtualenv"
    return found.group(1)


def runnable(block: str, root: Path) -> str:
    """The README's lines as this test runs them (see the module docstring)."""
    no_build_isolation = (
        " --no-build-isolation" if importlib.util.find_spec("hatchling") else ""
    )
    substitutions = [
        (r"(?m)^sudo ", ""),
        (r"(?<![\w.~-])/(opt|etc|usr/local)/", lambda m: f"{root}/{m.group(1)}/"),
        (r"\bpython3 -m venv (\S+)", _venv_with_our_packages),
        (r"\bpip install \.", f"pip install --no-deps{no_build_isolation} ."),
    ]
    for pattern, replacement in substitutions:
        block, count = re.subn(pattern, replacement, block)
        assert count, f"README.md install block: nothing matches {pattern!r}"
    return block


def _venv_with_our_packages(match: re.Match[str]) -> str:
    """`python3 -m venv PATH` as this test runs it: a venv that sees the packages this Python
    has (so pip installs opsd alone), also when this Python is itself a virtualenv's, whose
    packages `--system-site-packages` alone would not reach: a `.pth` line adds them, after
    the new venv's own site-packages."""
    path = match.group(1)
    command = f"{shlex.quote(sys.executable)} -m venv --system-site-packages {path}"
    if sys.prefix == sys.base_prefix:
        return command
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    pth = f"{path}/lib/{version}/site-packages/_outer_environment.pth"
    return f"{command} && echo {shlex.quote(sysconfig.get_paths()['purelib'])} > {pth}"


# Execs its arguments with memory that is writable and executable at once refused
# (PR_SET_MDWE, Linux 6.3+, kept across exec): what the unit's MemoryDenyWriteExecute=yes does.
DENY_WRITE_EXECUTE = """
import ctypes, os, sys
PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN = 65, 1
if ctypes.CDLL(None, use_errno=True).prctl(PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN, 0, 0, 0):
    sys.exit(f"unsupported: PR_SET_MDWE: {os.strerror(ctypes.get_errno())}")
os.execvp(sys.argv[1], sys.argv[1:])
"""

# Runs opsd's CLI with an audit hook that names every attempt to reach the network (a name
# lookup, an IP connect) on stderr: what a command does is seen, whatever client it uses.
WATCHED_CLI = """
import socket, sys
def watch(event, args):
    if event == "socket.getaddrinfo":  # args: host (str or bytes), port, family, type, proto
        host = args[0].decode() if isinstance(args[0], bytes) else args[0]
        print(f"network: {event} {host}", file=sys.stderr)
    elif event == "socket.connect" and args[0].family in (socket.AF_INET, socket.AF_INET6):
        print(f"network: {event} {args[1]!r}", file=sys.stderr)  # args: socket, address
sys.addaudithook(watch)
from opsd.cli import main
sys.exit(main(sys.argv[1:]))
"""


@dataclass
class Install:
    root: Path
    source: Path
    block: str
    env: dict[str, str]

    @property
    def config(self) -> Path:
        return self.root / "etc" / "opsd" / "opsd.toml"

    @property
    def venv(self) -> Path:
        return self.root / venv_path(self.block).lstrip("/")

    def opsd(self, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        """The installed `opsd` command, as the README's PATH finds it."""
        return self.run(["opsd", *args], env)

    def watched(self, *args: str, env: dict[str, str] | None = None
                ) -> subprocess.CompletedProcess:
        """The installed opsd's CLI with its network attempts named on stderr (WATCHED_CLI)."""
        return self.run([str(self.venv / "bin" / "python"), "-c", WATCHED_CLI, *args], env)

    def run(self, command: list[str], env: dict[str, str] | None = None
            ) -> subprocess.CompletedProcess:
        """`command` in the temporary root, with the install's environment plus `env`."""
        return subprocess.run(
            command, capture_output=True, text=True, env={**self.env, **(env or {})},
            cwd=self.root, timeout=120, stdin=subprocess.DEVNULL,
        )


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Install]:
    """The README's install block, run once for this module in a fresh temporary root."""
    base = tmp_path_factory.mktemp("install")
    root, source = base / "root", base / "opsd"
    shutil.copytree(REPO, source, ignore=COPY_IGNORED)  # a checkout, as the README assumes
    # What a real system has before the install: these folders exist.
    for folder in ("opt", "etc/systemd/system", "usr/local/bin", "var/lib/opsd"):
        (root / folder).mkdir(parents=True)
    env = opsd_env({
        "PATH": os.pathsep.join([str(root / "usr/local/bin"), os.environ.get("PATH", "")]),
        "NOTION_API_TOKEN": TOKEN,
        "STATE_DIRECTORY": str(root / "var" / "lib" / "opsd"),  # as systemd's StateDirectory=
        "XDG_CACHE_HOME": str(base / "cache"),
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    })
    block = install_block(README.read_text())
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", runnable(block, root)], cwd=source, env=env,
        capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    yield Install(root, source, block, env)


def test_the_readme_install_puts_opsd_in_its_virtualenv(installed: Install) -> None:
    venv = installed.venv
    command = installed.root / "usr" / "local" / "bin" / "opsd"
    assert command.resolve() == (venv / "bin" / "opsd").resolve()
    version = installed.opsd("--version")
    assert (version.returncode, version.stdout.split()[0]) == (0, "opsd"), version.stderr
    # The package imported is the installed copy (not this checkout), with its playbooks.
    where = subprocess.run(
        [str(venv / "bin" / "python"), "-c",
         "import opsd.playbooks as p; print(p.__file__); print(p.builtin_playbooks_dir())"],
        capture_output=True, text=True, env=installed.env, cwd=installed.root, timeout=120,
    )
    module, playbooks = map(Path, where.stdout.split())
    assert module.is_relative_to(venv), where.stdout + where.stderr
    assert playbooks == module.parent / "_playbooks"
    assert sorted(p.stem for p in playbooks.glob("*.toml")) == SHIPPED


def test_the_installed_example_config_checks_ok_offline(installed: Install) -> None:
    token_file = installed.config.parent / "notion_token"
    assert token_file.read_text().strip() == TOKEN
    assert token_file.stat().st_mode & 0o777 == 0o600
    state = installed.root / "var" / "lib" / "opsd"
    before = sorted(state.iterdir())
    done = installed.watched("--config", str(installed.config), "config", "check")
    assert (done.returncode, done.stdout.strip(), done.stderr) == (0, "ok", "")
    assert TOKEN[8:-8] not in done.stdout
    # Checking creates nothing, not even the database it checks it could create.
    assert sorted(state.iterdir()) == before


def test_the_network_watch_sees_a_command_that_asks_notion(installed: Install) -> None:
    """The control for the test above: a check of the token does reach for api.notion.com."""
    done = installed.watched("--config", str(installed.config), "check", "notion.auth",
                             env={"OPSD_NOTION__MAX_RETRIES": "0"})
    assert "network: socket.getaddrinfo api.notion.com" in done.stderr, done.stderr


def test_the_installed_opsd_runs_with_memory_deny_write_execute(installed: Install, sandbox,
                                                                tmp_path: Path) -> None:
    """The unit's MemoryDenyWriteExecute=yes suits the virtualenv's python: a daily run
    (httpx, notion-client, SQLite, pydantic) and the delivery child's Apprise, under it."""
    deny = [sys.executable, "-c", DENY_WRITE_EXECUTE]
    python = str(installed.venv / "bin" / "python")
    probe = installed.run([*deny, python, "-c", "import mmap; mmap.mmap(-1, 4096, prot=7)"])
    # prot 7: read, write and execute at once
    if "unsupported: PR_SET_MDWE" in probe.stderr:
        pytest.skip(probe.stderr.strip())
    assert "PermissionError" in probe.stderr, probe.stderr  # the control: it is enforced
    env = {
        "OPSD_NOTION__BASE_URL": sandbox.url,
        "OPSD_NOTION__STATUS_PAGE_URL": f"{sandbox.url}/api/v2/summary.json",
        "NOTION_API_TOKEN": SANDBOX_TOKEN,
        "OPSD_NOTION__RATE_LIMIT": "200", "OPSD_NOTION__BURST": "50",
        "STATE_DIRECTORY": str(tmp_path),
    }
    done = installed.run(
        [*deny, "opsd", "--config", str(installed.config), "run-playbook", "daily", "--json"], env)
    assert done.returncode == 0, done.stdout + done.stderr
    statuses = {(r["check"], r["target"]): r["status"] for r in json.loads(done.stdout)["results"]}
    assert statuses[("notion.auth", "")] == statuses[("notion.schema", "bottlenecks")] == "OK"
    apprise = installed.run(
        [*deny, python, "-c", "import apprise; apprise.Apprise().add('json://127.0.0.1:9')"])
    assert apprise.returncode == 0, apprise.stderr


def test_the_installed_opsd_lists_the_shipped_playbooks(installed: Install) -> None:
    done = installed.opsd("--config", str(installed.config), "playbooks", "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    assert sorted(p["name"] for p in json.loads(done.stdout)["playbooks"]) == SHIPPED


def test_the_unit_runs_the_command_the_readme_installs(installed: Install) -> None:
    unit = installed.root / "etc" / "systemd" / "system" / "opsd.service"
    assert unit.read_text() == UNIT.read_text()
    exec_start = re.findall(r"(?m)^ExecStart=(.*)$", unit.read_text())
    assert exec_start == [f"{venv_path(installed.block)}/bin/opsd run"]


def test_the_wheel_ships_the_playbooks_and_the_command(installed: Install, tmp_path: Path
                                                       ) -> None:
    isolation = ["--no-build-isolation"] if importlib.util.find_spec("hatchling") else []
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", *isolation, "-q", "-w",
         str(tmp_path), str(installed.source)],
        check=True, capture_output=True, env=installed.env, timeout=300,
    )
    (wheel,) = tmp_path.glob("opsd-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert sorted(Path(n).stem for n in names if n.startswith("opsd/_playbooks/")) == SHIPPED
    (entry_points,) = (n for n in names if n.endswith(".dist-info/entry_points.txt"))
    assert "opsd = opsd.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()
