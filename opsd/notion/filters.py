"""`where = {Severity = "Critical", Status = "!Complete"}` -> a Notion filter built from each
property's real type (pure), so one playbook entry works whether Status is a select or a
status property.

Values, per property type:

- select, status: `"X"` equals, `"!X"` does not equal.
- multi_select: `"X"` contains, `"!X"` does not contain.
- checkbox: `true` / `false` (or the strings "true" / "false").
- number: `3` or `"3"` equals, `"!3"` does not equal, `">3"`, `">=3"`, `"<3"`, `"<=3"`.
- date: `"2026-11-30"` or `"today"` (also `"{today}"`) equals; `"<…"` before, `"<=…"` on or
  before, `">…"` after, `">=…"` on or after (e.g. `"<today"`: overdue).
- any type but checkbox: `""` is empty, `"!"` is not empty.

Several entries are combined with `and`. A property the data source does not have, a type
without support or a value that does not fit the type raises `WhereError`.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from opsd.notion.service import Source

Scalar = str | int | float | bool
SUPPORTED_TYPES = ("select", "status", "multi_select", "checkbox", "number", "date")

_COMPARISON = re.compile(r"^(<=|>=|<|>|!|=)?\s*(.*)$", re.DOTALL)
_NUMBER_OPERATORS = {
    "=": "equals", "!": "does_not_equal", ">": "greater_than", "<": "less_than",
    ">=": "greater_than_or_equal_to", "<=": "less_than_or_equal_to",
}
_DATE_OPERATORS = {
    "=": "equals", ">": "after", "<": "before", ">=": "on_or_after", "<=": "on_or_before",
}


class WhereError(ValueError):
    """A `where` entry that cannot become a Notion filter; the message names the property."""

    source: Source | None = None  # the data source it was built for, when the caller knows it


def build_filter(where: Mapping[str, Scalar], types: Mapping[str, str],
                 today: dt.date) -> dict[str, Any]:
    """The Notion filter for `where` over properties of `types` (name -> Notion type)."""
    if not where:
        raise WhereError("where names no property")
    conditions = [condition(name, value, types, today) for name, value in where.items()]
    return conditions[0] if len(conditions) == 1 else {"and": conditions}


def condition(name: str, value: Scalar, types: Mapping[str, str],
              today: dt.date) -> dict[str, Any]:
    """One property condition, e.g. `{"property": "Status", "status": {"equals": "Done"}}`."""
    if name not in types:
        known = ", ".join(sorted(types)) or "none"
        raise WhereError(f"where: no property {name!r} (properties: {known})")
    kind = types[name]
    if kind not in SUPPORTED_TYPES:
        raise WhereError(f"where: {name} is a {kind} property; where supports "
                         f"{', '.join(SUPPORTED_TYPES)} (use filter for others)")
    if kind == "checkbox":
        return {"property": name, kind: {"equals": _boolean(name, value)}}
    if isinstance(value, bool):
        raise WhereError(f"where: {name} is a {kind} property, not a checkbox: give a text "
                         f"value, not {str(value).lower()}")
    text = str(value).strip()
    if text in ("", "!"):
        return {"property": name, kind: {"is_empty" if text == "" else "is_not_empty": True}}
    if kind == "number":
        return {"property": name, kind: _number(name, value)}
    if kind == "date":
        return {"property": name, kind: _date(name, text, today)}
    negated = text.startswith("!")
    operand = text[1:].strip() if negated else text
    if kind == "multi_select":
        operator = "does_not_contain" if negated else "contains"
    else:
        operator = "does_not_equal" if negated else "equals"
    return {"property": name, kind: {operator: operand}}


def _boolean(name: str, value: Scalar) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "false"):
        return text == "true"
    raise WhereError(f"where: {name} is a checkbox: give true or false, not {value!r}")


def _number(name: str, value: Scalar) -> dict[str, float | int]:
    if isinstance(value, int | float):
        return {"equals": value}
    found = _COMPARISON.match(str(value).strip())
    operator, operand = (found.group(1) or "=", found.group(2)) if found else ("=", "")
    try:
        number = float(operand)
    except ValueError:
        raise WhereError(f"where: {name} is a number: give e.g. 3, \">=3\" or \"!3\", "
                         f"not {value!r}") from None
    return {_NUMBER_OPERATORS[operator]: int(number) if number.is_integer() else number}


def _date(name: str, text: str, today: dt.date) -> dict[str, str]:
    found = _COMPARISON.match(text)
    operator, operand = (found.group(1) or "=", found.group(2).strip()) if found else ("=", "")
    if operator not in _DATE_OPERATORS:
        raise WhereError(f"where: {name} is a date: Notion cannot filter dates with "
                         f"{operator!r} (use \"<…\", \"<=…\", \">…\", \">=…\" or a date)")
    if operand in ("today", "{today}"):
        return {_DATE_OPERATORS[operator]: today.isoformat()}
    try:
        day = dt.date.fromisoformat(operand)
    except ValueError:
        raise WhereError(f"where: {name} is a date: give YYYY-MM-DD or today, "
                         f"not {text!r}") from None
    return {_DATE_OPERATORS[operator]: day.isoformat()}
