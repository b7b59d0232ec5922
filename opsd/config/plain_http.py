"""The Notion token never travels in clear beyond this machine.

`notion.base_url` with `http://` and a host that is not loopback, while a token is configured,
is a configuration error: anyone on the path would read the token. Plain HTTP to a loopback
address (a local stand-in for Notion, a test double) is allowed with one warning, because any
local user may listen on that port. The built-in sandbox gets no warning: the only token it
accepts is its public fake one (`opsd.sandbox.SANDBOX_TOKEN`), which protects nothing, so a
configuration that sends that token is recognised as talking to the sandbox.
"""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from opsd.config.sections import Settings

# The sandbox's public fake token (`opsd.sandbox.SANDBOX_TOKEN`), repeated here so that
# validating a config does not import the sandbox; a test keeps the two equal.
SANDBOX_TOKEN = "ntn_00000000000SandboxFakeTokenForLocalTestsOnly00"  # opsd:allow


def is_loopback_host(host: str | None) -> bool:
    """Whether `host` (a URL's hostname) names this machine: localhost, 127.0.0.0/8, ::1."""
    if not host:
        return False
    if host.lower().rstrip(".") == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


def is_plain_http(url: str) -> bool:
    return urlsplit(url).scheme.lower() == "http"


def refuse_token_in_clear(base_url: str) -> None:
    """Raise ValueError if a token sent to `base_url` would cross the network unencrypted."""
    if is_plain_http(base_url) and not is_loopback_host(urlsplit(base_url).hostname):
        raise ValueError(
            "plain http:// to a host that is not loopback would send the token unencrypted; "
            "use https://"
        )


def plain_http_warnings(settings: Settings, label: str) -> list[str]:
    """One warning line when the token goes over plain HTTP to loopback (not the sandbox's);
    shown by `opsd config check` and logged when the daemon starts. `label`: the config
    file's name."""
    notion = settings.notion
    if notion.token is None or not is_plain_http(notion.base_url):
        return []
    if notion.token.get_secret_value() == SANDBOX_TOKEN:
        return []
    return [f"warning: {label}: notion.base_url: the token goes over plain http:// to "
            f"{urlsplit(notion.base_url).netloc}, where any local user could listen; "
            "use https:// unless this is a local test double"]
