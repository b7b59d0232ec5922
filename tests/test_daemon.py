"""`opsd run` as a real subprocess: sd_notify over a real datagram socket, /metrics through
promtool, /healthz, SIGTERM, kill -9 and catch-up, SIGHUP reloads, the heartbeat.

The daemon's metrics listener binds port 0; the test reads the port from the daemon's
"started" log line. Every wait is for an event (a notify message, a log line, a row, a
request held by the sandbox) with a deadline that only bounds a hang.
"""

from __future__ import annotations

import contextlib
import http.server
import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import REPO

# Deadlines for things a healthy daemon does in well under a second; generous, as on a busy
# machine a Python process can take seconds to start.
HANG = 60.0

FAST = 'name = "fast"\ndescription = "test"\nevery = "1s"\n\n[[checks]]\nkind = "history.trend"\n'
HOURLY = 'name = "hourly"\nevery = "1h"\n\n[[checks]]\nkind = "history.trend"\n'


def wait_until(predicate: Callable[[], object], timeout: float = HANG, what: str = "") -> object:
    """Poll `predicate` (a real process is on the other side) until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what or predicate}")


class NotifySocket:
    """A bound AF_UNIX datagram socket standing in for systemd's $NOTIFY_SOCKET."""

    def __init__(self, address: str) -> None:
        self.env_value = address
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind("\0" + address[1:] if address.startswith("@") else address)
        self.sock.settimeout(0.1)
        self.messages: list[str] = []

    def wait_for(self, line: str, count: int = 1, timeout: float = HANG) -> int:
        """Index (in arrival order) of the `count`-th message holding `line`, receiving as
        needed."""
        deadline = time.monotonic() + timeout
        while True:
            found = [i for i, message in enumerate(self.messages) if line in message.splitlines()]
            if len(found) >= count:
                return found[count - 1]
            if time.monotonic() > deadline:
                raise AssertionError(f"not {count} x {line} in {self.messages}")
            try:
                self.messages.append(self.sock.recv(4096).decode())
            except TimeoutError:
                continue

    def close(self) -> None:
        self.sock.close()


class Daemon:
    """`python -m opsd --config X run` with its log in a file."""

    def __init__(self, config: Path, env: dict[str, str]) -> None:
        self.log_path = config.parent / f"daemon-{uuid.uuid4().hex[:6]}.log"
        full_env = {k: v for k, v in os.environ.items()
                    if not k.startswith(("OPSD_", "NOTIFY_", "WATCHDOG_"))}
        full_env.update(env)
        with self.log_path.open("w") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "opsd", "--config", str(config), "run"],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env=full_env, cwd=REPO,
            )

    def log(self) -> str:
        return self.log_path.read_text()

    def wait_log(self, text: str, timeout: float = HANG) -> None:
        wait_until(lambda: text in self.log(), timeout, f"{text!r} in the daemon log")

    def metrics_url(self) -> str:
        """The listener's URL, from the "started" log line (the daemon binds port 0)."""
        self.wait_log("msg=started")
        found = re.search(r"msg=started .*\bmetrics=(http://\S+)", self.log())
        assert found, self.log()
        return found.group(1)

    def signal(self, signum: int) -> None:
        self.proc.send_signal(signum)

    def wait_exit(self, timeout: float = HANG) -> int:
        return self.proc.wait(timeout=timeout)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=HANG)


@pytest.fixture
def setup(tmp_path: Path, make_config) -> Iterator[Callable[..., tuple[Daemon, NotifySocket]]]:
    """Start daemons over a `fast` (every 1s) playbook; everything is stopped afterwards."""
    playbooks = tmp_path / "playbooks"
    playbooks.mkdir()
    (playbooks / "fast.toml").write_text(FAST)
    started: list[tuple[Daemon, NotifySocket]] = []

    def start(*, abstract: bool = False, watchdog_usec: int | None = None,
              **sections: object) -> tuple[Daemon, NotifySocket]:
        sections.setdefault("scheduler", {"playbooks_dir": str(playbooks)})
        sections.setdefault("metrics", {"port": 0})
        config = make_config(**sections)
        address = (f"@opsd-test-{uuid.uuid4().hex}" if abstract
                   else str(tmp_path / f"notify-{len(started)}.sock"))
        notify = NotifySocket(address)
        env = {"NOTIFY_SOCKET": address}
        if watchdog_usec:
            env["WATCHDOG_USEC"] = str(watchdog_usec)
        daemon = Daemon(config, env)
        started.append((daemon, notify))
        return daemon, notify

    yield start
    for daemon, notify in started:
        daemon.kill()
        notify.close()


def runs(db: Path, playbook: str = "fast") -> list[tuple[int, str]]:
    """(id, trigger) of the recorded runs of `playbook`, read over a separate connection."""
    with contextlib.closing(sqlite3.connect(db)) as conn:
        return conn.execute(
            "SELECT id, trigger FROM runs WHERE playbook = ? ORDER BY id", (playbook,)
        ).fetchall()


def test_ready_then_watchdog_then_stopping_and_exit_0_on_sigterm(setup, tmp_path):
    daemon, notify = setup(watchdog_usec=400_000)

    ready = notify.wait_for("READY=1")
    watchdog = notify.wait_for("WATCHDOG=1")
    assert watchdog > ready, notify.messages
    # It pings every half of WATCHDOG_USEC (the interval is pure: test_systemd_notify), again
    # and again, not once.
    daemon.wait_log("msg=started")
    assert "watchdog_seconds=0.2" in daemon.log()
    notify.wait_for("WATCHDOG=1", count=4)

    daemon.signal(signal.SIGTERM)
    assert daemon.wait_exit() == 0
    notify.wait_for("STOPPING=1")
    log = daemon.log()
    assert "msg=stopping" in log and "msg=stopped" in log
    assert "Traceback" not in log


def test_metrics_pass_promtool_and_healthz_is_ok(setup, promtool):
    daemon, notify = setup(abstract=True)
    notify.wait_for("READY=1")
    url = daemon.metrics_url()

    def scraped_after_a_run() -> str | None:
        body = httpx.get(f"{url}/metrics", timeout=HANG).text
        wanted = 'opsd_playbook_runs_total{playbook="fast",status="OK",workspace="opsd"}'
        return body if wanted in body else None

    body = wait_until(scraped_after_a_run, what="a recorded run on /metrics")
    for name in (
        'opsd_check_status{check="history.trend",kind="history.trend",playbook="fast",target="",'
        'workspace="opsd"}',
        'opsd_playbook_last_run_timestamp_seconds{playbook="fast",workspace="opsd"}',
        'opsd_playbook_next_run_timestamp_seconds{playbook="fast",workspace="opsd"}',
        'opsd_build_info{config_hash="',  # then python and version (labels sort by name)
        'opsd_check_state_since_timestamp_seconds{check="history.trend"',
        'opsd_config_reloads_total{outcome="failure",workspace="opsd"} 0.0',  # born at 0
        "python_gc_objects_collected_total",
        "process_resident_memory_bytes",
    ):
        assert name in body
    # Every series carries the instance's workspace (the config file's stem, opsd.toml).
    samples = [line for line in body.splitlines() if line and not line.startswith("#")]
    assert samples and all('workspace="opsd"' in line for line in samples)
    check = subprocess.run([promtool, "check", "metrics"], input=body, capture_output=True,
                           text=True, timeout=120)
    assert (check.returncode, check.stdout + check.stderr) == (0, "")

    health = httpx.get(f"{url}/healthz", timeout=HANG)
    assert (health.status_code, health.text) == (200, "ok\n")
    assert httpx.get(f"{url}/nope", timeout=HANG).status_code == 404
    daemon.signal(signal.SIGTERM)
    assert daemon.wait_exit() == 0


def test_a_restart_during_a_notion_pause_shows_it_on_metrics_at_once(setup, tmp_path):
    import asyncio

    from opsd.notion.limiter import RateLimiter
    from opsd.notion.service import budget_key
    from opsd.sandbox import SANDBOX_TOKEN
    from opsd.store import Store

    base_url = "http://127.0.0.1:9"  # never asked: the `fast` playbook has no Notion check
    # A 429 an hour long (Retry-After 3600 s) recorded by the previous daemon.
    store = Store.open(tmp_path / "opsd.db")
    limiter = RateLimiter(2.5, 3, store=store, budget=budget_key(base_url, SANDBOX_TOKEN))
    pause = asyncio.run(limiter.pause(3600.0, reason="integration_rate_limit", slow_down=True))
    store.close()

    daemon, notify = setup(notion={"token": SANDBOX_TOKEN, "base_url": base_url})
    notify.wait_for("READY=1")
    body = httpx.get(f"{daemon.metrics_url()}/metrics", timeout=HANG).text
    gauges = dict(re.findall(r'^(opsd_notion_\w+)\{workspace="opsd"\} (\S+)$', body, re.M))
    assert float(gauges["opsd_notion_rate_limit_paused_until_timestamp_seconds"]) == (
        pytest.approx(pause.until))
    assert float(gauges["opsd_notion_request_rate_limit"]) == pytest.approx(2.5 * 0.7)
    daemon.signal(signal.SIGTERM)
    assert daemon.wait_exit() == 0


def test_kill_9_loses_nothing_and_restart_catches_up(setup, tmp_path):
    db = tmp_path / "opsd.db"
    daemon, notify = setup()
    notify.wait_for("READY=1")
    before = wait_until(lambda: runs(db) if len(runs(db)) >= 2 else None, what="two runs")
    assert before[0][1] == "catch-up"  # never ran before: runs right at start

    daemon.proc.send_signal(signal.SIGKILL)
    daemon.proc.wait(timeout=HANG)
    with contextlib.closing(sqlite3.connect(db)) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        last_started = conn.execute("SELECT MAX(started_at) FROM runs").fetchone()[0]
    assert set(before) <= set(runs(db))
    # The `every = "1s"` playbook is overdue once a second has passed since its last run (the
    # daemon reads the real clock: waiting for it to pass is the scenario, not a measurement).
    wait_until(lambda: time.time() > last_started + 1.0, what="the playbook to be overdue")

    daemon2, notify2 = setup()
    notify2.wait_for("READY=1")
    daemon2.wait_log("msg=started")
    assert "catch_up=fast" in daemon2.log()  # due at start, so run at once as a catch-up
    wait_until(lambda: [r for r in runs(db) if r not in before and r[1] == "catch-up"],
               what="a catch-up run after restart")
    daemon2.signal(signal.SIGTERM)
    assert daemon2.wait_exit() == 0


def open_alert_checks(opsd_cli, config: Path) -> list[str]:
    shown = opsd_cli("--config", str(config), "alerts", "--json")
    assert shown.code in (0, 1, 2), shown.err
    return [alert["check"] for alert in json.loads(shown.out)["alerts"]]


def test_sighup_with_broken_config_keeps_the_old_one(setup, tmp_path, opsd_cli):
    daemon, notify = setup()
    notify.wait_for("READY=1")
    config = tmp_path / "opsd.toml"
    good = config.read_text()
    url = daemon.metrics_url()
    (tmp_path / "good.toml").write_text(good)

    config.write_text(good + "\n[metrics]\nport = 'not a port'\n")
    daemon.signal(signal.SIGHUP)
    daemon.wait_log("reload failed")
    failure = next(line for line in daemon.log().splitlines() if "reload failed" in line)
    assert "level=error" in failure and "opsd.toml" in failure
    assert daemon.proc.poll() is None
    notify.wait_for("RELOADING=1")
    count = len(runs(tmp_path / "opsd.db"))
    wait_until(lambda: len(runs(tmp_path / "opsd.db")) > count, what="runs after the failed reload")
    assert httpx.get(f"{url}/healthz", timeout=HANG).status_code == 200
    body = httpx.get(f"{url}/metrics", timeout=HANG).text
    assert 'opsd_config_reloads_total{outcome="failure",workspace="opsd"} 1.0' in body
    assert "opsd.config" in open_alert_checks(opsd_cli, tmp_path / "good.toml")

    # A valid config with another playbook directory is picked up by the next SIGHUP.
    other = tmp_path / "other"
    other.mkdir()
    (other / "hourly.toml").write_text(HOURLY)
    config.write_text(good.replace(str(tmp_path / "playbooks"), str(other)))
    daemon.signal(signal.SIGHUP)
    daemon.wait_log("msg=reloaded")
    wait_until(lambda: runs(tmp_path / "opsd.db", "hourly"), what="the new playbook's catch-up")
    body = httpx.get(f"{url}/metrics", timeout=HANG).text
    assert 'opsd_playbook_next_run_timestamp_seconds{playbook="hourly",workspace="opsd"}' in body
    assert 'opsd_playbook_next_run_timestamp_seconds{playbook="fast"' not in body
    assert "opsd.config" not in open_alert_checks(opsd_cli, tmp_path / "good.toml")
    daemon.signal(signal.SIGTERM)
    assert daemon.wait_exit() == 0


class _Heartbeats(http.server.BaseHTTPRequestHandler):
    hits: list[str]
    status = 200

    def do_GET(self) -> None:
        self.hits.append(self.path)
        self.send_response(self.status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        """Quiet."""


@pytest.fixture
def heartbeat_server() -> Iterator[Callable[[int], tuple[str, list[str]]]]:
    servers = []

    def start(status: int) -> tuple[str, list[str]]:
        hits: list[str] = []
        handler = type("H", (_Heartbeats,), {"hits": hits, "status": status})
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}", hits

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("status", [200, 500])
def test_heartbeat_pinged_after_each_successful_run_and_failures_are_not_fatal(
    setup, heartbeat_server, status
):
    base, hits = heartbeat_server(status)
    secret = "hb-3f9c2e7a1b5d4c8e9f0a"
    daemon, notify = setup(daemon={"heartbeat_url": f"{base}/ping/{secret}",
                                   "heartbeat_playbook": "fast"})
    notify.wait_for("READY=1")
    wait_until(lambda: len(hits) >= 2, what="two heartbeat pings, one per run")
    assert hits[0] == f"/ping/{secret}"
    assert daemon.proc.poll() is None
    daemon.signal(signal.SIGTERM)
    assert daemon.wait_exit() == 0
    log = daemon.log()
    assert secret not in log
    assert ('msg="heartbeat failed" error="HTTP 500"' in log) == (status == 500)


def test_busy_metrics_port_is_one_line_and_exit_3(setup, tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        daemon, notify = setup(metrics={"port": port})
        assert daemon.wait_exit() == 3
    log = daemon.log()
    assert log.strip().splitlines() == [
        f"opsd: metrics.port: cannot listen on 127.0.0.1:{port}: Address already in use"
    ]
    assert notify.messages == []


@pytest.mark.parametrize(("shutdown_timeout", "finished"), [("60s", True), ("0.3s", False)])
def test_sigterm_lets_a_running_playbook_finish_or_cancels_it_at_the_deadline(
    tmp_path, make_config, make_sandbox, shutdown_timeout, finished
):
    from opsd.sandbox import SANDBOX_TOKEN

    playbooks = tmp_path / "slow"
    playbooks.mkdir()
    (playbooks / "slow.toml").write_text(
        'name = "slow"\nevery = "1h"\n\n[[checks]]\nkind = "notion.auth"\ntimeout = "120s"\n'
    )
    sandbox = make_sandbox(rate=1000, burst=1000)
    sandbox.hang(True)  # every request waits in the sandbox until the test releases it
    config = make_config(
        notion={"token": SANDBOX_TOKEN, "base_url": sandbox.url, "timeout": "120s"},
        scheduler={"playbooks_dir": str(playbooks), "shutdown_timeout": shutdown_timeout},
        metrics={"enabled": False},
    )
    notify = NotifySocket(str(tmp_path / "notify.sock"))
    daemon = Daemon(config, {"NOTIFY_SOCKET": notify.env_value})
    try:
        notify.wait_for("READY=1")
        # The catch-up run starts at once: its request is in flight once the sandbox holds it.
        wait_until(lambda: sandbox.stats()["hung_requests"] == 1, what="the run's request")
        daemon.signal(signal.SIGTERM)
        notify.wait_for("STOPPING=1")
        daemon.wait_log("msg=stopping running=1")
        if finished:
            sandbox.hang(False)  # answered after shutdown began, within its timeout
        assert daemon.wait_exit() == 0
    finally:
        daemon.kill()
        notify.close()
    assert bool(runs(tmp_path / "opsd.db", "slow")) is finished
    assert ("playbook run cancelled at shutdown" in daemon.log()) is not finished
