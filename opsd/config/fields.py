"""Walking the configuration's pydantic models by key: which model sits at a location, whether
an annotation is a nested table. Shared by the "did you mean" suggestions and the environment
checks (pure)."""

from __future__ import annotations

import types
import typing
from typing import Any

from pydantic import BaseModel


def unwrap(annotation: Any) -> Any:
    """`X | None` -> `X`, `Annotated[X, ...]` -> `X`; other annotations unchanged."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            annotation = args[0]
    if typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    return annotation


def is_model(annotation: Any) -> bool:
    """Whether `annotation` is a pydantic model (a nested table)."""
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def model_at(model: type[BaseModel], loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The model that validates the table at `loc` below `model` (`("alerts", "flapping")`,
    `("caches", 0)`); None when `loc` leads out of the models."""
    current: Any = model
    for part in loc:
        if isinstance(part, int):
            if typing.get_origin(current) is not list:
                return None
            current = unwrap(typing.get_args(current)[0])
            continue
        if not is_model(current) or part not in current.model_fields:
            return None
        current = unwrap(current.model_fields[part].annotation)
    return current if is_model(current) else None


def keys_at(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """The keys accepted where the key at `loc` was found (for suggestions); [] if unknown."""
    found = model_at(model, loc[:-1])
    return list(found.model_fields) if found is not None else []
