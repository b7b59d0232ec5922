"""The services opsd watches beside Notion: `[[caches]]`, `[[apps]]` and `[[endpoints]]`, and
how it reaches them (headers, TLS, timeout). Counter sources are read by `opsd.sources`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, StrictBool, field_validator, model_validator

from opsd.config.base import Duration, Section
from opsd.config.secret import HeaderSecret, Secret
from opsd.selectors import check_selector

# URL scheme of a counter source -> the reader family in `opsd.sources`.
SOURCE_FAMILIES = {
    "redis": "redis", "rediss": "redis", "unix": "redis",
    "prometheus+http": "prometheus", "prometheus+https": "prometheus",
    "json+http": "json", "json+https": "json",
    "file": "file", "sqlite": "sqlite",
}


def _reject_url_password(url: str) -> None:
    if urlsplit(url).password:
        raise ValueError(
            "do not put a password in the URL (it would show in results); "
            "use the `password` or `headers` key, which are kept secret"
        )


class TransportConfig(Section):
    """How opsd talks to a service over the network: headers, TLS and a timeout."""

    headers: dict[str, HeaderSecret] = Field(
        default_factory=dict,
        description="Extra HTTP request headers (e.g. Authorization); values are kept secret.",
    )
    verify: StrictBool = Field(True, description="Verify the server's TLS certificate.")
    ca_file: Path | None = Field(
        None, description="PEM CA bundle that signs a private or self-signed certificate."
    )
    timeout: Duration = Field(10.0, gt=0, description="Per-request timeout.")

    def secrets(self) -> list[SecretStr]:
        """The secret values of this entry, for redaction."""
        return list(self.headers.values())


class SourceConfig(TransportConfig):
    """Where a pair of counters is read: Redis INFO, a Prometheus exposition, JSON or SQLite."""

    name: str = Field(min_length=1, description="Label used in results and alerts.")
    source: str = Field(
        description="redis://host:port/db, rediss://, prometheus+http(s)://host/metrics, "
        "json+http(s)://host/stats, file:///path/stats.json or sqlite:///path/stats.db"
    )
    password: Secret | None = Field(None, description="Redis password (kept secret).")
    query: str | None = Field(
        None, description="sqlite:// sources: a SELECT returning one row; selectors name columns."
    )

    @property
    def family(self) -> str:
        """The reader that handles `source`: redis, prometheus, json, file or sqlite."""
        return SOURCE_FAMILIES[urlsplit(self.source).scheme.lower()]

    def secrets(self) -> list[SecretStr]:
        return [*super().secrets(), *([self.password] if self.password else [])]

    @field_validator("source")
    @classmethod
    def _known_scheme(cls, value: str) -> str:
        scheme = urlsplit(value).scheme.lower()
        if scheme not in SOURCE_FAMILIES:
            known = ", ".join(f"{s}://" for s in SOURCE_FAMILIES)
            raise ValueError(f"unknown source scheme {scheme + '://' if scheme else value!r} "
                             f"(use one of {known})")
        _reject_url_password(value)
        local = SOURCE_FAMILIES[scheme] in ("file", "sqlite")
        if local and not urlsplit(value).path.startswith("/"):
            raise ValueError(f"{scheme}:// needs an absolute path: {scheme}:///var/lib/app/stats")
        return value

    def _check_selectors(self, selectors: dict[str, str | None]) -> None:
        if (self.query is not None) != (self.family == "sqlite"):
            raise ValueError("query: needed by sqlite:// sources and only by them")
        if self.password is not None and self.family != "redis":
            raise ValueError("password: only for redis:// sources")
        for key, selector in selectors.items():
            if selector is not None:
                try:
                    check_selector(self.family, selector)
                except ValueError as exc:
                    raise ValueError(f"{key}: {exc}") from None


class CacheConfig(SourceConfig):
    """A cache whose hit rate is watched: `cache.hit_rate`, `cache.ttl_review`."""

    ttl_seconds: float | None = Field(
        None, gt=0, description="The cache's current TTL, for the TTL review's recommendation."
    )
    hits: str | None = Field(
        None,
        description="Where the hit counter is: a Redis INFO field (default keyspace_hits), "
        'a metric selector (app_cache_hits_total{cache="notion"}), a JSON path (stats.hits) '
        "or a column of `query`.",
    )
    misses: str | None = Field(
        None, description="Where the miss counter is (as `hits`; Redis default keyspace_misses)."
    )
    ratio: str | None = Field(
        None, description="Instead of hits/misses: where a ready-made hit ratio 0..1 is."
    )
    min_lookups: int = Field(
        100, ge=0, description="Fewer lookups than this in the interval: 'not enough traffic to "
        "judge' (OK); the interval then grows until there are enough.",
    )

    @model_validator(mode="after")
    def _selectors(self) -> CacheConfig:
        self._check_selectors({"hits": self.hits, "misses": self.misses, "ratio": self.ratio})
        counters = self.hits is not None and self.misses is not None
        if self.family == "redis":
            if self.ratio is not None:
                raise ValueError("ratio: redis:// sources give hits and misses, not a ratio")
        elif counters == (self.ratio is not None) or (self.hits is None) != (self.misses is None):
            raise ValueError(f"{self.family} sources need either hits and misses, or ratio")
        return self


class AppConfig(SourceConfig):
    """An application whose error rate is watched: `app.error_rate`."""

    errors: str = Field(description="Where the error counter is (selector, JSON path, column).")
    requests: str = Field(description="Where the request counter is (errors included).")
    min_requests: int = Field(
        100, ge=0, description="Fewer requests than this in the interval: 'not enough traffic to "
        "judge' (OK); the interval then grows until there are enough.",
    )

    @model_validator(mode="after")
    def _selectors(self) -> AppConfig:
        if self.family == "redis":
            raise ValueError("source: redis:// has no error counters; use prometheus+http://, "
                             "json+http://, file:// or sqlite://")
        self._check_selectors({"errors": self.errors, "requests": self.requests})
        return self


class EndpointConfig(TransportConfig):
    """A service endpoint probed by `http.endpoint` (e.g. the MCP server's health check)."""

    name: str = Field(min_length=1, description="Label used in results and alerts.")
    url: str = Field(description="http:// or https:// URL.")
    method: Literal["GET", "HEAD", "POST", "PUT", "OPTIONS"] = "GET"
    expected_status: int = Field(200, ge=100, le=599)
    json_field: str | None = Field(
        None, description="JSON path in the response body that must exist (e.g. status)."
    )
    json_value: Any = Field(None, description="With json_field: the value it must equal.")
    body_contains: str | None = Field(None, description="Text the response body must contain.")
    cert_warn_days: float = Field(
        14.0, ge=0, description="https: WARNING when the certificate expires within this many days."
    )
    cert_crit_days: float = Field(
        7.0, ge=0, description="https: CRITICAL when the certificate expires within this many days."
    )

    @field_validator("method", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not re.match(r"^https?://[^/]", value):
            raise ValueError("must start with http:// or https://")
        _reject_url_password(value)
        return value

    @model_validator(mode="after")
    def _consistent(self) -> EndpointConfig:
        if self.cert_crit_days > self.cert_warn_days:
            raise ValueError("cert_crit_days must not exceed cert_warn_days")
        if self.json_value is not None and self.json_field is None:
            raise ValueError("json_value needs json_field")
        return self


