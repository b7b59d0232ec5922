"""`[alerts.flapping]` and its per-entry override (`flapping = {…}` in a playbook entry)."""

from __future__ import annotations

from pydantic import Field, StrictBool, model_validator

from opsd.config.base import Section


class FlappingOverride(Section):
    """A playbook entry's `flapping` table: any key given replaces `[alerts.flapping]`'s."""

    enabled: StrictBool | None = None
    window: int | None = Field(None, ge=3, le=100)
    high: float | None = Field(None, gt=0, le=1)
    low: float | None = Field(None, ge=0, le=1)

    @model_validator(mode="after")
    def _low_below_high(self) -> FlappingOverride:
        if self.low is not None and self.high is not None and self.low > self.high:
            raise ValueError("low must not be above high")
        return self


class FlappingConfig(Section):
    """[alerts.flapping]: an alert changing state too often sends one message, then is quiet."""

    enabled: StrictBool = Field(True, description="Detect flapping alerts.")
    window: int = Field(20, ge=3, le=100, description="How many of the latest results to judge.")
    high: float = Field(
        0.3, gt=0, le=1,
        description="Weighted share of state changes above which an alert is FLAPPING.",
    )
    low: float = Field(
        0.2, ge=0, le=1, description="Share below which a flapping alert has settled."
    )

    @model_validator(mode="after")
    def _low_below_high(self) -> FlappingConfig:
        if self.low > self.high:
            raise ValueError("low must not be above high")
        return self
