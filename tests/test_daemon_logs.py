"""Daemon logs: one line per event (logfmt or JSON), levels, and never a configured secret."""

from __future__ import annotations

import io
import json
import logging

import pytest
from pydantic import SecretStr

from opsd.config import Settings
from opsd.logs import configure, event, logfmt_value

SECRET = "ntn_" + "4" * 40 + "wxyz"


@pytest.fixture
def capture():
    """configure() onto a StringIO; the handler is removed afterwards."""
    stream = io.StringIO()
    settings = Settings(notion={"token": SecretStr(SECRET)})
    handlers = []

    def start(log_format: str = "text", level: str = "info") -> io.StringIO:
        handlers.append(configure(log_format, level, settings.redact, stream))
        return stream

    yield start
    for handler in handlers:
        logging.getLogger().removeHandler(handler)


def test_text_lines_are_logfmt(capture):
    out = capture("text")
    event(logging.getLogger("opsd.test"), "playbook finished", playbook="daily", status="OK",
          results=12, duration_seconds=0.25, note="two words")
    line = out.getvalue()
    assert line.count("\n") == 1
    assert " level=info logger=opsd.test msg=\"playbook finished\" playbook=daily status=OK" \
        " results=12 duration_seconds=0.25 note=\"two words\"" in line
    assert line.startswith("ts=")


def test_json_lines_parse(capture):
    out = capture("json")
    event(logging.getLogger("opsd.test"), "stopping", level=logging.WARNING, running=2)
    record = json.loads(out.getvalue())
    assert {k: record[k] for k in ("level", "logger", "msg", "running")} == {
        "level": "warning", "logger": "opsd.test", "msg": "stopping", "running": 2,
    }


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_secrets_never_reach_the_log(capture, log_format):
    out = capture(log_format)
    log = logging.getLogger("opsd.test")
    log.info("token %s in the message", SECRET)
    event(log, "in a field", url=f"https://x.test/?t={SECRET}")
    try:
        raise RuntimeError(f"bad token {SECRET}")
    except RuntimeError:
        event(log, "failed", level=logging.ERROR, exc_info=True)
    text = out.getvalue()
    assert SECRET not in text
    assert "ntn_…wxyz" in text
    assert len(text.splitlines()) == 3  # the traceback stays on its event's line
    assert "RuntimeError: bad token ntn_…wxyz" in text


def test_level_and_quiet_libraries(capture):
    out = capture("text", "warning")
    logging.getLogger("opsd.test").info("hidden")
    logging.getLogger("apscheduler.scheduler").info("Added job")
    logging.getLogger("opsd.test").warning("shown")
    assert [line.split("msg=")[1] for line in out.getvalue().splitlines()] == ["shown"]


def test_configure_twice_replaces_the_handler(capture):
    out = capture("text")
    capture("text")
    logging.getLogger("opsd.test").warning("once")
    assert out.getvalue().count("msg=once") == 1


@pytest.mark.parametrize(("value", "text"), [
    ("plain", "plain"), ("two words", '"two words"'), ("", '""'), (None, '""'),
    (True, "true"), (3, "3"), (0.1234567891, "0.123457"), ("a=b", '"a=b"'),
    ("line\nbreak", '"line\\nbreak"'),
])
def test_logfmt_values(value, text):
    assert logfmt_value(value) == text
