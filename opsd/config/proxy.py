"""`[proxy]`: `opsd proxy`, the forwarding proxy the integration's Notion traffic goes through
(one request budget for every process behind it, each request recorded)."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, Field, field_validator

from opsd.config.addresses import listen_host
from opsd.config.base import Duration, Section


class ProxyConfig(Section):
    """[proxy]: where `opsd proxy` listens, the budget it meters each token against, and how
    long a request may queue for it before the integration gets Notion's 429."""

    host: Annotated[str, AfterValidator(listen_host)] = Field(
        "127.0.0.1", description="Address to listen on (keep it on loopback or a private net).",
    )
    port: int = Field(8790, ge=0, le=65535, description="Port to listen on (0: any free one).")
    rate_limit: float = Field(
        2.7, gt=0, description="Requests/second per token on average, shared with opsd's own "
        "checks (Notion allows about 3).",
    )
    burst: int = Field(3, ge=1, description="Requests per token that may go at once.")
    max_queue_wait: Duration = Field(
        30.0, ge=0, description="The longest a request queues for the budget; beyond it the "
        "integration gets Notion's 429 with Retry-After.",
    )
    upstream: str | None = Field(
        None, description="Where to forward (default: notion.base_url; the same budget as "
        "opsd's checks when the token is opsd's own).",
    )
    timeout: Duration = Field(
        120.0, gt=0, description="Per-request timeout towards Notion (an unanswered request "
        "ends in 504).",
    )

    @field_validator("upstream")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not re.match(r"^https?://", value):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")
