"""`opsd demo`: the real daemon against the built-in sandbox, in a throw-away directory.

The demo writes a config naming the sandbox (its URL, public fake token and databases), a
copy of the shipped playbooks with `realtime` every few seconds, and state in a temporary
directory; alerts go through the real alert engine and outbox to a custom Apprise plugin
(`alerts.plugin_paths`) that prints them on the console (the delivery process's stderr).
"""

from __future__ import annotations

import re
import socket
from pathlib import Path
from typing import Any

from opsd.playbooks import builtin_playbooks_dir
from opsd.sandbox import SANDBOX_TOKEN, Sandbox
from opsd.sandbox.workspace import WORKSPACE_SPEC

CONSOLE_SCHEMA = "opsdconsole"
REALTIME_EVERY = "10s"
# Catch-up runs at start, this far apart: all at once, they slow each other down on a small
# box and a latency check reads that as a CRITICAL.
CATCH_UP_SPACING = "5s"
# The faults the banner offers: (what it is, sandbox admin action, JSON body).
FAULTS = (
    ("slow answers (latency)", "latency", '{"seconds": 3}'),
    ("Notion down (503)", "fail", '{"status": 503}'),
    ("revoked token (401)", "revoke_token", "{}"),
    ("database unshared (404)", "unshare", '{"database": "Bottlenecks Registry"}'),
    ("back to normal", "reset", "{}"),
)
# The names the shipped playbooks use for the sandbox's databases (`database = "tasks"`).
DATABASE_NAMES = {
    "Bottlenecks Registry": "bottlenecks",
    "Optimization Fixes": "fixes",
    "Testing Results": "tests",
    "Deployment Log": "deployments",
    "Task Management": "tasks",
}
# A sandbox answering faster than Notion's 3 requests/second keeps `--once` well under 30 s;
# the client's budget stays below it so that opsd itself never causes a 429.
SANDBOX_RATE = 20.0
CLIENT_RATE = 15.0


def demo_config(
    directory: Path,
    sandbox_url: str,
    metrics_port: int,
    *,
    realtime_every: str = REALTIME_EVERY,
    client_rate: float = CLIENT_RATE,
) -> Path:
    """Write `opsd.toml` and `playbooks/` for a demo in `directory`; returns the config path."""
    playbooks = directory / "playbooks"
    playbooks.mkdir(parents=True, exist_ok=True)
    for source in sorted(builtin_playbooks_dir().glob("*.toml")):
        text = source.read_text()
        if source.stem == "realtime":
            text = re.sub(r'(?m)^every\s*=.*$', f'every = "{realtime_every}"', text)
        (playbooks / source.name).write_text(text)
    integration = _sample_integration(directory)
    plugin = write_console_plugin(directory)
    lines = [
        "[notion]",
        f'token = "{SANDBOX_TOKEN}"  # opsd:allow (the sandbox\'s public fake token)',
        f'base_url = "{sandbox_url}"',
        f'status_page_url = "{sandbox_url}/api/v2/summary.json"',
        'notion_version = "2026-03-11"',
        f"rate_limit = {client_rate}",
        "burst = 10",
        "",
        "[storage]",
        f'path = "{directory / "opsd.db"}"',
        f'backup_dir = "{directory / "backups"}"',
        "",
        "[metrics]",
        'host = "127.0.0.1"',
        f"port = {metrics_port}",
        "",
        "[scheduler]",
        f'playbooks_dir = "{playbooks}"',
        'shutdown_timeout = "5s"',
        f'catch_up_spacing = "{CATCH_UP_SPACING}"',
        "",
        "[alerts]",
        f'urls = ["{CONSOLE_SCHEMA}://"]',
        f'plugin_paths = ["{plugin}"]',
        "",
        "[secrets]",
        f'root = "{integration}"',
        "",
        "# The sandbox stands in for the integration's own service: http.endpoint probes it.",
        "[[endpoints]]",
        'name = "sandbox"',
        f'url = "{sandbox_url}/__sandbox/stats"',
        'json_field = "requests_total"',
        "",
        "# The seeds' KPIs as SLOs: `opsd slo` and the realtime playbook's slo.burn_rate.",
        "[[slos]]",
        'name = "notion-availability"',
        'checks = "notion.auth"',
        "objective = 0.999",
        "",
        "[[slos]]",
        'name = "notion-query-latency"',
        'checks = "notion.latency"',
        "threshold = 1.0",
        "objective = 0.99",
        "",
        "[[slos]]",
        'name = "endpoint-uptime"',
        'checks = "http.endpoint"',
        "objective = 0.999",
        "",
    ]
    for database in WORKSPACE_SPEC:
        lines += _database_lines(database)
    path = directory / "opsd.toml"
    path.write_text("\n".join(lines))
    return path


def _sample_integration(directory: Path) -> Path:
    """A stand-in for the integration's directory, so the secret scans have logs to read."""
    root = directory / "integration"
    (root / "logs").mkdir(parents=True, exist_ok=True)
    (root / "logs" / "sync.log").write_text(
        "2025-06-02T07:00:01Z INFO synced 42 pages from Bottlenecks Registry\n"
        "2025-06-02T07:00:02Z WARN Notion answered 429, retrying after 1s\n"
    )
    return root


def _database_lines(database: Any) -> list[str]:
    """One `[[notion.databases]]` table: the properties every data source of it has."""
    from opsd.sandbox import DATABASES

    common = [(p.name, p.type) for p in database.sources[0].properties[:4]
              if all(any(q.name == p.name and q.type == p.type for q in s.properties)
                     for s in database.sources)]
    name = DATABASE_NAMES.get(database.name, database.name.lower().split()[0])
    return [
        "[[notion.databases]]",
        f'name = "{name}"',
        f'id = "{DATABASES[database.name]}"',
        "[notion.databases.required_properties]",
        *(f'"{prop}" = "{kind}"' for prop, kind in common),
        "",
    ]


def start_sandbox() -> Sandbox:
    """The sandbox on a free localhost port."""
    return Sandbox(port=0, rate=SANDBOX_RATE, burst=int(SANDBOX_RATE)).start()


def free_port(preferred: int = 9464) -> int:
    """`preferred` if nothing listens there, else any free localhost port."""
    for port in (preferred, 0):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return sock.getsockname()[1]
    raise OSError("no free port on 127.0.0.1")


_CONSOLE_PLUGIN = f'''"""opsd demo: `{CONSOLE_SCHEMA}://` prints each alert message."""

import sys

from apprise.decorators import notify


@notify(on="{CONSOLE_SCHEMA}", name="opsd demo console")
def print_alert(body, title, notify_type, *args, **kwargs):
    print(f"\\n*** ALERT ({{notify_type}}) {{title}}\\n{{body}}\\n", file=sys.stderr, flush=True)
    return True
'''


def write_console_plugin(directory: Path) -> Path:
    """Write the Apprise plugin making `opsdconsole://` print alerts; returns its path."""
    path = directory / "opsd_console.py"
    path.write_text(_CONSOLE_PLUGIN)
    return path


def banner(sandbox_url: str, metrics_url: str, config: Path) -> str:
    """What the demo prints before the daemon's log starts: where things are, and every fault
    to try as a full command."""
    faults = [(name, f"curl -X POST {sandbox_url}/__sandbox/{action} -d '{body}'")
              for name, action, body in FAULTS]
    width = max(len(name) for name, _ in faults)
    return "\n".join([
        "opsd demo: the daemon against a local Notion sandbox (Ctrl-C stops it)",
        f"  sandbox   {sandbox_url}  (token: the public fake SANDBOX_TOKEN)",
        f"  metrics   {metrics_url}/metrics   health: {metrics_url}/healthz",
        f"  config    {config}",
        f"  realtime  every {REALTIME_EVERY}; the other playbooks catch up once now, "
        f"{CATCH_UP_SPACING} apart (history trends last)",
        "  try a fault, then watch the next realtime run raise an alert (and `opsd --config "
        f"{config} alerts` list it):",
        *(f"    {name.ljust(width)}  {command}" for name, command in faults),
        "",
    ])

