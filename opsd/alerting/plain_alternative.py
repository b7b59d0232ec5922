"""The plain-text part of an HTML e-mail, as written by opsd rather than guessed by Apprise.

Apprise's e-mail plugin sends an HTML body as `multipart/alternative`: a `text/plain` part
and the `text/html` part. It makes the plain part itself, by stripping the HTML's tags,
which turns a table into one cell per line. A report comes with a plain-text rendering of
its own (aligned columns), so while one report is sent the e-mail plugin's HTML-to-text
conversion answers with that text instead (`plain_alternative`). Any other conversion goes
on as before, and an Apprise whose e-mail plugin is laid out differently (no
`convert_between` in its module) keeps its own plain part.

Runs in the delivery child (`opsd.alerting.deliver`), one message at a time: the swap is
never seen by two sends at once. Standard library and Apprise only.
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Iterator
from types import ModuleType
from typing import Any

EMAIL_MODULE = "apprise.plugins.email.base"


def _email_module() -> ModuleType | None:
    try:
        module = importlib.import_module(EMAIL_MODULE)
    except ImportError:
        return None
    return module if callable(getattr(module, "convert_between", None)) else None


@contextlib.contextmanager
def plain_alternative(text: str | None) -> Iterator[None]:
    """While inside, an HTML e-mail's `text/plain` part is `text` (nothing changes for None)."""
    module = _email_module() if text is not None else None
    if module is None:
        yield
        return
    original = module.convert_between

    def convert(from_format: Any, to_format: Any, content: str, *args: Any, **kwargs: Any) -> str:
        if from_format == "html" and to_format == "text":  # NotifyFormat is a str enum
            return str(text)
        return str(original(from_format, to_format, content, *args, **kwargs))

    module.convert_between = convert  # type: ignore[attr-defined]
    try:
        yield
    finally:
        module.convert_between = original  # type: ignore[attr-defined]
