"""Addresses in the configuration, checked by their syntax at load time: the host the metrics
listener binds (an IP address or a DNS name) and an `alerts.urls` entry (optional Apprise tags,
then `scheme://…`). Whether Apprise knows the scheme is found out later, in its own process.

Standard library only: the delivery child imports `TAGGED_ENTRY`, and must start fast.
"""

from __future__ import annotations

import ipaddress
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pydantic import SecretStr

# An `alerts.urls` entry: optional Apprise tags (`critical,2:pager=`), then the URL.
TAGGED_ENTRY = re.compile(
    r"^\s*(?:(?P<tags>[a-z0-9,_: \t-]+?)\s*=)?\s*(?P<url>[a-z0-9]{1,32}://.*)$", re.I
)
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$", re.I)


def listen_host(value: str) -> str:
    """`value` if it is an IP address or a DNS name (RFC 1123); `999.1.1.1` is neither."""
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        pass
    labels = value.removesuffix(".").split(".")
    numeric = all(label.isdigit() for label in labels)
    if numeric or len(value) > 253 or not all(_LABEL.match(label) for label in labels):
        raise ValueError("not an IP address or host name")
    return value


def alert_url(value: SecretStr) -> SecretStr:
    """`value` if it has the shape of an Apprise URL; the error never repeats the value."""
    if not TAGGED_ENTRY.match(value.get_secret_value()):
        raise ValueError("not a URL (expected [tags=]scheme://…, e.g. json://host/hook)")
    return value

