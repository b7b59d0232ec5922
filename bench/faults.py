"""Fault campaign: kill -9 the daemon and its delivery child, then count what broke.

    python bench/faults.py [--daemon-kills 100] [--child-kills 20] [--seed N] [--json] [--keep]
                            [--send-wait 120] [--settle 10] [--max-settle 90]

Sets up a temporary directory with its own config: the database in it, the listener on port
0, one playbook running every second an `http.endpoint` check against a 127.0.0.1 server of
this script whose answer alternates between 500 and 200 every few seconds, thresholds of 1,
reminders every 2 s, and `alerts.urls` pointing at a webhook receiver of this script that
records every POST and answers 200 after a short delay (so a delivery child can be killed
mid-send). Then:

1. `--daemon-kills` times: start `opsd run`, let it run a random 0.5-4 s (seeded), kill -9
   it, and run `PRAGMA integrity_check` on the database;
2. start it once more and `--child-kills` times kill -9 its delivery child
   (`opsd.alerting.deliver`) while a message is in flight; then SIGTERM (exit code 0 wanted);
3. with the endpoint steady at 200, start it a last time until the outbox has settled (at
   least `--settle` seconds), then SIGTERM.

It prints, each with its goal of 0: integrity failures; runs lost (logged as finished, not in
`runs`); alert events missing against a replay of the stored results through the state
machine on an in-memory store; duplicate deliveries (a message id received twice without the
"resent" marker); outbox rows never delivered; tracebacks in the daemon's logs. Exits 1 when a
goal is missed, 2 when the campaign itself could not run. Runs on 127.0.0.1 only, needs no root;
every process it started is killed at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import http.server
import json
import os
import random
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

HANG = 60.0  # bounds a wait for something a healthy daemon does in well under a second
PHASE_SECONDS = 3.0  # the endpoint answers 500, then 200, for this long each
RECEIVER_DELAY = 0.1  # the webhook answers after this long: a send stays in flight
GOALS = ("integrity", "runs_lost", "events_missing", "duplicates", "outbox_never_delivered",
         "tracebacks")
PLAYBOOK = 'name = "flip"\nevery = "1s"\n\n[[checks]]\nname = "flip"\nkind = "http.endpoint"\n' \
           'warn = 5\ncrit = 10\n'
MESSAGE_ID = re.compile(r"opsd message id (\d+)([^\n]*)")
DELIVER_MODULE = "opsd.alerting.deliver"


# --- the bench's servers: a flipping endpoint and a webhook receiver -------------------------


@dataclasses.dataclass(frozen=True)
class Received:
    """One POST at the webhook receiver."""

    headers: dict[str, str]
    body: bytes


class Bench(http.server.ThreadingHTTPServer):
    """GET /: 500 or 200 by phase (or 200 once `steady`); POST /hook: recorded, 200 later."""

    daemon_threads = True

    def __init__(self, delay: float) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.delay = delay
        self.started = time.monotonic()
        self.steady = False
        self.received: list[Received] = []
        self.inflight = 0
        self.dropped = 0  # replies the sender did not wait for (killed mid-send)
        self.lock = threading.Lock()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def status(self) -> int:
        if self.steady:
            return 200
        phase = int((time.monotonic() - self.started) / PHASE_SECONDS)
        return 500 if phase % 2 == 0 else 200

    @contextlib.contextmanager
    def receiving(self, message: Received) -> Iterator[None]:
        with self.lock:
            self.received.append(message)
            self.inflight += 1
        try:
            yield
        finally:
            with self.lock:
                self.inflight -= 1

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A killed sender resets the connection before its reply: counted, not printed.
        if isinstance(sys.exc_info()[1], ConnectionError):
            with self.lock:
                self.dropped += 1
            return
        super().handle_error(request, client_address)


class _Handler(http.server.BaseHTTPRequestHandler):
    server: Bench

    def do_GET(self) -> None:
        status = self.server.status()
        self._reply(status, b"ok\n" if status == 200 else b"down\n")

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        headers = {k.lower(): v for k, v in self.headers.items()}
        with self.server.receiving(Received(headers, body)):
            time.sleep(self.server.delay)
            self._reply(200, b"ok\n")

    def _reply(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        return


# --- processes ---------------------------------------------------------------------------------


def children(pid: int) -> list[int]:
    """The child pids of `pid` (all its threads'), from /proc."""
    found: list[int] = []
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(OSError):
                found += [int(p) for p in (task / "children").read_text().split()]
    return found


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(
            errors="replace")
    except OSError:
        return ""


def group_members(pgid: int) -> list[int]:
    """Live (not zombie) opsd processes in process group `pgid`: a killed daemon's children."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid and fields[0] not in "ZX" and "opsd" in cmdline(int(entry.name)):
            members.append(int(entry.name))
    return members


def delivery_child(pid: int) -> int | None:
    return next((c for c in children(pid) if DELIVER_MODULE in cmdline(c)), None)


def wait_for(predicate: Callable[[], object], what: str, timeout: float = HANG) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.02)


@dataclasses.dataclass
class Life:
    """One daemon process: its log, and when it ran (wall clock, as the runs table has it)."""

    proc: subprocess.Popen[bytes]
    log: Path
    started_at: float
    ended_at: float | None = None

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_started(self) -> None:
        def started() -> bool:
            if self.proc.poll() is not None:
                raise RuntimeError(f"opsd exited with {self.proc.returncode} before starting:"
                                   f" {self.log_text()[-500:]}")
            return "msg=started" in self.log_text()

        wait_for(started, "the daemon's started line")

    def end(self, signum: int) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signum)
        code = self.proc.wait(timeout=HANG)
        self.ended_at = time.time()
        return code


class Campaign:
    """The temp directory, the servers, the daemons started and what was counted."""

    def __init__(self, root: Path, bench: Bench, seed: int) -> None:
        self.root = root
        self.bench = bench
        self.rng = random.Random(seed)
        self.lives: list[Life] = []
        self.counts: Counter[str] = Counter()
        self.exit_codes: list[int] = []
        self.config = self._write_config()

    @property
    def db(self) -> Path:
        return self.root / "opsd.db"

    def _write_config(self) -> Path:
        playbooks = self.root / "playbooks"
        playbooks.mkdir()
        (playbooks / "flip.toml").write_text(PLAYBOOK)
        config = self.root / "opsd.toml"
        config.write_text(
            f'[storage]\npath = "{self.db}"\n\n[metrics]\nport = 0\n\n'
            f'[scheduler]\nplaybooks_dir = "{playbooks}"\nalerts_interval = "5s"\n'
            'shutdown_timeout = "10s"\n\n'
            f'[alerts]\nurls = ["json://127.0.0.1:{self.bench.server_address[1]}/hook"]\n'
            'failure_threshold = 1\nsuccess_threshold = 1\nrepeat_interval = "2s"\n'
            'timeout = "2s"\nretry_max_interval = "2s"\n\n'
            '[alerts.flapping]\nenabled = false\n\n'
            f'[[endpoints]]\nname = "svc"\nurl = "{self.bench.base}/"\ntimeout = "2s"\n'
        )
        return config

    def start(self) -> Life:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("OPSD_", "NOTIFY_", "WATCHDOG_", "NOTION_"))
               and k not in ("CREDENTIALS_DIRECTORY", "CACHE_DIRECTORY")}
        log = self.root / "logs" / f"daemon-{len(self.lives):03d}.log"
        log.parent.mkdir(exist_ok=True)
        with log.open("wb") as out:
            # Its own process group, so a delivery child it leaves behind can be found.
            proc = subprocess.Popen(
                [sys.executable, "-m", "opsd", "--config", str(self.config), "run"],
                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                cwd=self.root, start_new_session=True,
            )
        life = Life(proc, log, time.time())
        self.lives.append(life)
        life.wait_started()
        return life

    def kill_daemon(self, life: Life) -> None:
        life.end(signal.SIGKILL)
        self.counts["daemon_kills"] += 1
        time.sleep(0.1)  # a child killed with its parent needs a moment to go
        self.counts["orphaned_children"] += len(group_members(life.proc.pid))

    def kill_child_mid_send(self, life: Life, wait: float) -> bool:
        """Kill -9 the delivery child while a POST is in flight; False if none came within
        `wait` seconds (a claim left by a killed daemon holds its URL's queue for
        `alerts.timeout` + 60 s)."""
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if life.proc.poll() is not None:
                raise RuntimeError(f"opsd exited with {life.proc.returncode} during phase 2")
            child = delivery_child(life.proc.pid) if self.bench.inflight else None
            if child is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(child, signal.SIGKILL)
                    self.counts["child_kills"] += 1
                    return True
            time.sleep(0.005)
        return False

    def integrity_ok(self) -> bool:
        """`PRAGMA integrity_check` over a read-only connection (it never checkpoints the WAL
        a killed daemon left for the next one to recover)."""
        try:
            with contextlib.closing(sqlite3.connect(f"file:{self.db}?mode=ro", uri=True)) as conn:
                rows = conn.execute("PRAGMA integrity_check").fetchall()
        except sqlite3.Error as exc:
            print(f"integrity_check failed: {exc}", file=sys.stderr)
            return False
        return rows == [("ok",)]

    def pending_outbox(self) -> int:
        with contextlib.closing(sqlite3.connect(f"file:{self.db}?mode=ro", uri=True)) as conn:
            return int(conn.execute(
                "SELECT COUNT(*) FROM outbox WHERE delivered_at IS NULL AND abandoned_at IS NULL"
            ).fetchone()[0])

    def stop_everything(self) -> None:
        for life in self.lives:
            if life.proc.poll() is None:
                life.proc.kill()
                life.proc.wait(timeout=HANG)
            for pid in group_members(life.proc.pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)


# --- the phases --------------------------------------------------------------------------------


def kill_daemons(campaign: Campaign, kills: int) -> None:
    for n in range(kills):
        life = campaign.start()
        time.sleep(campaign.rng.uniform(0.5, 4.0))
        campaign.kill_daemon(life)
        if not campaign.integrity_ok():
            campaign.counts["integrity"] += 1
        if (n + 1) % 10 == 0:
            print(f"  daemon kills: {n + 1}/{kills}", file=sys.stderr)


def kill_children(campaign: Campaign, kills: int, wait: float) -> None:
    life = campaign.start()
    for _ in range(kills):
        if not campaign.kill_child_mid_send(life, wait):
            break
        time.sleep(campaign.rng.uniform(0.5, 2.0))
    campaign.exit_codes.append(life.end(signal.SIGTERM))
    if not campaign.integrity_ok():
        campaign.counts["integrity"] += 1


def settle(campaign: Campaign, least: float, most: float) -> None:
    """A last start with the endpoint steady: replays and resends happen, the outbox drains."""
    campaign.bench.steady = True
    life = campaign.start()
    started = time.monotonic()
    time.sleep(least)
    while time.monotonic() - started < most:
        if campaign.pending_outbox() == 0 and not campaign.bench.inflight:
            break
        time.sleep(0.5)
    campaign.exit_codes.append(life.end(signal.SIGTERM))
    if not campaign.integrity_ok():
        campaign.counts["integrity"] += 1


# --- what the campaign left: figures -----------------------------------------------------------


def runs_lost(campaign: Campaign, conn: sqlite3.Connection) -> tuple[int, int]:
    """(runs logged as finished but not recorded, runs logged), per daemon life."""
    lost = logged = 0
    for life in campaign.lives:
        finished = life.log_text().count('msg="playbook finished"')
        recorded = conn.execute(
            "SELECT COUNT(*) FROM runs WHERE started_at >= ? AND started_at <= ?",
            (life.started_at, life.ended_at or time.time()),
        ).fetchone()[0]
        logged += finished
        lost += max(0, finished - int(recorded))
    return lost, logged


EventKey = tuple[str, str, str, str]


def replayed_events(config: Path, conn: sqlite3.Connection) -> tuple[Counter[EventKey], set[str]]:
    """The events the state machine makes of the stored runs, replayed in order on a fresh
    in-memory store (no delivery); and the checks those runs hold."""
    from opsd.alerting.observer import transition
    from opsd.config import load_settings
    from opsd.playbooks import load_playbooks
    from opsd.store import Store
    from opsd.store.runs import result_from_row

    settings = load_settings(config, env={})
    playbooks = {p.name: p for p in load_playbooks(settings)}
    memory = Store.memory()
    conn.row_factory = sqlite3.Row
    checks: set[str] = set()
    for run in conn.execute("SELECT * FROM runs ORDER BY id").fetchall():
        playbook = playbooks[run["playbook"]]
        rows = conn.execute("SELECT * FROM results WHERE run_id = ? ORDER BY id", (run["id"],))
        results = [result_from_row(dict(row)) for row in rows]
        checks |= {r.check for r in results}
        transition(
            memory, settings=settings, results=results, now=run["finished_at"],
            specs={spec.name: spec for spec in playbook.checks}, playbook=playbook.name,
            targets=[], publish=False,
            run_interval=playbook.run_interval(settings.scheduler.timezone, run["finished_at"]),
        )
    conn.row_factory = None
    return _event_keys(memory.conn, checks), checks


def _event_keys(conn: sqlite3.Connection, checks: set[str]) -> Counter[EventKey]:
    rows = conn.execute("SELECT type, check_name, target, severity FROM alert_events").fetchall()
    return Counter(tuple(row) for row in rows if row[1] in checks)


def events_compared(config: Path, conn: sqlite3.Connection) -> dict[str, Any]:
    """Stored events against the replay, as multisets: missing, extra; reminders apart (the
    daemon's timer also sends them, between runs, which a replay of runs cannot time)."""
    expected, checks = replayed_events(config, conn)
    stored = _event_keys(conn, checks)

    def split(events: Counter[EventKey]) -> tuple[Counter[EventKey], int]:
        reminders = sum(n for key, n in events.items() if key[0] == "REMINDER")
        return Counter({k: n for k, n in events.items() if k[0] != "REMINDER"}), reminders

    expected, expected_reminders = split(expected)
    stored, stored_reminders = split(stored)
    missing, extra = expected - stored, stored - expected
    return {
        "events_missing": sum(missing.values()),
        "events_extra": sum(extra.values()),
        "events_expected": sum(expected.values()),
        "reminders_expected": expected_reminders,
        "reminders_stored": stored_reminders,
        "missing_by_type": dict(Counter(k[0] for k in missing.elements())),
        "extra_by_type": dict(Counter(k[0] for k in extra.elements())),
    }


def message_identity(message: Received) -> tuple[str | None, bool]:
    """(message id, marked as a resend of an uncertain send) of one POST."""
    header_id = message.headers.get("x-opsd-message-id")
    resent = message.headers.get("x-opsd-resent", "").lower() == "uncertain"
    try:
        text = str(json.loads(message.body).get("message", ""))
    except (ValueError, AttributeError):
        text = message.body.decode(errors="replace")
    footer = MESSAGE_ID.search(text)
    if footer is not None:
        resent = resent or "resent" in (footer.group(2) + text[footer.end():]).lower()
    return header_id or (footer.group(1) if footer else None), resent


def deliveries(received: list[Received], conn: sqlite3.Connection) -> dict[str, int]:
    """Duplicates (an id received twice without the resend marker), marked resends,
    messages without an id, rows marked delivered that never arrived."""
    copies: dict[str, list[bool]] = {}
    unidentified = 0
    for message in received:
        message_id, resent = message_identity(message)
        if message_id is None:
            unidentified += 1
            continue
        copies.setdefault(message_id, []).append(resent)
    duplicates = sum(1 for marks in copies.values() if marks.count(False) > 1)
    resends = sum(1 for marks in copies.values()
                  if len(marks) > 1 and marks.count(False) <= 1)
    delivered = {str(row[0]) for row in
                 conn.execute("SELECT id FROM outbox WHERE delivered_at IS NOT NULL")}
    return {
        "duplicates": duplicates,
        "uncertain_resends": resends,
        "unidentified_messages": unidentified,
        "delivered_not_received": len(delivered - set(copies)),
    }


def figures(campaign: Campaign, wall: float) -> dict[str, Any]:
    with contextlib.closing(sqlite3.connect(f"file:{campaign.db}?mode=ro", uri=True)) as conn:
        lost, logged = runs_lost(campaign, conn)
        events = events_compared(campaign.config, conn)
        delivered = deliveries(list(campaign.bench.received), conn)
        never = conn.execute("SELECT COUNT(*) FROM outbox WHERE delivered_at IS NULL"
                             " AND abandoned_at IS NULL").fetchone()[0]
        runs, recorded_events, rows = (conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
                                       for table in ("runs", "alert_events", "outbox"))
    tracebacks = sum(life.log_text().count("Traceback") for life in campaign.lives)
    return {
        "integrity": campaign.counts["integrity"],
        "runs_lost": lost,
        "events_missing": events.pop("events_missing"),
        "duplicates": delivered.pop("duplicates"),
        "outbox_never_delivered": int(never),
        "tracebacks": tracebacks,
        **events,
        **delivered,
        "orphaned_children": campaign.counts["orphaned_children"],
        "dropped_replies": campaign.bench.dropped,
        "exit_codes": campaign.exit_codes,
        "totals": {
            "daemon_kills": campaign.counts["daemon_kills"],
            "child_kills": campaign.counts["child_kills"],
            "daemon_starts": len(campaign.lives),
            "runs_logged": logged,
            "runs_recorded": int(runs),
            "events_recorded": int(recorded_events),
            "outbox_rows": int(rows),
            "messages_received": len(campaign.bench.received),
            "wall_seconds": round(wall, 1),
        },
    }


def report(found: dict[str, Any], seed: int) -> str:
    totals = found["totals"]
    lines = [f"opsd fault campaign (seed {seed}): {totals['daemon_kills']} daemon kills, "
             f"{totals['child_kills']} delivery-child kills, {totals['wall_seconds']:.0f} s"]
    for name in GOALS:
        verdict = "ok" if found[name] == 0 else "MISSED (goal 0)"
        lines.append(f"  {name:<28} {found[name]:>6}  {verdict}")
    for name in ("events_extra", "events_expected", "reminders_expected", "reminders_stored",
                 "uncertain_resends", "unidentified_messages", "delivered_not_received",
                 "orphaned_children", "dropped_replies"):
        lines.append(f"  {name:<28} {found[name]:>6}")
    for name in ("missing_by_type", "extra_by_type", "exit_codes"):
        lines.append(f"  {name:<28} {found[name]}")
    lines.append("  totals: " + ", ".join(f"{k}={v}" for k, v in totals.items()))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--daemon-kills", type=int, default=100)
    parser.add_argument("--child-kills", type=int, default=20)
    parser.add_argument("--seed", type=int, default=None, help="default: a random one, printed")
    parser.add_argument("--send-wait", type=float, default=120.0,
                        help="seconds phase 2 waits for a send in flight to kill the child")
    parser.add_argument("--settle", type=float, default=10.0,
                        help="seconds the last start runs at least")
    parser.add_argument("--max-settle", type=float, default=90.0,
                        help="seconds it may run longer while the outbox still holds rows")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--keep", action="store_true", help="keep the temp directory")
    args = parser.parse_args(argv)
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1 << 30)

    began = time.monotonic()
    root = Path(tempfile.mkdtemp(prefix="opsd-faults-"))
    bench = Bench(RECEIVER_DELAY)
    threading.Thread(target=bench.serve_forever, name="bench-http", daemon=True).start()
    campaign = Campaign(root, bench, seed)
    try:
        kill_daemons(campaign, args.daemon_kills)
        kill_children(campaign, args.child_kills, args.send_wait)
        settle(campaign, args.settle, args.settle + args.max_settle)
        found = figures(campaign, time.monotonic() - began)
    except (RuntimeError, subprocess.TimeoutExpired, sqlite3.Error) as exc:
        print(f"faults: the campaign could not run: {exc}", file=sys.stderr)
        return 2
    finally:
        campaign.stop_everything()
        bench.shutdown()
        bench.server_close()
        if args.keep:
            print(f"kept {root}", file=sys.stderr)
        else:
            shutil.rmtree(root, ignore_errors=True)
    found["seed"] = seed
    print(json.dumps(found, indent=2) if args.json else report(found, seed))
    missed = [name for name in GOALS if found[name]] or [c for c in found["exit_codes"] if c]
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
