"""Uncertain sends, in units: which claimer is alive (pid and start time, read from a `/proc`
laid out in tmp_path), claims of live and dead processes, the marks of a resend (footer,
headers, as a webhook URL carries them), and the delivery child that ends when its parent is
not the one that started it. The whole story, with real processes killed, is in
tests/faults/test_fault_delivery_child.py."""

from __future__ import annotations

import io
import json
import logging
import os
from pathlib import Path

import pytest

from opsd import processes
from opsd.alerting import deliver, parent_death, uncertain
from opsd.store import Store, outbox
from opsd.store.outbox import OutboxRow, outbox_rows

NOW = 1_737_702_000.0
LEASE = 90.0
ROW = OutboxRow("key", "json://127.0.0.1/hook", "failure", "[CRITICAL] x", "body", (1,))


def fake_proc(tmp_path: Path, pid: int, started: str, state: str = "S") -> Path:
    """A /proc with one process: `pid`, in `state`, started at `started` (clock ticks)."""
    proc = tmp_path / "proc"
    (proc / str(pid)).mkdir(parents=True)
    fields = [state, "1", "1", "1", "0", "-1", "4194304"] + ["0"] * 12 + [started, "1000"]
    (proc / str(pid) / "stat").write_text(f"{pid} (py thon) {' '.join(fields)}\n")
    return proc


# --- who is alive ---------------------------------------------------------------------------


def test_a_claimer_whose_pid_is_not_running_is_dead(tmp_path):
    proc = fake_proc(tmp_path, 4242, "777")
    assert processes.is_alive("4242:777", proc)
    assert not processes.is_alive("4243:777", proc)


def test_a_reused_pid_with_another_start_time_is_another_process(tmp_path):
    proc = fake_proc(tmp_path, 4242, "900")
    assert processes.identity(4242, proc) == "4242:900"
    assert not processes.is_alive("4242:777", proc)


def test_a_zombie_counts_as_gone(tmp_path):
    proc = fake_proc(tmp_path, 4242, "777", state="Z")
    assert processes.start_time(4242, proc) is None
    assert not processes.is_alive("4242:777", proc)


def test_this_process_is_alive_and_a_name_nobody_can_judge_is_left_to_its_lease():
    assert processes.is_alive(processes.identity())
    assert processes.identity().startswith(f"{os.getpid()}:")
    assert processes.is_alive("not a claimer")


# --- claims ---------------------------------------------------------------------------------


def queued() -> tuple[Store, int]:
    store = Store.memory()
    outbox.enqueue(store, [ROW], NOW)
    [row] = outbox_rows(store, 0)
    return store, row["id"]


def test_a_live_claimer_keeps_its_row_until_its_lease_ends():
    store, row_id = queued()
    claimed = outbox.claim_next(store, NOW, LEASE, set(), "100:1", lambda name: True)
    assert claimed is not None and claimed["id"] == row_id and not claimed["taken_over"]
    assert outbox.claim_next(store, NOW + 1, LEASE, set(), "200:1", lambda name: True) is None
    later = outbox.claim_next(store, NOW + LEASE, LEASE, set(), "200:1", lambda name: True)
    assert later is not None and later["id"] == row_id


def test_a_dead_claimer_s_row_is_claimable_at_once_and_plain_if_nothing_was_sent():
    store, row_id = queued()
    outbox.claim_next(store, NOW, LEASE, set(), "100:1", lambda name: True)
    asked: list[str] = []

    def alive(name: str) -> bool:
        asked.append(name)
        return False

    taken = outbox.claim_next(store, NOW + 1, LEASE, set(), "200:1", alive)
    assert asked == ["100:1"]
    assert taken is not None and taken["id"] == row_id
    assert (taken["taken_over"], taken["uncertain"], taken["claimed_by"]) == (False, 0, "200:1")


def test_a_dead_claimer_s_row_that_was_being_sent_is_uncertain_once():
    store, row_id = queued()
    outbox.claim_next(store, NOW, LEASE, set(), "100:1", lambda name: True)
    outbox.begin_send(store, row_id, NOW)
    taken = outbox.claim_next(store, NOW + 5, LEASE, set(), "200:1", lambda name: False)
    assert taken is not None
    assert (taken["taken_over"], taken["uncertain"], taken["taken_from"]) == (True, 1, "100:1")
    # Its new claimer died too, before it sent anything: still uncertain, not counted again.
    again = outbox.claim_next(store, NOW + 6, LEASE, set(), "300:1", lambda name: False)
    assert again is not None and (again["taken_over"], again["uncertain"]) == (False, 1)
    outbox.mark_delivered(store, row_id, NOW + 6)
    [row] = outbox_rows(store, 0)
    assert (row["uncertain"], row["delivered_at"]) == (1, NOW + 6)


def test_an_outcome_lost_by_a_dying_child_marks_the_failed_row_uncertain():
    store, row_id = queued()
    outbox.claim_next(store, NOW, LEASE, set(), "100:1", lambda name: True)
    outbox.begin_send(store, row_id, NOW)
    outbox.mark_failed(store, row_id, attempts=1, error="delivery process exited with code -9",
                       next_attempt_at=NOW + 30, uncertain_at=NOW)
    assert outbox.claim_next(store, NOW + 29, LEASE, set(), "100:1") is None  # backoff
    retried = outbox.claim_next(store, NOW + 30, LEASE, set(), "100:1")
    assert retried is not None
    assert (retried["uncertain"], retried["taken_over"], retried["attempts"]) == (1, False, 1)


def test_a_plain_failure_is_not_uncertain():
    store, row_id = queued()
    outbox.claim_next(store, NOW, LEASE, set(), "100:1")
    outbox.begin_send(store, row_id, NOW)
    outbox.mark_failed(store, row_id, attempts=1, error="FAILURE: connection refused",
                       next_attempt_at=NOW + 30)
    retried = outbox.claim_next(store, NOW + 30, LEASE, set(), "100:1")
    assert retried is not None and retried["uncertain"] == 0


# --- the marks of a resend ------------------------------------------------------------------


def test_the_footer_and_headers_of_a_first_send_and_of_a_resend():
    assert uncertain.footer(7, resent=False) == "opsd message id 7"
    assert uncertain.footer(7, resent=True) == (
        "opsd message id 7 (resent: the first attempt's outcome is unknown; drop it if you "
        "already have message 7)"
    )
    assert uncertain.headers(7, resent=False) == (("X-Opsd-Message-Id", "7"),)
    assert uncertain.headers(7, resent=True) == (
        ("X-Opsd-Message-Id", "7"), ("X-Opsd-Resent", "uncertain"),
    )


@pytest.mark.parametrize(("url", "expected"), [
    ("json://127.0.0.1:9/hook", "json://127.0.0.1:9/hook?+X-Opsd-Message-Id=7"
                                "&+X-Opsd-Resent=uncertain"),
    ("jsons://u:p@h/x?method=PUT", "jsons://u:p@h/x?method=PUT&+X-Opsd-Message-Id=7"
                                   "&+X-Opsd-Resent=uncertain"),
    ("form://h/?", "form://h/?+X-Opsd-Message-Id=7&+X-Opsd-Resent=uncertain"),
    ("XML://h", "XML://h?+X-Opsd-Message-Id=7&+X-Opsd-Resent=uncertain"),
    ("mailto://h?to=a@example.com", "mailto://h?to=a@example.com"),  # no custom headers
])
def test_headers_ride_on_the_urls_that_take_them(url, expected):
    # That Apprise sends them as headers: tests/faults/test_fault_delivery_child.py.
    assert deliver.with_headers(url, dict(uncertain.headers(7, resent=True))) == expected


# --- the child and its parent ---------------------------------------------------------------


def test_the_parent_s_pid_comes_first_on_the_child_s_command_line():
    assert deliver.parse_arguments(["--parent", "12", "/p/a.py"]) == (12, ["/p/a.py"])
    assert deliver.parse_arguments(["/p/a.py"]) == (None, ["/p/a.py"])


def test_the_child_exits_at_once_when_its_parent_pid_differs(monkeypatch):
    # Not the real prctl: it would tie this test process to its own parent.
    monkeypatch.setattr(parent_death, "die_with_parent", lambda: True)
    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps({"parse": ["json://h/x"]}) + "\n"))
    read = io.StringIO()
    monkeypatch.setattr(deliver, "answer", lambda request: read.write("answered") and {})
    assert deliver.main(["--parent", str(os.getppid() + 1)]) == 0
    assert read.getvalue() == ""  # it never got to the request


class _Stream(io.StringIO):
    def fileno(self) -> int:
        return 99  # never used: os.dup and os.dup2 are stand-ins here


def test_the_child_checks_its_parent_again_before_each_send(monkeypatch):
    monkeypatch.setattr(parent_death, "die_with_parent", lambda: True)
    parent = os.getppid()
    requests = [{"parse": []}, {"send": "json://h/x", "title": "t", "body": "b",
                                "notify_type": "info", "timeout": 1}]
    monkeypatch.setattr("sys.stdin", io.StringIO("".join(json.dumps(r) + "\n" for r in requests)))
    answered: list[dict] = []

    def answer(request: dict) -> dict:
        answered.append(request)
        # The parent dies after the first request: the next send must not go out.
        monkeypatch.setattr(parent_death.os, "getppid", lambda: 1)
        return {"destinations": []}

    monkeypatch.setattr(deliver, "answer", answer)
    # Its stdout and logging stay this process's own.
    monkeypatch.setattr(deliver.os, "dup", lambda fd: fd)
    monkeypatch.setattr(deliver.os, "fdopen", lambda fd, mode: io.StringIO())
    monkeypatch.setattr(deliver.os, "dup2", lambda fd, fd2: None)
    monkeypatch.setattr("sys.stdout", _Stream())
    monkeypatch.setattr("sys.stderr", _Stream())
    monkeypatch.setattr(logging.root, "handlers", list(logging.root.handlers))
    assert deliver.main(["--parent", str(parent)]) == 0
    assert answered == [{"parse": []}]
    assert parent_death.orphaned(parent) and not parent_death.orphaned(None)


# --- what the CLI shows ---------------------------------------------------------------------


def test_opsd_alerts_views_show_an_uncertain_row_as_uncertain():
    from opsd.alerting.engine import AlertEvent, EventType
    from opsd.cli.alerts import _deliveries, _delivery_text
    from opsd.results import Status

    store, row_id = queued()
    outbox.claim_next(store, NOW, LEASE, set(), "100:1", lambda name: True)
    outbox.begin_send(store, row_id, NOW)
    outbox.claim_next(store, NOW + 1, LEASE, set(), "200:1", lambda name: False)
    [delivery] = _deliveries(outbox_rows(store, 0))[1]
    assert (delivery["status"], delivery["uncertain"]) == ("uncertain", True)
    fired = AlertEvent(EventType.FIRING, "x", "", severity=Status.CRITICAL, kind="x",
                       playbook="p", at=NOW, since=NOW, summary="down", id=1)
    assert _delivery_text(fired, [delivery]) == "0/1 delivered, 1 uncertain"

    outbox.mark_delivered(store, row_id, NOW + 2)
    [delivery] = _deliveries(outbox_rows(store, 0))[1]
    assert (delivery["status"], delivery["uncertain"]) == ("delivered", True)
    assert _delivery_text(fired, [delivery]) == "1/1 delivered, 1 uncertain"
