"""bench/faults.py, the kill -9 campaign: its counting (fast, on hand-made inputs) and one short
run against the real daemon (slow)."""

from __future__ import annotations

import contextlib
import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from bench.faults import Received, deliveries, events_compared, message_identity
from opsd.alerting.observer import apply_results
from opsd.config import load_settings
from opsd.playbooks import load_playbooks
from opsd.results import Result, Status
from opsd.store import Store
from opsd.store.runs import record_run
from tests.conftest import REPO

T0 = 1_790_000_000.0


def message(text: str, **headers: str) -> Received:
    body = json.dumps({"title": "t", "message": text, "type": "failure"}).encode()
    return Received({k.lower().replace("_", "-"): v for k, v in headers.items()}, body)


def test_a_message_is_known_by_its_header_or_its_footer_and_a_resend_by_its_marker():
    assert message_identity(message("down\n\nopsd message id 7")) == ("7", False)
    assert message_identity(message("down", X_Opsd_Message_Id="9")) == ("9", False)
    assert message_identity(
        message("down\n\nopsd message id 9", X_Opsd_Message_Id="9", X_Opsd_Resent="uncertain")
    ) == ("9", True)
    resent = "opsd message id 4 (resent: the first attempt's outcome is unknown; drop it)"
    assert message_identity(message(f"down\n\n{resent}")) == ("4", True)
    assert message_identity(message("no footer at all")) == (None, False)


def test_unmarked_copies_are_duplicates_and_marked_ones_uncertain_resends():
    received = [
        message("a\n\nopsd message id 1"), message("a\n\nopsd message id 1"),
        message("b\n\nopsd message id 2"),
        message("b\n\nopsd message id 2", X_Opsd_Resent="uncertain"),
        message("c\n\nopsd message id 3"),
        message("nothing to know it by"),
    ]
    with contextlib.closing(sqlite3.connect(":memory:")) as conn:
        conn.execute("CREATE TABLE outbox (id INTEGER PRIMARY KEY, delivered_at REAL)")
        conn.executemany("INSERT INTO outbox VALUES (?, ?)",
                         [(1, T0), (2, T0), (3, T0), (4, T0), (5, None)])
        counted = deliveries(received, conn)
    assert counted == {"duplicates": 1, "uncertain_resends": 1, "unidentified_messages": 1,
                       "delivered_not_received": 1}


@pytest.fixture
def flip_config(tmp_path: Path) -> Path:
    playbooks = tmp_path / "playbooks"
    playbooks.mkdir()
    (playbooks / "flip.toml").write_text(
        'name = "flip"\nevery = "1s"\n\n[[checks]]\nname = "flip"\nkind = "http.endpoint"\n'
    )
    config = tmp_path / "opsd.toml"
    config.write_text(f'[storage]\npath = "{tmp_path / "opsd.db"}"\n\n'
                      f'[scheduler]\nplaybooks_dir = "{playbooks}"\n\n'
                      # As in the bench: an alert that flips every run is not held as flapping.
                      '[alerts.flapping]\nenabled = false\n')
    return config


@pytest.mark.parametrize(("unseen", "missing"), [((), 0), ((2,), 2)])
def test_the_replay_finds_the_events_of_a_run_the_engine_never_saw(flip_config, unseen, missing):
    """Four runs, CRITICAL/OK twice: FIRING and RESOLVED twice. A run recorded but never fed to
    the engine (a kill between the two transactions) loses the second pair."""
    settings = load_settings(flip_config, env={})
    playbook = load_playbooks(settings).get("flip")
    specs = {spec.name: spec for spec in playbook.checks}
    store = Store.open(settings.storage.path)
    for n, status in enumerate([Status.CRITICAL, Status.OK, Status.CRITICAL, Status.OK]):
        results = [Result(status, status.value, check="flip", kind="http.endpoint",
                          target="svc", started_at=T0 + n, duration=0.01)]
        record_run(store, "flip", results, started_at=T0 + n, finished_at=T0 + n + 0.5)
        if n not in unseen:
            apply_results(settings, store, results, now=T0 + n + 0.5, specs=specs,
                          playbook="flip")
    store.close()

    with contextlib.closing(sqlite3.connect(settings.storage.path)) as conn:
        compared = events_compared(flip_config, conn)
    assert (compared["events_expected"], compared["events_missing"],
            compared["events_extra"]) == (4, missing, 0)
    assert compared["missing_by_type"] == ({"FIRING": 1, "RESOLVED": 1} if missing else {})


GOALS = {"integrity", "runs_lost", "events_missing", "duplicates", "outbox_never_delivered",
         "tracebacks"}
TOTALS = {"daemon_kills", "child_kills", "daemon_starts", "runs_logged", "runs_recorded",
          "events_recorded", "outbox_rows", "messages_received", "wall_seconds"}


@pytest.mark.slow
def test_a_short_campaign_against_the_real_daemon_prints_every_figure():
    done = subprocess.run(
        [sys.executable, "bench/faults.py", "--daemon-kills", "3", "--child-kills", "1",
         # Seed 4 draws short lives; a send held up (a killed daemon's claim) is not waited for.
         "--send-wait", "8", "--settle", "1", "--max-settle", "3", "--seed", "4", "--json"],
        cwd=REPO, capture_output=True, text=True, timeout=600,
    )
    # 1: a goal missed (today's daemon misses some); 2 would be a campaign that could not run.
    assert done.returncode in (0, 1), done.stderr
    found = json.loads(done.stdout)
    assert GOALS | {"totals", "exit_codes", "uncertain_resends", "events_extra"} <= set(found)
    assert all(isinstance(found[name], int) for name in GOALS)
    assert set(found["totals"]) == TOTALS
    assert found["integrity"] == 0
    totals = found["totals"]
    assert (totals["daemon_kills"], totals["daemon_starts"]) == (3, 5)
    assert totals["runs_recorded"] > 0 and totals["events_recorded"] > 0
    assert len(found["exit_codes"]) == 2
