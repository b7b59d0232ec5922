"""The delivery child dies with its parent, and a send whose outcome is unknown goes out once
more, marked, never blindly.

Real processes, really killed: a small parent script with an `AppriseWorker`, the daemon, and
delivery children that die at the worst moments (mid-send, before parsing the URLs).
The webhook holds the request it receives (recorded, unanswered) so that every kill lands
mid-send, deterministically: the receiver has the message, its sender never hears so. Every
wait is for an event (a held request, a process gone, a row delivered, a log line) with a
deadline that only bounds a hang.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import httpx
import pytest

from opsd import processes
from tests.conftest import REPO
from tests.test_daemon import HANG, Daemon, setup, wait_until  # noqa: F401 (setup: a fixture)

pytestmark = pytest.mark.slow

UNKNOWN = "notification outcome unknown"
# Apprise gives up on an answer after 4 s by default (`rto`), and the daemon's sends after
# `alerts.timeout`: a held request would end in a timeout, and the child by itself. Here only
# a kill ends it (or the webhook's own limit, long after any deadline of these tests).
PATIENT = "?rto=300"
# A check that fails on any machine: a disk is more than a millionth full.
FULL_DISK = ('name = "disk"\nevery = "1h"\n\n[[checks]]\nname = "disk"\n'
             'kind = "maintenance.disk"\nwarn = 0.000001\ncrit = 0.000002\n')


# --- processes, as /proc shows them ---------------------------------------------------------


def _stat_fields(pid: int) -> list[str] | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rpartition(")")[2].split()


def delivery_children(pid: int) -> list[int]:
    """The delivery child processes (`python -m opsd.alerting.deliver`) of process `pid`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        fields = _stat_fields(int(entry.name))
        if fields is None or fields[1] != str(pid) or fields[0] == "Z":
            continue
        with contextlib.suppress(OSError):
            if b"opsd.alerting.deliver" in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
    return found


def running(pid: int) -> bool:
    """Whether `pid` still runs (a zombie has exited: whoever adopted it may not reap it)."""
    return processes.start_time(pid) is not None


def hold_log_free_of_tracebacks(*logs: str) -> None:
    for log in logs:
        assert "Traceback" not in log and "BrokenPipeError" not in log, log


# --- the child and a parent that is killed --------------------------------------------------

# Runs as the parent: parses the webhook URL (which starts the child), queues two messages
# (a batch), and waits for the first one's answer, which the webhook holds.
_PARENT = textwrap.dedent("""
    import json, sys
    from opsd.alerting.messages import Message
    from opsd.alerting.notify import AppriseWorker
    from opsd.config import Settings

    settings = Settings(alerts={"urls": [sys.argv[1]]})
    worker = AppriseWorker()
    [destination] = worker.destinations(settings)
    # The second message of the batch, queued behind the first on the child's stdin (what a
    # child that outlived its parent would go on to send).
    second = {"send": destination.url, "title": "second", "body": "b", "notify_type": "info",
              "timeout": 60, "headers": {}}
    worker._proc.stdin.write(json.dumps(second).encode() + b"\\n")
    worker.send(destination, Message("first", "b", "info"), 60)
""")


def test_a_parent_killed_mid_send_takes_its_delivery_child_with_it(webhook):
    webhook.hold()
    parent = subprocess.Popen([sys.executable, "-c", _PARENT, webhook.url + PATIENT], cwd=REPO,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        assert webhook.held.wait(HANG), "the first message never reached the webhook"
        [child] = delivery_children(parent.pid)
        parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=HANG)
        wait_until(lambda: not running(child), what="the delivery child to die with its parent")
        # The only process that could send more is gone: what arrived is all there will be.
        webhook.release()
        assert webhook.titles() == ["second"]  # queued first on the child's stdin
    finally:
        parent.kill()
        parent.wait(timeout=HANG)
        assert parent.stderr is not None
        errors = parent.stderr.read().decode()
        parent.stderr.close()
    hold_log_free_of_tracebacks(errors)


def test_a_child_whose_parent_stopped_reading_exits_quietly():
    child = subprocess.Popen(
        [sys.executable, "-m", "opsd.alerting.deliver", "--parent", str(os.getpid())],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO,
    )
    assert child.stdin is not None and child.stdout is not None and child.stderr is not None
    child.stdout.close()  # the reader is gone before the reply: writing it breaks the pipe
    child.stdin.write(json.dumps({"parse": ["json://127.0.0.1:9/hook"]}).encode() + b"\n")
    child.stdin.flush()
    assert child.wait(timeout=HANG) == 0
    assert child.stderr.read() == b""
    child.stdin.close()
    child.stderr.close()


def test_a_child_started_for_a_parent_that_is_gone_sends_nothing(webhook):
    # Its parent (as it was told) is not the process that started it: it never reads a line.
    child = subprocess.Popen(
        [sys.executable, "-m", "opsd.alerting.deliver", "--parent", str(os.getpid() + 1)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO,
    )
    request = {"send": webhook.url, "title": "orphaned", "body": "b", "notify_type": "info",
               "timeout": 10, "headers": {}}
    out, err = child.communicate(json.dumps(request).encode() + b"\n", timeout=HANG)
    assert (child.returncode, out, err) == (0, b"", b"")
    assert webhook.received == []


# --- the daemon -----------------------------------------------------------------------------


def start_daemon(setup, tmp_path: Path, url: str) -> Daemon:  # noqa: F811
    """`opsd run` with an always-failing check and `url` as its one alert URL; retries due
    every second, a send may take 300 s."""
    playbooks = tmp_path / "disk-playbooks"
    playbooks.mkdir(exist_ok=True)
    (playbooks / "disk.toml").write_text(FULL_DISK)
    daemon, _notify = setup(
        scheduler={"playbooks_dir": str(playbooks), "alerts_interval": "1s"},
        alerts={"urls": [url], "retry_max_interval": "1s", "timeout": "300s"},
    )
    return daemon


def delivered(db: Path, message_id: str) -> bool:
    with contextlib.closing(sqlite3.connect(db)) as conn:
        row = conn.execute("SELECT delivered_at FROM outbox WHERE id = ?",
                           (int(message_id),)).fetchone()
    return row is not None and row[0] is not None


def arrivals(webhook) -> list[tuple[str, str | None, str]]:
    """(message id header, resent header, body) of every request the webhook received."""
    return [(h.get("X-Opsd-Message-Id", ""), h.get("X-Opsd-Resent"), m["message"])
            for h, m in zip(webhook.headers, webhook.received, strict=True)]


def assert_resent_once_marked(webhook, message_id: str) -> None:
    """Message `message_id` arrived twice: plain, then once marked as a possible repeat; and
    no message id arrived twice unmarked."""
    seen = arrivals(webhook)
    mine = [(resent, body) for got, resent, body in seen if got == message_id]
    assert [resent for resent, _ in mine] == [None, "uncertain"], seen
    assert mine[0][1].endswith(f"opsd message id {message_id}")
    assert mine[1][1].endswith(
        f"opsd message id {message_id} (resent: the first attempt's outcome is unknown; "
        f"drop it if you already have message {message_id})")
    unmarked = [got for got, resent, _ in seen if resent is None]
    assert len(unmarked) == len(set(unmarked)), seen


def uncertain_total(daemon) -> float:
    body = httpx.get(f"{daemon.metrics_url()}/metrics", timeout=HANG).text
    [line] = [x for x in body.splitlines() if x.startswith("opsd_notifications_uncertain_total")]
    return float(line.split()[-1])


def test_a_daemon_killed_mid_send_resends_once_marked_after_restart(
    setup, tmp_path, webhook  # noqa: F811
):
    db = tmp_path / "opsd.db"
    webhook.hold()
    first = start_daemon(setup, tmp_path, webhook.url + PATIENT)
    assert webhook.held.wait(HANG), first.log()
    [message_id] = [h["X-Opsd-Message-Id"] for h in webhook.headers]
    children = delivery_children(first.proc.pid)
    assert children, "no delivery child while the daemon sends"

    first.proc.send_signal(signal.SIGKILL)
    first.proc.wait(timeout=HANG)
    for child in children:
        wait_until(lambda child=child: not running(child),
                   what="the delivery child to die with the daemon")
    webhook.release()
    assert not delivered(db, message_id)

    # At once: its claim (for alerts.timeout + 60 s) named a process that is gone.
    second = start_daemon(setup, tmp_path, webhook.url + PATIENT)
    wait_until(lambda: delivered(db, message_id), what="the uncertain row delivered")
    assert uncertain_total(second) == 1.0

    assert_resent_once_marked(webhook, message_id)
    assert [line for line in second.log().splitlines() if UNKNOWN in line] == [
        line for line in second.log().splitlines()
        if UNKNOWN in line and f"id={message_id}" in line and "sender=" in line
    ]
    assert sum(UNKNOWN in line for line in second.log().splitlines()) == 1
    hold_log_free_of_tracebacks(first.log(), second.log())


def test_a_delivery_child_killed_mid_send_is_one_line_and_the_row_goes_out_again(
    setup, tmp_path, webhook  # noqa: F811
):
    db = tmp_path / "opsd.db"
    webhook.hold()
    daemon = start_daemon(setup, tmp_path, webhook.url + PATIENT)
    assert webhook.held.wait(HANG), daemon.log()
    [message_id] = [h["X-Opsd-Message-Id"] for h in webhook.headers]
    [child] = delivery_children(daemon.proc.pid)

    os.kill(child, signal.SIGKILL)
    daemon.wait_log(UNKNOWN)
    webhook.release()
    wait_until(lambda: delivered(db, message_id), what="the row sent again and delivered")
    assert uncertain_total(daemon) == 1.0
    assert daemon.proc.poll() is None  # it keeps running

    assert_resent_once_marked(webhook, message_id)
    [line] = [line for line in daemon.log().splitlines() if UNKNOWN in line]
    assert "the delivery process died mid-send" in line and "code -9" in line
    hold_log_free_of_tracebacks(daemon.log())


def test_a_delivery_child_dying_before_it_parsed_the_urls_is_one_line_and_claims_nothing(
    tmp_path, caplog
):
    from opsd.alerting.notify import drain
    from opsd.config import Settings
    from opsd.store import Store, outbox

    crash = tmp_path / "crash.py"
    crash.write_text("import os\nos._exit(9)\n")  # as if killed while loading its plugins
    settings = Settings(storage={"path": str(tmp_path / "opsd.db")},
                        alerts={"urls": ["json://127.0.0.1:9/hook"], "plugin_paths": [str(crash)]})
    store = Store.open(settings.storage.path)
    outbox.enqueue(store, [outbox.OutboxRow("key", "json://127.0.0.1:9/hook", "failure", "t",
                                            "b")], 1.0)
    caplog.set_level("INFO", logger="opsd.alerting.notify")
    assert drain(settings, store, 2.0).delivered == 0
    [record] = caplog.records
    assert record.getMessage() == "notifications not sent: alert URLs not parsed"
    assert not record.exc_info
    assert record.fields == {"error": "delivery process exited with code 9"}
    [row] = outbox.outbox_rows(store, 0)
    assert row["attempts"] == 0
    claimed = outbox.claim_next(store, 2.0, 90.0, set(), "other:1")  # free at once
    assert claimed is not None and claimed["id"] == row["id"]
    store.close()
