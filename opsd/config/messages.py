"""Validation errors in plain words: `notion.databases[0].id: not a Notion ID`."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any

from pydantic_core import ErrorDetails

_FRIENDLY = {
    "int_parsing": "not a valid integer",
    "int_type": "not a valid integer",
    "int_from_float": "not a valid integer (it has a fractional part)",
    "float_parsing": "not a valid number",
    "float_type": "not a valid number",
    "bool_parsing": "not a valid boolean (true or false)",
    "bool_type": "not a valid boolean (true or false)",
    "extra_forbidden": "unknown key",
    "missing": "required key is missing",
    "string_type": "not a string",
    "list_type": "not a list",
    "finite_number": "must be a finite number (not inf or nan)",
}


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """` (did you mean X?)` for the closest candidate, or '' when none is close."""
    close = difflib.get_close_matches(word, list(candidates), n=1)
    return f" (did you mean {close[0]}?)" if close else ""


def format_location(loc: tuple[Any, ...]) -> str:
    """`("notion", "databases", 0, "id")` -> `notion.databases[0].id`."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += ("." if text else "") + str(part)
    return text


def friendly_message(error: ErrorDetails, known: Iterable[str] = ()) -> str:
    """A pydantic error as a short phrase for humans; `known`: the keys valid where an
    unknown key was found, for a "did you mean" suggestion."""
    message = _FRIENDLY.get(error["type"])
    if error["type"] == "extra_forbidden" and error["loc"]:
        return f"{message}{did_you_mean(str(error['loc'][-1]), known)}"
    if message is None:
        # "Input should be greater than 0" -> "must be greater than 0": the key is named already.
        message = error["msg"].removeprefix("Value error, ").replace("Input should be", "must be")
    return message


def not_utf8(exc: UnicodeDecodeError) -> str:
    """A file that is not UTF-8 text, in one line (binary files end up here too)."""
    return f"not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset {exc.start})"
