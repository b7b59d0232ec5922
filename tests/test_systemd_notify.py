"""sd_notify without a library: addresses, watchdog interval, datagrams on real sockets."""

from __future__ import annotations

import socket
import uuid
from pathlib import Path

import pytest

from opsd.daemon.sdnotify import Notifier, socket_address, watchdog_interval


@pytest.mark.parametrize(("value", "address"), [
    ("/run/systemd/notify", "/run/systemd/notify"),
    ("@opsd/notify", b"\0opsd/notify"),
    ("", None),
    ("vsock:2:1234", None),
])
def test_socket_address(value, address):
    assert socket_address(value) == address


@pytest.mark.parametrize(("env", "interval"), [
    ({"WATCHDOG_USEC": "60000000"}, 30.0),
    ({"WATCHDOG_USEC": "400000", "WATCHDOG_PID": "42"}, 0.2),
    ({"WATCHDOG_USEC": "400000", "WATCHDOG_PID": "41"}, None),  # meant for another process
    ({"WATCHDOG_USEC": "0"}, None),
    ({"WATCHDOG_USEC": "soon"}, None),
    ({}, None),
])
def test_watchdog_interval_is_half_of_watchdog_usec(env, interval):
    assert watchdog_interval(env, 42) == interval


def _receiver(bind_to: str | bytes) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(bind_to)
    sock.settimeout(2)
    return sock


def test_sends_to_a_path_socket(tmp_path: Path):
    path = str(tmp_path / "notify")
    with _receiver(path) as sock:
        notifier = Notifier({"NOTIFY_SOCKET": path})
        assert notifier.ready("scheduling 5 playbooks")
        assert sock.recv(4096) == b"READY=1\nSTATUS=scheduling 5 playbooks"
        assert notifier.watchdog() and sock.recv(4096) == b"WATCHDOG=1"
        assert notifier.reloading()
        lines = sock.recv(4096).decode().splitlines()
        assert lines[0] == "RELOADING=1" and lines[1].startswith("MONOTONIC_USEC=")
        assert notifier.stopping() and sock.recv(4096) == b"STOPPING=1"


def test_sends_to_an_abstract_socket():
    name = f"opsd-test-{uuid.uuid4().hex}"
    with _receiver("\0" + name) as sock:
        assert Notifier({"NOTIFY_SOCKET": "@" + name}).watchdog()
        assert sock.recv(4096) == b"WATCHDOG=1"


def test_outside_systemd_nothing_is_sent():
    notifier = Notifier({})
    assert not notifier.enabled
    assert notifier.ready() is False


def test_a_vanished_socket_is_logged_not_raised(tmp_path: Path, caplog):
    notifier = Notifier({"NOTIFY_SOCKET": str(tmp_path / "gone")})
    assert notifier.ready() is False
    assert "sd_notify failed" in caplog.text
