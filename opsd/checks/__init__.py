"""The check registry: a kind name (`notion.auth`) -> an async check function.

To add a check, write one function in the module of its family and register it::

    class TrendParams(Params):
        window: Duration = 7 * 86400.0

    @check("history.trend", params=TrendParams, unit="ratio", warn=0.99, crit=0.95,
           direction="below", description="Share of OK results per check over a window")
    async def trend(spec: CheckSpec, ctx: Context) -> Result:
        ...

then add an entry with `kind = "cache.hit_rate"` to a playbook. Thresholds given here are the
defaults; a playbook entry's `warn`/`crit`/`direction` override them. A check returns one
Result, or a list of them (one per target). Raising `CheckError` ends it with a plain-words
reason; any other exception becomes UNKNOWN; exceeding the entry's timeout becomes CRITICAL.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict

from opsd.thresholds import Direction, Thresholds

if TYPE_CHECKING:
    from opsd.context import Context
    from opsd.playbooks import CheckSpec
    from opsd.results import Result

CheckFunc = Callable[["CheckSpec", "Context"], Awaitable["Result | list[Result]"]]

# Modules that register check kinds; imported on first use of the registry.
CHECK_MODULES = (
    "opsd.checks.maintenance",
    "opsd.checks.notion",
    "opsd.checks.cache",
    "opsd.checks.http",
    "opsd.checks.app",
    "opsd.checks.secrets",
)


class Params(BaseModel):
    """Base for a kind's parameters: unknown keys in a playbook entry are errors."""

    model_config = ConfigDict(extra="forbid")


class NoParams(Params):
    pass


@dataclasses.dataclass(frozen=True)
class CheckKind:
    name: str
    func: CheckFunc
    params: type[Params]
    unit: str
    thresholds: Thresholds
    description: str


_REGISTRY: dict[str, CheckKind] = {}
_loaded = False


def check(
    name: str,
    *,
    params: type[Params] = NoParams,
    unit: str = "",
    warn: float | None = None,
    crit: float | None = None,
    direction: Direction = "above",
    description: str = "",
) -> Callable[[CheckFunc], CheckFunc]:
    """Register `func` as the check kind `name`."""

    def register(func: CheckFunc) -> CheckFunc:
        if name in _REGISTRY and _REGISTRY[name].func is not func:
            raise RuntimeError(f"check kind {name!r} registered twice")
        doc = description or (func.__doc__ or "").strip().splitlines()[0:1]
        _REGISTRY[name] = CheckKind(
            name=name,
            func=func,
            params=params,
            unit=unit,
            thresholds=Thresholds(warn, crit, direction),
            description=doc if isinstance(doc, str) else "".join(doc),
        )
        return func

    return register


def load_all() -> None:
    """Import every module that registers check kinds (once)."""
    global _loaded
    if not _loaded:
        for module in CHECK_MODULES:
            importlib.import_module(module)
        _loaded = True


def get_kind(name: str) -> CheckKind | None:
    load_all()
    return _REGISTRY.get(name)


def all_kinds() -> dict[str, CheckKind]:
    load_all()
    return dict(sorted(_REGISTRY.items()))
