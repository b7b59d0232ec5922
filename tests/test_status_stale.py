"""`opsd status` flags results older than their playbook's schedule allows (pure judgement)."""

from __future__ import annotations

import pytest

from opsd.cli.stale import allowed_age, interval_of, staleness
from opsd.cli.view import PlaybookInfo

FAST = PlaybookInfo("fast", "", None, 60.0, ("auth", "shared"), ("notion.auth", "x"),
                    timeout=30.0)
HOURLY = PlaybookInfo("hourly", "", "0 * * * *", None, ("shared", "report"), ("x", "y"),
                      upcoming=(3600.0, 7200.0, 10800.0), timeout=10.0)
MANUAL = PlaybookInfo("manual", "", None, None, ("once",), ("z",))


def test_allowed_age_is_two_intervals_and_the_timeout():
    assert interval_of(FAST) == 60.0 and allowed_age(FAST) == 150.0
    assert interval_of(HOURLY) == 3600.0 and allowed_age(HOURLY) == 7210.0
    assert interval_of(MANUAL) is None and allowed_age(MANUAL) is None


@pytest.mark.parametrize(("check", "age", "expected"), [
    ("auth", 150.0, None),
    ("auth", 3 * 3600.0, "stale: last result 3h ago, expected every 1m"),
    ("shared", 151.0, "stale: last result 2m ago, expected every 1m"),  # the most frequent
    ("report", 7000.0, None),
    ("report", 7211.0, "stale: last result 2h ago, expected every 1h"),
    ("once", 10 * 86400.0, None),  # on demand: never stale
    ("gone", 10 * 86400.0, None),  # no playbook runs it any more
])
def test_staleness(check, age, expected):
    now = 1_000_000.0
    assert staleness((FAST, HOURLY, MANUAL), check, now - age, now) == expected
