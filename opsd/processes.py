"""Which process is which: a process named by its pid and start time, and whether it still runs.

A pid alone does not name a process for long: once it exits, the kernel hands the number to
the next process started. The start time (field 22 of `/proc/PID/stat`, in clock ticks since
boot) tells a reused pid from the original, so `"<pid>:<start time>"` names one process for
the life of the machine. Outbox claims store it (`claimed_by`): a claim whose process has
died can be taken over at once instead of waiting for its lease to run out.

Without `/proc` (not Linux) the start time is empty and only the pid is compared.
"""

from __future__ import annotations

import os
from pathlib import Path

PROC = Path("/proc")


def start_time(pid: int, proc: Path = PROC) -> str | None:
    """The start time of process `pid` as `/proc` gives it; None if no such process runs (a
    zombie has exited: it counts as gone); "" without a readable `/proc`."""
    try:
        stat = (proc / str(pid) / "stat").read_text()
    except FileNotFoundError:
        return None if proc.is_dir() else ""
    except OSError:
        return ""
    # The command name (field 2) is in parentheses and may hold spaces or ")": split after
    # its last ")". Then field 3 is the state and field 22 the start time.
    fields = stat.rpartition(")")[2].split()
    if len(fields) < 20 or fields[0] in ("Z", "X"):
        return None
    return fields[19]


def identity(pid: int | None = None, proc: Path = PROC) -> str:
    """`"<pid>:<start time>"` of process `pid` (default: this one)."""
    pid = os.getpid() if pid is None else pid
    return f"{pid}:{start_time(pid, proc) or ''}"


def is_alive(name: str, proc: Path = PROC) -> bool:
    """Whether the process `name` (an `identity`) still runs: its pid exists and, where the
    start time is known, started when it did. A name that is not an identity counts as
    alive: a claim nobody can judge is left to its lease."""
    pid_text, sep, started = name.partition(":")
    if not sep or not pid_text.isdigit():
        return True
    pid = int(pid_text)
    now_started = start_time(pid, proc)
    if now_started is None:
        return False
    if now_started and started:
        return now_started == started
    return _pid_exists(pid)


def _pid_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: it exists
        return True
    return True
