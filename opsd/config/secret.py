"""The field types of secret settings: surrounding whitespace stripped, control characters
rejected.

A token pasted with a trailing newline (`NOTION_API_TOKEN=$'ntn_…\\n'`) is the common case:
stripped, it works. A control character left inside cannot be part of a real secret and, sent
in a request header, makes httpx raise an error whose text holds the whole header value; so it
is rejected at load time, with a message naming the character and its position, never the
value (the loader adds the source and key).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, SecretStr


def secret_problem(value: str, *, header: bool = False) -> str | None:
    """Why `value` (already stripped) cannot be a secret, or None; never quotes the value.

    `header`: the value goes into an HTTP request header, which must also be ASCII.
    """
    if not value:
        return "is empty"
    for position, char in enumerate(value, start=1):
        if ord(char) < 0x20 or ord(char) == 0x7F:
            return f"contains a control character (U+{ord(char):04X} at position {position})"
        if header and ord(char) > 0x7E:
            return (f"contains a character an HTTP header cannot carry "
                    f"(U+{ord(char):04X} at position {position})")
    return None


def _clean(value: Any, *, header: bool) -> Any:
    """The stripped secret; other types pass through to SecretStr's own validation."""
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    if not isinstance(value, str):
        return value
    value = value.strip()
    problem = secret_problem(value, header=header)
    if problem is not None:
        # Raised without the input: pydantic keeps it in the error, and the loader prints only
        # the message.
        raise ValueError(problem)
    return value


def _clean_secret(value: Any) -> Any:
    return _clean(value, header=False)


def _clean_header(value: Any) -> Any:
    return _clean(value, header=True)


Secret = Annotated[SecretStr, BeforeValidator(_clean_secret)]
"""A secret setting (token, password, URL with a key): stripped, no control characters."""

HeaderSecret = Annotated[SecretStr, BeforeValidator(_clean_header)]
"""A secret sent as an HTTP header value or in one (token, header): also ASCII only."""
