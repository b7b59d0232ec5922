"""Logging for the daemon: one line per event on stdout (journald), `text` or `json`.

Call sites log a short message plus structured fields::

    event(log, "run finished", playbook="daily", status="OK")

and get `ts=... level=info logger=opsd.daemon msg="run finished" playbook=daily status=OK`
(text) or the same as one JSON object. Every line passes a redacting filter that replaces the
configured secrets (`Settings.redact`) in the message, the fields and any traceback.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
from collections.abc import Callable
from typing import Any, TextIO

from opsd.exception_text import describe_exception, safe_traceback

LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING,
          "error": logging.ERROR}
# Libraries that log every request or job at INFO: only their warnings reach the journal.
_QUIET = ("apscheduler", "apprise", "httpx", "httpcore", "asyncio")
_HANDLER_NAME = "opsd"


def event(
    logger: logging.Logger,
    message: str,
    *,
    level: int = logging.INFO,
    exc_info: bool = False,
    **fields: Any,
) -> None:
    """Log one event: a short message and its key=value fields."""
    logger.log(level, message, exc_info=exc_info, extra={"fields": fields})


def configure(
    log_format: str = "text",
    log_level: str = "info",
    redact: Callable[[str], str] = str,
    stream: TextIO | None = None,
) -> logging.Handler:
    """Route opsd's and the libraries' logs to `stream` (stdout) as one line per event."""
    handler = logging.StreamHandler(stream or sys.stdout)
    handler.set_name(_HANDLER_NAME)
    handler.addFilter(RedactingFilter(redact))
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == _HANDLER_NAME]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(LEVELS[log_level])
    for name in _QUIET:
        logging.getLogger(name).setLevel(max(logging.WARNING, LEVELS[log_level]))
    return handler


class RedactingFilter(logging.Filter):
    """Renders the message and traceback, then replaces every configured secret in them."""

    def __init__(self, redact: Callable[[str], str]) -> None:
        super().__init__()
        self.redact = redact

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self.redact(record.getMessage())
        record.args = None
        fields: dict[str, Any] = {
            key: self.redact(value) if isinstance(value, str) else value
            for key, value in (getattr(record, "fields", None) or {}).items()
        }
        # `fields` is not a declared LogRecord attribute: set it as `extra=` does.
        record.__dict__["fields"] = fields
        if record.exc_info and record.exc_info[1] is not None:
            error = record.exc_info[1]
            fields["error"] = self.redact(describe_exception(error))
            record.exc_text = self.redact(safe_traceback(error))
            record.exc_info = None
        return True


def _payload(record: logging.LogRecord) -> dict[str, Any]:
    return {
        "ts": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
        "level": record.levelname.lower(),
        "logger": record.name,
        "msg": record.msg,
        **getattr(record, "fields", {}),
    }


class JsonFormatter(logging.Formatter):
    """One JSON object per line; a traceback is a `traceback` field, not extra lines."""

    def format(self, record: logging.LogRecord) -> str:
        payload = _payload(record)
        if record.exc_text:
            payload["traceback"] = record.exc_text
        return json.dumps(payload, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """logfmt: `key=value`, values quoted when they hold spaces, quotes or newlines."""

    def format(self, record: logging.LogRecord) -> str:
        payload = _payload(record)
        if record.exc_text and record.levelno >= logging.ERROR:
            payload["traceback"] = record.exc_text
        return " ".join(f"{key}={logfmt_value(value)}" for key, value in payload.items())


def logfmt_value(value: Any) -> str:
    """A value as logfmt writes it: bare when simple, else a JSON-quoted one-line string."""
    if value is None:
        return '""'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(round(value, 6))
    text = str(value)
    if text and not any(c in text for c in ' "=\\\n\r\t'):
        return text
    return json.dumps(text, ensure_ascii=False)
