"""The base of every config section, and the field types they share."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict

from opsd.durations import parse_duration

Duration = Annotated[float, BeforeValidator(parse_duration)]
"""A pydantic field type: accepts 30, "30s", "5m", "4h", "7d"."""


class Section(BaseModel):
    """Base for config sections: unknown keys are errors, and so are `inf` and `nan` (TOML
    has both; no setting means anything by them). Booleans are `StrictBool`: "yes" is not
    true."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
