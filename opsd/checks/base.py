"""What a check is: a playbook entry (`CheckSpec`) with its kind's typed parameters, and the
`@check` decorator that registers a kind's function, parameters, unit and default thresholds.

Check modules import this module only; `opsd.checks` finds a kind's module by name and
imports it on first use, so nothing here imports a check module.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar, overload

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from opsd.config.base import Duration
from opsd.config.flapping import FlappingOverride
from opsd.thresholds import Direction, Thresholds

if TYPE_CHECKING:
    from opsd.context import Context
    from opsd.results import Result


class Params(BaseModel):
    """Base for a kind's parameters: unknown keys in a playbook entry are errors."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class NoParams(Params):
    pass


P = TypeVar("P", bound=Params)


class CheckSpec(BaseModel, Generic[P]):
    """One entry of a playbook, validated; `params` is the kind's own parameter model, so a
    check typed `spec: CheckSpec[LatencyParams]` reads `spec.params.samples` as an int."""

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True, allow_inf_nan=False)

    name: str = Field(min_length=1)
    kind: str
    description: str = ""
    target: str | None = Field(None, description="Only this target (cache, endpoint, database).")
    warn: float | None = None
    crit: float | None = None
    direction: Literal["above", "below"] | None = None
    timeout: Duration = Field(30.0, gt=0)
    failure_threshold: int | None = Field(None, ge=1)
    success_threshold: int | None = Field(None, ge=1)
    repeat_interval: Duration | None = None
    depends_on: list[str] = Field(
        default_factory=list,
        description="Checks (names or kinds) whose firing alert holds this entry's alert.",
    )
    flapping: FlappingOverride | None = Field(
        None, description="Keys of [alerts.flapping] for this entry's alert."
    )
    incident: StrictBool | None = Field(
        None,
        description="Open an incident when this entry's alert fires (default: the kind's, "
                    "see opsd.incidents.opening).",
    )
    # The default is for entries built without parameters: mypy cannot check a NoParams
    # default against every P, and the parser always sets `params` to the kind's model.
    params: P = Field(default_factory=NoParams)  # type: ignore[assignment]
    playbook: str = ""
    defaults: Thresholds = Field(default_factory=Thresholds, exclude=True, repr=False)
    """The kind's default thresholds (set when the entry is parsed)."""

    @property
    def thresholds(self) -> Thresholds:
        """The entry's thresholds over the kind's defaults."""
        return self.thresholds_over(self.defaults)

    def thresholds_over(self, base: Thresholds) -> Thresholds:
        """The entry's thresholds, each unset one taken from `base`."""
        return Thresholds(
            warn=self.warn if self.warn is not None else base.warn,
            crit=self.crit if self.crit is not None else base.crit,
            direction=self.direction or base.direction,
        )


CheckFunc = Callable[["CheckSpec[Any]", "Context"], Awaitable["Result | list[Result]"]]


@dataclasses.dataclass(frozen=True)
class CheckKind:
    """A registered kind: its function, parameter model, unit and default thresholds."""

    name: str
    func: CheckFunc
    params: type[Params]
    unit: str
    thresholds: Thresholds
    description: str
    targets: str | None = None
    """The settings list an entry's `target` names an item of (`notion.databases`, `caches`,
    `apps`, `endpoints`); None: the kind takes no target."""


REGISTRY: dict[str, CheckKind] = {}
"""Kinds registered so far (by importing their modules), by name."""

R = TypeVar("R", bound="Result | list[Result]")

if TYPE_CHECKING:
    from typing import Protocol, TypeAlias

    CheckOf: TypeAlias = Callable[[CheckSpec[P], Context], Awaitable[R]]
    """A check function whose entries carry parameters `P`; it returns `R`."""

    class Registrar(Protocol[P]):
        """What `check(...)` returns: takes a check function of parameters `P`, returns it."""

        def __call__(self, func: CheckOf[P, R], /) -> CheckOf[P, R]: ...


@overload
def check(
    name: str,
    *,
    params: type[P],
    unit: str = "",
    warn: float | None = None,
    crit: float | None = None,
    direction: Direction = "above",
    description: str = "",
    targets: str | None = None,
) -> Registrar[P]: ...


@overload
def check(
    name: str,
    *,
    unit: str = "",
    warn: float | None = None,
    crit: float | None = None,
    direction: Direction = "above",
    description: str = "",
    targets: str | None = None,
) -> Registrar[NoParams]: ...


def check(
    name: str,
    *,
    params: type[Params] = NoParams,
    unit: str = "",
    warn: float | None = None,
    crit: float | None = None,
    direction: Direction = "above",
    description: str = "",
    targets: str | None = None,
) -> Registrar[Any]:
    """Register the decorated function as the check kind `name`; the function's `spec` is
    typed `CheckSpec[params]` (mypy holds the two to the same model). `targets`: the settings
    list whose item an entry's `target` names (checked when the playbook loads)."""

    def register(func: CheckOf[Any, R]) -> CheckOf[Any, R]:
        if name in REGISTRY and REGISTRY[name].func is not func:
            raise RuntimeError(f"check kind {name!r} registered twice")
        doc = description or next(iter((func.__doc__ or "").strip().splitlines()), "")
        REGISTRY[name] = CheckKind(
            name=name, func=func, params=params, unit=unit,
            thresholds=Thresholds(warn, crit, direction), description=doc, targets=targets,
        )
        return func

    return register
