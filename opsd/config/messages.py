"""Validation errors in plain words: `notion.databases[0].id: not a Notion ID`."""

from __future__ import annotations

from typing import Any

from pydantic_core import ErrorDetails

_FRIENDLY = {
    "int_parsing": "not a valid integer",
    "int_type": "not a valid integer",
    "float_parsing": "not a valid number",
    "float_type": "not a valid number",
    "bool_parsing": "not a valid boolean (true or false)",
    "bool_type": "not a valid boolean (true or false)",
    "extra_forbidden": "unknown key",
    "missing": "required key is missing",
    "string_type": "not a string",
    "list_type": "not a list",
}


def format_location(loc: tuple[Any, ...]) -> str:
    """`("notion", "databases", 0, "id")` -> `notion.databases[0].id`."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += ("." if text else "") + str(part)
    return text


def friendly_message(error: ErrorDetails) -> str:
    """A pydantic error as a short phrase for humans."""
    message = _FRIENDLY.get(error["type"])
    if message is None:
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "literal_error":
            message = message.replace("Input should be", "must be")
    return message
