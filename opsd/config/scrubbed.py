"""The configuration file with every secret removed, for backups.

Which keys are secret is read from the settings model (every `SecretStr` field, in lists and
tables too), so a new secret setting is covered without touching this module. The file's text
is kept (comments, order, layout); each secret string in it becomes `"<redacted>"`. The result
is parsed again and checked: when a secret survived (written with TOML escapes, say), no text
is returned and the caller leaves the config out of the backup rather than copy a secret.
"""

from __future__ import annotations

import json
import tomllib
import types
import typing
from collections.abc import Iterable, Iterator
from typing import Any

from pydantic import BaseModel, SecretStr

REDACTED = "<redacted>"


def _holds_secret(annotation: Any) -> bool:
    """Whether `annotation` is SecretStr or wraps one (`X | None`, `list[X]`, `Annotated`)."""
    if annotation is SecretStr:
        return True
    return any(_holds_secret(arg) for arg in typing.get_args(annotation))


def _model_of(annotation: Any) -> type[BaseModel] | None:
    """The model a table or array of tables is validated by, or None."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if typing.get_origin(annotation) in (list, typing.Union, types.UnionType):
        return next(filter(None, map(_model_of, typing.get_args(annotation))), None)
    return None


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)


def secret_strings(model: type[BaseModel], data: dict[str, Any]) -> list[str]:
    """Every string that `data` (a parsed config file) holds under a secret key of `model`."""
    found: list[str] = []
    for key, value in data.items():
        field = model.model_fields.get(key)
        if field is None:
            continue
        if _holds_secret(field.annotation):
            found += _strings(value)
            continue
        inner = _model_of(field.annotation)
        tables = value if isinstance(value, list) else [value]
        for table in tables if inner is not None else ():
            if isinstance(table, dict):
                found += secret_strings(inner, table)  # type: ignore[arg-type]
    return found


def _toml_forms(secret: str) -> list[str]:
    """How `secret` can appear between TOML quotes without unusual escapes."""
    return list(dict.fromkeys([secret, json.dumps(secret)[1:-1],
                               json.dumps(secret, ensure_ascii=False)[1:-1]]))


def scrubbed_config(text: str, model: type[BaseModel], extra: Iterable[str] = ()) -> str | None:
    """`text` (a TOML config) with every secret replaced by `<redacted>`, or None when that
    cannot be done with certainty. `extra`: further secrets to remove (those from the
    environment or credentials, should the file mention them)."""
    try:
        secrets = {s for s in [*secret_strings(model, tomllib.loads(text)), *extra] if s}
    except tomllib.TOMLDecodeError:
        return None
    for secret in sorted(secrets, key=len, reverse=True):
        for form in _toml_forms(secret):
            text = text.replace(form, REDACTED)
    try:
        left = secret_strings(model, tomllib.loads(text))
    except tomllib.TOMLDecodeError:
        return None
    if any(value != REDACTED for value in left) or any(s in text for s in secrets):
        return None
    return text
