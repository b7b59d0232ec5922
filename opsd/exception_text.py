"""Exception text that is safe to show, store, log and send.

HTTP libraries quote the offending header in their errors: h11, httpcore and httpx raise
`LocalProtocolError("Illegal header value b'Bearer ntn_…\\n'")`, requests raises `InvalidHeader`
naming the value. A request header is where opsd puts its secrets, so such an exception's
text is replaced by a fixed one wherever opsd turns an exception into text (results, logs,
alert messages, the outbox). Pure: no HTTP library is imported.
"""

from __future__ import annotations

import traceback

HEADER_WITHHELD = "invalid request header (value withheld)"
ENCODING_WITHHELD = "a request value cannot be encoded (value withheld)"

# Exception class names (anywhere in the class hierarchy) whose text may quote a header value.
_HEADER_ERRORS = frozenset({"LocalProtocolError", "InvalidHeader"})


def _chain(exc: BaseException) -> list[BaseException]:
    """`exc` and the exceptions it was raised from or while handling, each once."""
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and not any(current is s for s in seen):
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def _withheld(exc: BaseException) -> str | None:
    """The fixed text standing for `exc`, or None when its own text is safe."""
    if any(cls.__name__ in _HEADER_ERRORS for cls in type(exc).__mro__):
        return HEADER_WITHHELD
    if isinstance(exc, UnicodeEncodeError):  # httpx encodes header values as ASCII
        return ENCODING_WITHHELD
    if "header" in str(exc).lower():
        return HEADER_WITHHELD
    return None


def exception_text(exc: BaseException) -> str:
    """The text of `exc` (its class name when it has none), or a fixed text when it or an
    exception it came from may quote a request header."""
    for link in _chain(exc):
        withheld = _withheld(link)
        if withheld is not None:
            return withheld
    return str(exc).strip() or type(exc).__name__


def describe_exception(exc: BaseException) -> str:
    """`ClassName: text` of `exc`, with `exception_text`'s safety."""
    text = exception_text(exc)
    return text if text == type(exc).__name__ else f"{type(exc).__name__}: {text}"


def safe_traceback(exc: BaseException) -> str:
    """The formatted traceback of `exc` with every unsafe exception text in it withheld."""
    text = "".join(traceback.format_exception(exc)).rstrip("\n")
    for link in _chain(exc):
        withheld = _withheld(link)
        original = str(link)
        if withheld is not None and original:
            text = text.replace(original, withheld)
    return text
