"""`where` -> a Notion filter by each property's real type (opsd.notion.filters, pure)."""

from __future__ import annotations

import datetime as dt

import pytest

from opsd.notion.filters import WhereError, build_filter, condition

TODAY = dt.date(2026, 11, 30)
TYPES = {"Severity": "select", "Status": "status", "Tags": "multi_select", "Done": "checkbox",
         "Points": "number", "Due": "date", "Notes": "rich_text"}


def test_the_same_where_follows_status_as_select_or_as_status() -> None:
    where = {"Severity": "Critical", "Status": "!Complete"}
    as_select = build_filter(where, {**TYPES, "Status": "select"}, TODAY)
    as_status = build_filter(where, TYPES, TODAY)
    assert as_select == {"and": [
        {"property": "Severity", "select": {"equals": "Critical"}},
        {"property": "Status", "select": {"does_not_equal": "Complete"}},
    ]}
    assert as_status["and"][1] == {"property": "Status", "status": {"does_not_equal": "Complete"}}


@pytest.mark.parametrize(("name", "value", "expected"), [
    ("Severity", "High", {"equals": "High"}),
    ("Severity", "! High", {"does_not_equal": "High"}),
    ("Tags", "infra", {"contains": "infra"}),
    ("Tags", "!infra", {"does_not_contain": "infra"}),
    ("Done", True, {"equals": True}),
    ("Done", "false", {"equals": False}),
    ("Points", 3, {"equals": 3}),
    ("Points", 2.5, {"equals": 2.5}),
    ("Points", ">=3", {"greater_than_or_equal_to": 3}),
    ("Points", "<8", {"less_than": 8}),
    ("Points", "!5", {"does_not_equal": 5}),
    ("Due", "today", {"equals": "2026-11-30"}),
    ("Due", "{today}", {"equals": "2026-11-30"}),
    ("Due", "<today", {"before": "2026-11-30"}),
    ("Due", ">=2026-12-01", {"on_or_after": "2026-12-01"}),
    ("Due", "", {"is_empty": True}),
    ("Severity", "!", {"is_not_empty": True}),
])
def test_each_type_gets_its_own_operator(name: str, value: object, expected: dict) -> None:
    built = condition(name, value, TYPES, TODAY)  # type: ignore[arg-type]
    assert built == {"property": name, TYPES[name]: expected}


def test_one_entry_is_a_plain_condition() -> None:
    assert build_filter({"Done": True}, TYPES, TODAY) == {
        "property": "Done", "checkbox": {"equals": True}}


@pytest.mark.parametrize(("where", "message"), [
    ({"Priority": "High"}, "where: no property 'Priority' (properties: Done, Due,"),
    ({"Notes": "x"}, "where: Notes is a rich_text property; where supports select, status"),
    ({"Done": "maybe"}, "where: Done is a checkbox: give true or false, not 'maybe'"),
    ({"Points": "lots"}, "where: Points is a number: give e.g. 3"),
    ({"Due": "!today"}, "where: Due is a date: Notion cannot filter dates with '!'"),
    ({"Due": "next week"}, "where: Due is a date: give YYYY-MM-DD or today"),
    ({"Severity": True}, "where: Severity is a select property, not a checkbox"),
    ({}, "where names no property"),
])
def test_what_cannot_become_a_filter_is_named_in_plain_words(where: dict, message: str) -> None:
    with pytest.raises(WhereError) as info:
        build_filter(where, TYPES, TODAY)
    assert str(info.value).startswith(message)
