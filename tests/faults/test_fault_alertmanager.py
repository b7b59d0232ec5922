"""An HA pair through a real Alertmanager cluster (issue 18's acceptance test).

Two Alertmanager peers (Debian's `prometheus-alertmanager`) gossip on 127.0.0.1 and send to
one webhook receiver; two opsd daemons with the same config (each its own state directory and
metrics port) watch one sandbox and post to both peers. A revoked token gives exactly one
notification; killing one opsd keeps the alert open (the other refreshes it) with no resolve
and no duplicate; with one peer killed the resolve still arrives exactly once; the v2 API and
`amtool` show the labels every opsd sets alike.

Every wait is for an event (a peer's status, a notification, an alert's state) with a deadline
that only bounds a hang, except the windows in which nothing may happen: they last as long as
the thing they rule out needs (an alert's endsAt plus Alertmanager's group interval).
"""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from conftest import ReservedPort, require_tool
from test_daemon import HANG, Daemon, wait_until

from opsd.sandbox import SANDBOX_TOKEN

pytestmark = pytest.mark.slow

RESEND = 2.0  # [alerts.alertmanager] resend_interval: endsAt = now + 4 × it
ENDS_AFTER = 4 * RESEND
GROUP_WAIT, GROUP_INTERVAL, PEER_TIMEOUT = 1.0, 3.0, 2.0
AUTH = ('name = "auth"\ndescription = "the token"\nevery = "1s"\n\n'
        '[[checks]]\nkind = "notion.auth"\n')
ROUTE = """route:
  receiver: hook
  group_by: [alertname, check, target, workspace]
  group_wait: {group_wait}s
  group_interval: {group_interval}s
  repeat_interval: 1h
receivers:
  - name: hook
    webhook_configs:
      - url: {hook}
        send_resolved: true
"""


class Peer:
    """One Alertmanager process of the cluster, its web API on `url`."""

    def __init__(self, tmp: Path, name: str, config: Path, web: ReservedPort,
                 cluster: ReservedPort, others: list[ReservedPort]) -> None:
        self.url = f"http://127.0.0.1:{web.port}"
        self.log_path = tmp / f"{name}.log"
        command = [
            require_tool("prometheus-alertmanager"), f"--config.file={config}",
            f"--storage.path={tmp / name}", f"--web.listen-address=127.0.0.1:{web.port}",
            f"--cluster.listen-address=127.0.0.1:{cluster.port}",
            f"--cluster.advertise-address=127.0.0.1:{cluster.port}",
            *(f"--cluster.peer=127.0.0.1:{other.port}" for other in others),
            f"--cluster.peer-timeout={PEER_TIMEOUT:g}s", "--cluster.settle-timeout=3s",
            "--cluster.pushpull-interval=2s", "--cluster.gossip-interval=100ms",
            "--cluster.probe-interval=500ms", "--cluster.reconnect-interval=1s",
        ]
        with self.log_path.open("w") as log:
            self.proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL)

    def get(self, path: str) -> object:
        try:
            answer = httpx.get(self.url + path, timeout=5)
        except httpx.HTTPError:
            return None
        return answer.json() if answer.status_code == 200 else None

    def ready(self, peers: int) -> bool:
        status = self.get("/api/v2/status")
        cluster = status.get("cluster", {}) if isinstance(status, dict) else {}
        return cluster.get("status") == "ready" and len(cluster.get("peers") or []) == peers

    def alerts(self) -> list[dict]:
        found = self.get("/api/v2/alerts")
        return found if isinstance(found, list) else []

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=HANG)


@pytest.fixture
def cluster(tmp_path: Path, webhook) -> Iterator[list[Peer]]:
    """Two gossiping peers sending to `webhook` (settled: each sees both)."""
    config = tmp_path / "alertmanager.yml"
    config.write_text(ROUTE.format(group_wait=f"{GROUP_WAIT:g}",
                                   group_interval=f"{GROUP_INTERVAL:g}",
                                   hook=f"http://127.0.0.1:{webhook.port}/hook"))
    ports = [ReservedPort() for _ in range(4)]  # held to the end: no other test takes them
    web, gossip = ports[:2], ports[2:]
    peers = [Peer(tmp_path, f"am{i}", config, web[i], gossip[i], [gossip[1 - i]])
             for i in range(2)]
    try:
        for peer in peers:
            wait_until(lambda p=peer: p.ready(2), what=f"{peer.url} settled with 2 peers")
        yield peers
    finally:
        for peer in peers:
            peer.kill()
        for port in ports:
            port.close()


def start_opsd(tmp_path: Path, name: str, sandbox_url: str, peers: list[Peer]) -> Daemon:
    """An opsd with the pair's shared config (`production.toml`, the same bytes for both: the
    state directory comes from $STATE_DIRECTORY, as under systemd)."""
    playbooks = tmp_path / "playbooks"
    playbooks.mkdir(exist_ok=True)
    (playbooks / "auth.toml").write_text(AUTH)
    config = tmp_path / name / "production.toml"
    config.parent.mkdir()
    config.write_text("\n".join([
        "[notion]", f'base_url = "{sandbox_url}"', "rate_limit = 100", "burst = 20",
        "[scheduler]", f'playbooks_dir = "{playbooks}"', "[metrics]", "port = 0",
        "[alerts.alertmanager]", f"urls = {json.dumps([p.url for p in peers])}",
        f'resend_interval = "{RESEND:g}s"', "timeout = 5", 'labels = { team = "ops" }',
    ]) + "\n")
    state = tmp_path / name / "state"
    state.mkdir()
    daemon = Daemon(config, {"NOTION_API_TOKEN": SANDBOX_TOKEN, "STATE_DIRECTORY": str(state)})
    daemon.metrics_url()  # started
    return daemon


def notifications(webhook, status: str) -> list[dict]:
    return [body for body in webhook.received if body.get("status") == status]


def delivered_to_peers(daemon_dir: Path) -> int:
    with sqlite3.connect(daemon_dir / "state" / "opsd.db") as conn:
        return conn.execute(
            "SELECT COUNT(*) FROM outbox WHERE url_key LIKE 'alertmanager:%'"
            " AND delivered_at IS NOT NULL AND title LIKE 'FIRING%'"
        ).fetchone()[0]


def quiet(seconds: float, still: Callable[[], object], what: str) -> None:
    """Let `seconds` pass, checking `still()` all along (the window something must not end)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert still(), what
        time.sleep(0.2)


EXPECTED_LABELS = {"alertname": "OpsdCheckFailing", "check": "notion.auth",
                   "kind": "notion.auth", "workspace": "production",  # no target: no label
                   "severity": "critical", "team": "ops"}


def firing_alert(peer: Peer) -> dict | None:
    return next((a for a in peer.alerts()
                 if a["labels"].get("check") == "notion.auth"
                 and a["status"]["state"] == "active"), None)


def test_an_ha_pair_notifies_once_and_survives_losing_an_opsd_and_a_peer(
    tmp_path: Path, cluster: list[Peer], sandbox, webhook
) -> None:
    a = start_opsd(tmp_path, "a", sandbox.url, cluster)
    b = start_opsd(tmp_path, "b", sandbox.url, cluster)
    try:
        sandbox.revoke_token()
        wait_until(lambda: notifications(webhook, "firing"), what="a firing notification")
        # Both opsd posted it to both peers: the peers deduplicated it.
        for name in ("a", "b"):
            wait_until(lambda n=name: delivered_to_peers(tmp_path / n) == 2,
                       what=f"opsd {name}'s FIRING taken by both peers")

        # The labels, through the v2 API of each peer and through amtool.
        for peer in cluster:
            alert = wait_until(lambda p=peer: firing_alert(p), what="the alert on each peer")
            assert alert["labels"] == EXPECTED_LABELS
            assert alert["annotations"]["runbook"] and alert["annotations"]["since"]
            assert alert["annotations"]["summary"].startswith("notion.auth: ")
        queried = subprocess.run(
            [require_tool("amtool"), "alert", "query", "-o", "json",
             f"--alertmanager.url={cluster[0].url}", "check=notion.auth"],
            capture_output=True, text=True, timeout=HANG,
        )
        assert queried.returncode == 0, queried.stderr
        assert [x["labels"] for x in json.loads(queried.stdout)] == [EXPECTED_LABELS]

        # Kill one opsd: its last post ends at most ENDS_AFTER from now; the other refreshes
        # the alert, which stays open past that and past a group interval, unrepeated.
        b.proc.send_signal(signal.SIGKILL)
        b.proc.wait(timeout=HANG)
        quiet(ENDS_AFTER + GROUP_INTERVAL + PEER_TIMEOUT,
              lambda: all(firing_alert(p) for p in cluster),
              "the alert stayed open while one opsd refreshes it")
        assert len(notifications(webhook, "firing")) == 1, webhook.received
        assert notifications(webhook, "resolved") == [], webhook.received

        # Kill one Alertmanager peer, then fix the token: the survivor resolves it, once.
        cluster[0].kill()
        sandbox.add_token(SANDBOX_TOKEN)
        wait_until(lambda: notifications(webhook, "resolved"), what="a resolved notification")
        # The other peer's copy would come within a peer timeout and a group interval.
        quiet(GROUP_INTERVAL + PEER_TIMEOUT, lambda: True, "")
        assert [len(notifications(webhook, s)) for s in ("firing", "resolved")] == [1, 1], (
            webhook.received)
        resolved = notifications(webhook, "resolved")[0]["alerts"]
        assert [x["labels"] for x in resolved] == [EXPECTED_LABELS]
    finally:
        a.kill()
        b.kill()
