"""`[notion.circuit]`: the circuit breaker that stops opsd adding load to a failing Notion."""

from __future__ import annotations

from pydantic import Field, StrictBool, model_validator

from opsd.config.base import Duration, Section


class CircuitConfig(Section):
    """[notion.circuit]: after `failures_to_open` server-side failures in a row (5xx, 529,
    timeouts, gateway pages) opsd's Notion checks are not sent; one light probe
    (GET /v1/users/me) per backoff step asks whether Notion is back."""

    enabled: StrictBool = Field(True, description="Open the circuit on repeated Notion failures.")
    failures_to_open: int = Field(
        5, ge=1, description="Consecutive server-side Notion failures that open the circuit.",
    )
    backoff_start: Duration = Field(
        30.0, gt=0, description="Wait before the first probe; it doubles after each failed one.",
    )
    backoff_max: Duration = Field(300.0, gt=0, description="The longest wait between probes.")
    successes_to_close: int = Field(
        2, ge=1, description="Successful probes in a row that close the circuit.",
    )

    @model_validator(mode="after")
    def _start_within_max(self) -> CircuitConfig:
        if self.backoff_start > self.backoff_max:
            raise ValueError("backoff_start must not be above backoff_max")
        return self
