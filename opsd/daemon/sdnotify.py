"""The systemd notify protocol (READY=1, WATCHDOG=1, STOPPING=1), straight to $NOTIFY_SOCKET.

A datagram to a unix socket is the whole protocol, so opsd needs no library for it. The
socket is a path (`/run/systemd/notify`) or, with a leading `@`, an abstract socket.
Outside systemd (no $NOTIFY_SOCKET) every call is a no-op.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Mapping

from opsd.logs import event

log = logging.getLogger("opsd.sdnotify")  # the name operators filter on (unchanged)


class Notifier:
    """Sends state lines to the service manager named by the environment."""

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        env = os.environ if env is None else env
        self.address = socket_address(env.get("NOTIFY_SOCKET", ""))
        self.watchdog_interval = watchdog_interval(env, os.getpid())

    @property
    def enabled(self) -> bool:
        return self.address is not None

    def send(self, *lines: str) -> bool:
        """Send `lines` as one datagram; False (logged) when it could not be delivered."""
        if self.address is None:
            return False
        payload = "\n".join(lines).encode()
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                sock.sendto(payload, self.address)
        except OSError as exc:
            event(log, "sd_notify failed", level=logging.WARNING, error=exc.strerror or str(exc))
            return False
        return True

    def ready(self, status: str = "") -> bool:
        return self.send("READY=1", *([f"STATUS={status}"] if status else []))

    def watchdog(self) -> bool:
        return self.send("WATCHDOG=1")

    def reloading(self) -> bool:
        # systemd >= 253 wants the CLOCK_MONOTONIC time of the reload request alongside.
        return self.send("RELOADING=1", f"MONOTONIC_USEC={time.monotonic_ns() // 1000}")

    def stopping(self) -> bool:
        return self.send("STOPPING=1")

    def status(self, text: str) -> bool:
        return self.send(f"STATUS={text}")


def socket_address(value: str) -> str | bytes | None:
    """The sendto() address for a $NOTIFY_SOCKET value: a path, or `@name` -> b"\\0name"."""
    if not value:
        return None
    if value.startswith("@"):
        return b"\0" + value[1:].encode()
    if value.startswith("/"):
        return value
    return None  # vsock and other address families are not used by systemd for services


def watchdog_interval(env: Mapping[str, str], pid: int) -> float | None:
    """Seconds between WATCHDOG=1 pings (half of $WATCHDOG_USEC), None when not requested."""
    usec = env.get("WATCHDOG_USEC", "")
    watched_pid = env.get("WATCHDOG_PID", "")
    if watched_pid and watched_pid != str(pid):
        return None  # the variable was inherited from a parent that systemd watches
    try:
        microseconds = int(usec)
    except ValueError:
        return None
    return microseconds / 1_000_000 / 2 if microseconds > 0 else None
