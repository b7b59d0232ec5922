"""Whether the metrics listener is reachable from the network (pure).

`/metrics` and `/healthz` have no authentication, so the default `metrics.host` is
127.0.0.1. Another host (`0.0.0.0`, a LAN address, a name) is valid — Prometheus may scrape
from another machine — so `opsd config check` and the daemon's start warn, once, and go on.
The host's syntax is the config's business, not this module's.
"""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from opsd.config import Settings


def is_loopback(host: str) -> bool:
    """True for `localhost` (and `*.localhost`), 127.0.0.0/8, ::1 and ::ffff:127.x.y.z."""
    name = host.strip().strip("[]").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(name.split("%", 1)[0])  # fe80::1%eth0: a zone index
    except ValueError:
        return False  # another name: it may resolve anywhere
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


def metrics_host_warnings(enabled: bool, host: str) -> list[str]:
    """One line if the listener is enabled on a host that is not loopback, else none."""
    if not enabled or is_loopback(host):
        return []
    shown = host or '""'
    return [
        f"warning: metrics.host {shown} is not loopback: /metrics and /healthz are reachable"
        " from the network (no authentication)"
    ]


def of_settings(settings: Settings) -> list[str]:
    """`metrics_host_warnings` of a validated configuration."""
    return metrics_host_warnings(settings.metrics.enabled, settings.metrics.host)
