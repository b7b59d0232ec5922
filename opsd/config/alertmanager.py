"""`[alerts.alertmanager]`: the Alertmanager sink, and the `workspace` every instance labels
its metrics and alerts with.

opsd posts its alerts to every Alertmanager peer listed in `urls` (as Alertmanager asks its
clients to do: the peers deduplicate among themselves by gossip). Peers are plain http(s)
URLs without credentials: basic auth (`username`/`password`) or a bearer token are keys of
their own, kept secret.
"""

from __future__ import annotations

import re
import urllib.parse
from pathlib import Path

from pydantic import Field, StrictBool, field_validator, model_validator

from opsd.config.base import Duration, Section
from opsd.config.secret import HeaderSecret, Secret

# The labels opsd sets on every alert (the `labels` key may not replace them).
RESERVED_LABELS = frozenset({"alertname", "check", "kind", "target", "workspace", "severity"})
_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


def peer_url(value: str) -> str:
    """`value` without a trailing slash if it is an http(s) URL without credentials; the
    error never repeats the value (a mistyped entry may hold a password)."""
    parts = urllib.parse.urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("not an Alertmanager URL (expected http://host:9093 or https://…)")
    if parts.username is not None or parts.password is not None:
        raise ValueError("credentials in an Alertmanager URL: use username/password or "
                         "bearer_token instead")
    return value.strip().rstrip("/")


class AlertmanagerConfig(Section):
    """[alerts.alertmanager]: post alerts to an Alertmanager cluster (every peer)."""

    urls: list[str] = Field(
        default_factory=list,
        description="Every Alertmanager peer, e.g. http://am1:9093 (alerts go to each one).",
    )
    enabled: StrictBool | None = Field(
        None, description="Post to the peers (default: true when urls are set)."
    )
    username: str | None = Field(None, min_length=1, description="Basic auth user.")
    password: Secret | None = Field(None, description="Basic auth password (secret).")
    bearer_token: HeaderSecret | None = Field(
        None, description="Sent as `Authorization: Bearer …` (secret)."
    )
    tls_ca_file: Path | None = Field(None, description="CA bundle for https peers.")
    tls_insecure_skip_verify: StrictBool = Field(
        False, description="Do not verify the peers' TLS certificates (tests only)."
    )
    labels: dict[str, str] = Field(
        default_factory=dict, description="Extra static labels on every alert (e.g. team)."
    )
    resend_interval: Duration = Field(
        60.0, gt=0,
        description="Firing alerts are posted again this often; endsAt = now + 4 × it.",
    )
    timeout: Duration = Field(10.0, gt=0, description="Per-peer request timeout.")

    @field_validator("urls")
    @classmethod
    def _peer_urls(cls, value: list[str]) -> list[str]:
        urls = [peer_url(url) for url in value]
        if len(set(urls)) != len(urls):
            raise ValueError("the same peer is listed twice")
        return urls

    @field_validator("labels")
    @classmethod
    def _label_names(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value:
            if not _LABEL_NAME.match(name):
                raise ValueError(f"{name!r} is not a label name ([a-zA-Z_][a-zA-Z0-9_]*)")
            if name in RESERVED_LABELS:
                raise ValueError(f"{name!r} is set by opsd itself")
        return value

    @model_validator(mode="after")
    def _one_kind_of_auth(self) -> AlertmanagerConfig:
        if (self.username is None) != (self.password is None):
            raise ValueError("username and password go together")
        if self.password is not None and self.bearer_token is not None:
            raise ValueError("basic auth and bearer_token: choose one")
        if self.enabled and not self.urls:
            raise ValueError("enabled = true needs urls")
        return self

    @property
    def active(self) -> bool:
        """Whether alerts go to the peers: `enabled`, which defaults to having urls."""
        return bool(self.urls) if self.enabled is None else self.enabled

    def secrets(self) -> list[str]:
        """The configured secrets, for redaction."""
        return [s.get_secret_value() for s in (self.password, self.bearer_token) if s]


_WORKSPACE = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")


def workspace_name(value: str | None) -> str | None:
    """A `[metrics] workspace` value: letters, digits, `_.@-` (a systemd instance name)."""
    if value is not None and not _WORKSPACE.match(value):
        raise ValueError("not a workspace name (1-64 of A-Z a-z 0-9 _ . @ -)")
    return value
