"""Apprise runs in a short-lived child process (`opsd.alerting.deliver`), never in the process that
delivers: the outbox, the URL labels and `alerts test` work without importing Apprise; custom
plugins load from `alerts.plugin_paths`; a dying child fails the message in one line."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import textwrap

from test_alerts_support import running_webhook
from test_daemon import Daemon, wait_until

from opsd.alerting.engine import AlertEvent, EventType
from opsd.alerting.messages import Message, Origin
from opsd.alerting.notify import AppriseWorker, enqueue, retry_outbox
from opsd.config import Settings
from opsd.results import Status
from opsd.store import Store
from opsd.store.outbox import outbox_rows
from tests.conftest import REPO

NOW = 1_737_702_000.0
ORIGIN = Origin("ops-1")
EVENT = AlertEvent(EventType.FIRING, "notion.auth", "", severity=Status.CRITICAL,
                   kind="notion.auth", playbook="daily", at=NOW, since=NOW,
                   summary="token invalid", id=1)

# Runs in a fresh interpreter: a whole delivery, then whether Apprise got imported.
_DELIVER_AND_REPORT = """
import json, sys
from opsd.alerting.engine import AlertEvent, EventType
from opsd.config import Settings
from opsd.alerting.messages import Origin
from opsd.alerting.notify import destinations, enqueue, retry_outbox, send_test
from opsd.results import Status
from opsd.store import Store

url, db = sys.argv[1:]
settings = Settings(storage={"path": db}, alerts={"urls": [url]})
store = Store.open(settings.storage.path)
event = AlertEvent(EventType.FIRING, "notion.auth", "", severity=Status.CRITICAL,
                   kind="notion.auth", playbook="daily", at=1.0, since=1.0,
                   summary="token invalid", id=1)
enqueue(store, settings, [event], Origin("ops-1"), 1.0)
print(json.dumps({
    "delivered": retry_outbox(settings, store, 1.0),
    "labels": [d.label for d in destinations(settings)],
    "test": [error for _, error in send_test(settings)],
    "apprise_imported": "apprise" in sys.modules,
}))
"""


def test_delivery_never_imports_apprise_in_the_calling_process(tmp_path):
    with running_webhook() as hook:
        done = subprocess.run(
            [sys.executable, "-c", _DELIVER_AND_REPORT, hook.url, str(tmp_path / "opsd.db")],
            capture_output=True, text=True, timeout=60, cwd=REPO,
        )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report == {"delivered": 1, "labels": [f"json://127.0.0.1:{hook.port}/hook"],
                      "test": [None], "apprise_imported": False}
    assert hook.titles() == ["[CRITICAL] notion.auth: token invalid (ops-1)",
                             f"opsd test message ({socket.gethostname()})"]


def test_a_custom_plugin_loads_from_plugin_paths_and_its_prints_stay_off_the_replies(tmp_path):
    received = tmp_path / "received.txt"
    plugin = tmp_path / "recorder.py"
    plugin.write_text(textwrap.dedent(f"""
        from apprise.decorators import notify

        @notify(on="recorder")
        def record(body, title, notify_type, *args, **kwargs):
            print("noise on stdout")
            with open({str(received)!r}, "a") as out:
                out.write(title + "\\n")
            return True
    """))
    settings = Settings(storage={"path": str(tmp_path / "opsd.db")},
                        alerts={"urls": ["recorder://"], "plugin_paths": [str(plugin)]})
    store = Store.open(settings.storage.path)
    assert enqueue(store, settings, [EVENT, EVENT], ORIGIN, NOW) == 1
    assert retry_outbox(settings, store, NOW) == 1
    assert received.read_text() == "[CRITICAL] 2 alerts: notion.auth, notion.auth (ops-1)\n"
    [row] = outbox_rows(store, 0)
    assert (row["url_label"], row["last_error"]) == ("recorder://", None)


def test_a_child_that_dies_fails_the_message_in_one_line_and_the_next_one_gets_a_new_child(
    tmp_path,
):
    plugin = tmp_path / "crash.py"
    plugin.write_text(textwrap.dedent("""
        import os
        from apprise.decorators import notify

        @notify(on="crash")
        def crash(body, title, *args, **kwargs):
            if title == "die":
                os._exit(7)
            return True
    """))
    settings = Settings(alerts={"urls": ["crash://"], "plugin_paths": [str(plugin)]})
    with AppriseWorker(settings.alerts.plugin_paths) as worker:
        [destination] = worker.destinations(settings)
        assert worker.send(destination, Message("die", "b", "info"), 5) == (
            "delivery process exited with code 7"
        )
        assert worker.send(destination, Message("live", "b", "info"), 5) is None


def test_the_daemon_delivers_a_firing_alert_through_the_child(tmp_path, make_config, closed_port):
    playbooks = tmp_path / "playbooks"
    playbooks.mkdir()
    (playbooks / "probe.toml").write_text(
        'name = "probe"\nevery = "1h"\n\n[[checks]]\nkind = "http.endpoint"\n'
    )
    with running_webhook() as hook:
        config = make_config(
            scheduler={"playbooks_dir": str(playbooks)},
            metrics={"port": 0},
            alerts={"urls": [hook.url]},
            endpoints=[{"name": "down", "url": f"http://127.0.0.1:{closed_port}/health",
                        "timeout": "1s"}],
        )
        daemon = Daemon(config, {})
        try:
            wait_until(hook.titles, what="the alert at the webhook")
            assert hook.titles()[0].startswith("[CRITICAL] http.endpoint/down:")
            assert daemon.proc.poll() is None
            # A clean stop: the delivery pass ends and its child exits with it (a kill -9 now
            # could catch the child writing its reply to the dead daemon: a broken pipe).
            daemon.signal(signal.SIGTERM)
            assert daemon.wait_exit() == 0
        finally:
            daemon.kill()
    assert "Traceback" not in daemon.log()


def test_the_demo_config_names_its_console_plugin(tmp_path):
    from opsd.cli.demo import demo_config

    config = demo_config(tmp_path, "http://127.0.0.1:1", 9999)
    plugin = tmp_path / "opsd_console.py"
    assert f'plugin_paths = ["{plugin}"]' in config.read_text()
    assert '@notify(on="opsdconsole"' in plugin.read_text()
