"""A listener nobody can starve, against the real daemon (`opsd run`, the `fast` playbook every
second): 100 idle TCP connections held open cost sockets, not threads, and stop neither a
scrape, nor /healthz, nor the scheduler; 1,000 concurrent scrapes are all answered in full;
a non-loopback `metrics.host` is one warning line, from `opsd config check` and at start.

The fault campaign's version of the first: 70 idle connections under `TasksMax=64` took
every thread the unit allowed (one per connection) and stopped all runs for 25 s. Waits are
for events with a deadline that only bounds a hang; no latency is asserted (see
bench/listener.py for the figures).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.conftest import REPO, opsd_env, require_tool
from tests.test_daemon import FAST, HANG, runs, setup, wait_until  # noqa: F401 (setup is a fixture)

pytestmark = pytest.mark.slow

WARNING = ("metrics.host 0.0.0.0 is not loopback: /metrics and /healthz are reachable from"
           " the network (no authentication)")


def threads_of(pid: int) -> int:
    """The process's thread count, from /proc."""
    found = re.search(r"^Threads:\s+(\d+)$", Path(f"/proc/{pid}/status").read_text(), re.M)
    assert found
    return int(found.group(1))


def sockets_of(pid: int) -> int:
    """How many sockets the process has open, from /proc."""
    count = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        with contextlib.suppress(FileNotFoundError):
            count += os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:")
    return count


def address_of(url: str) -> tuple[str, int]:
    host, port = url.removeprefix("http://").rsplit(":", 1)
    return host, int(port)


def test_100_idle_connections_stop_neither_scrapes_nor_runs_nor_threads(
    setup, tmp_path  # noqa: F811
):
    db = tmp_path / "opsd.db"
    daemon, notify = setup()
    notify.wait_for("READY=1")
    url = daemon.metrics_url()
    pid = daemon.proc.pid
    sockets_before = sockets_of(pid)  # no client yet: the listener's, the notify socket's

    held = [socket.create_connection(address_of(url), timeout=HANG) for _ in range(100)]
    try:
        wait_until(lambda: sockets_of(pid) >= sockets_before + 100,
                   what="the daemon to accept 100 connections")
        scraped = httpx.get(f"{url}/metrics", timeout=HANG)
        assert scraped.status_code == 200 and "opsd_build_info" in scraped.text
        health = httpx.get(f"{url}/healthz", timeout=HANG)
        assert (health.status_code, health.text) == (200, "ok\n")
        recorded = len(runs(db))
        wait_until(lambda: len(runs(db)) >= recorded + 3,
                   what="three more runs of `fast` while the connections are held")
        # Sockets, not threads: a thread per connection would be over 100 here.
        assert threads_of(pid) < 30
    finally:
        for sock in held:
            sock.close()
    daemon.signal(signal.SIGTERM)
    assert daemon.wait_exit() == 0
    assert "Traceback" not in daemon.log()


async def scrape(host: str, port: int) -> tuple[int, bool]:
    """One raw HTTP/1.1 scrape on its own connection: (status, body complete)."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(b"GET /metrics HTTP/1.1\r\nHost: opsd\r\nConnection: close\r\n\r\n")
        await writer.drain()
        response = await reader.read()  # to the end: the server closes after the response
    finally:
        writer.close()
    head, _, body = response.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    length = next(int(line.split(":", 1)[1]) for line in lines
                  if line.lower().startswith("content-length:"))
    complete = len(body) == length and b"opsd_build_info" in body and body.endswith(b"\n")
    return int(lines[0].split()[1]), complete


async def scrape_all(url: str, count: int) -> list[tuple[int, bool]]:
    host, port = address_of(url)
    return await asyncio.wait_for(
        asyncio.gather(*(scrape(host, port) for _ in range(count))), timeout=4 * HANG
    )


def test_1000_concurrent_scrapes_are_all_answered(setup):  # noqa: F811
    daemon, notify = setup()
    notify.wait_for("READY=1")
    url = daemon.metrics_url()
    answers = asyncio.run(scrape_all(url, 1000))
    assert answers == [(200, True)] * 1000
    assert threads_of(daemon.proc.pid) < 30
    assert httpx.get(f"{url}/healthz", timeout=HANG).status_code == 200
    daemon.signal(signal.SIGTERM)
    assert daemon.wait_exit() == 0
    assert "Traceback" not in daemon.log()


def test_a_non_loopback_host_is_one_warning_in_config_check(opsd_cli, make_config):
    config = make_config(metrics={"host": "0.0.0.0"})
    checked = opsd_cli("--config", str(config), "config", "check")
    assert checked.code == 0, checked
    assert checked.out.splitlines().count(f"warning: {WARNING}") == 1, checked.out
    quiet = opsd_cli("--config", str(make_config(metrics={"host": "127.0.0.1"})),
                     "config", "check")
    assert "metrics.host" not in quiet.out, quiet.out


def test_a_non_loopback_host_is_one_warning_line_at_start(make_config, tmp_path):
    """The daemon on 0.0.0.0 in a network namespace of its own, where 0.0.0.0 reaches nothing
    (tests listen on loopback only)."""
    unshare = require_tool("unshare")
    playbooks = tmp_path / "playbooks"
    playbooks.mkdir()
    (playbooks / "fast.toml").write_text(FAST)
    config = make_config(metrics={"host": "0.0.0.0", "port": 0},
                         scheduler={"playbooks_dir": str(playbooks)})
    log = tmp_path / "daemon.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [unshare, "--net", sys.executable, "-m", "opsd", "--config", str(config), "run"],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env=opsd_env(), cwd=REPO,
        )
    try:
        wait_until(lambda: "msg=started" in log.read_text() or proc.poll() is not None,
                   what="the daemon to start")
        if proc.poll() is not None and "unshare" in log.read_text():
            pytest.skip(f"no network namespace here: {log.read_text().strip()}")
        text = log.read_text()
        warnings = [line for line in text.splitlines() if "is not loopback" in line]
        assert len(warnings) == 1, text
        assert "level=warning" in warnings[0] and WARNING in warnings[0]
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=HANG) == 0
