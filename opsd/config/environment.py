"""The `OPSD_*` environment as the settings read it: which variables name a setting (a typo
is an error with "did you mean", not a silently ignored variable), booleans in plain text,
and which variable holds a value that is not the JSON a list or table needs.

Pure functions over the settings model and an environment mapping; `opsd.config.loading`
calls them around pydantic-settings' environment source.
"""

from __future__ import annotations

import json
import typing
from collections.abc import Iterator, Mapping
from typing import Any

from pydantic import BaseModel

from opsd.config.fields import is_model, unwrap
from opsd.config.messages import did_you_mean

PREFIX = "OPSD_"
DELIMITER = "__"
NON_SETTING_VARIABLES = frozenset({"OPSD_CONFIG", "OPSD_SCAN_ENGINE"})
"""opsd's own variables that are not settings (`OPSD_CONFIG`: which file to read;
`OPSD_SCAN_ENGINE=python`: the secret scan without Hyperscan, see `opsd.secretscan.scanner`)."""

_TRUE, _FALSE = "true", "false"


def _variables(model: type[BaseModel], prefix: str) -> Iterator[tuple[str, Any]]:
    """(variable name, field annotation) of every setting under `model`, nested tables too."""
    for name, field in model.model_fields.items():
        variable = prefix + name.upper()
        annotation = unwrap(field.annotation)
        yield variable, annotation
        if is_model(annotation):
            yield from _variables(annotation, variable + DELIMITER)


def setting_variables(model: type[BaseModel]) -> dict[str, Any]:
    """Every `OPSD_*` variable that names a setting of `model`, with its field's type."""
    return dict(_variables(model, PREFIX))


def unknown_names(model: type[BaseModel], env: Mapping[str, str]) -> list[str]:
    """The `OPSD_*` variables (as spelled in `env`) that name no setting of `model`."""
    ours = [variable for variable in sorted(env)
            if variable.upper().startswith(PREFIX)
            and variable.upper() not in NON_SETTING_VARIABLES]
    if not ours:  # the usual case: no need to walk the model
        return []
    known = setting_variables(model)
    # A table of free keys (`headers`, `required_properties`) takes any name below it.
    free = [name + DELIMITER for name, annotation in known.items()
            if typing.get_origin(annotation) is dict]
    return [
        variable for variable in ours
        if variable.upper() not in known
        and not any(variable.upper().startswith(table) for table in free)
    ]


def unknown_variables(model: type[BaseModel], env: Mapping[str, str]) -> list[str]:
    """One problem line per `OPSD_*` variable that names no setting (with a suggestion)."""
    unknown = unknown_names(model, env)
    if not unknown:
        return []
    candidates = [*setting_variables(model), *NON_SETTING_VARIABLES]
    return [f"environment {variable}: no such setting"
            f"{did_you_mean(variable.upper(), candidates)}"
            for variable in unknown]


def unparsable_variables(model: type[BaseModel], env: Mapping[str, str]) -> list[str]:
    """One problem line per variable of a list or table setting whose value is not JSON
    (the value itself is never repeated: it may be a secret)."""
    known = setting_variables(model)
    problems = []
    for variable, value in sorted(env.items()):
        annotation = known.get(variable.upper())
        origin = typing.get_origin(annotation)
        if origin not in (list, dict) and not is_model(annotation):
            continue
        try:
            json.loads(value)
        except ValueError:
            shape = "a JSON list, e.g. [\"…\"]" if origin is list else "a JSON object, e.g. {…}"
            problems.append(f"environment {variable}: not valid JSON (expected {shape})")
    return problems


def plain_booleans(model: type[BaseModel], data: dict[str, Any]) -> dict[str, Any]:
    """`data` (as the environment source read it) with "true"/"false" under boolean settings
    turned into booleans: the config's booleans are strict, and text is all a variable holds.
    Any other text stays text, for validation to reject."""
    for key, value in data.items():
        field = model.model_fields.get(key)
        if field is None:
            continue
        annotation = unwrap(field.annotation)
        if annotation is bool and isinstance(value, str) and value.lower() in (_TRUE, _FALSE):
            data[key] = value.lower() == _TRUE
        elif is_model(annotation) and isinstance(value, dict):
            plain_booleans(annotation, value)
    return data
