"""Schema drift by property id: the pure diff, the snapshot repository, `notion.schema` on
renames, retypes, removed options and dropped properties against the real sandbox, and the
sandbox's own schema shapes (URL-encoded ids, computed property types, admin edits)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx
import pytest
from test_notion_checks import by_check, run_entries, settings_for
from test_schema_cli import write_config

from opsd.checks.notion_schema import renamed_properties, schema_result
from opsd.config import DatabaseConfig, Settings
from opsd.notion.schema import (
    Change,
    FilterUse,
    PropertyInfo,
    diff_schemas,
    filter_uses,
    former_names,
    schema_from_json,
    schema_of,
    schema_to_json,
    where_uses,
)
from opsd.notion.service import Source
from opsd.results import Status
from opsd.runbooks import SCHEMA_HINT, SCHEMA_OPTION_RENAME_HINT, SCHEMA_RENAME_HINT
from opsd.sandbox import DATA_SOURCES, DATABASES, SANDBOX_TOKEN, Sandbox, SandboxError
from opsd.store import Store, schemas

P = PropertyInfo
BASE = {
    "title": P("title", "Bottleneck Name", "title"),
    "%3AUPp": P("%3AUPp", "Severity", "select", ("Critical", "High", "Medium")),
    "BJXS": P("BJXS", "Status", "status", ("Not Started", "Complete")),
    "x%7Bq": P("x%7Bq", "Impact", "rich_text"),
}


def changed(**props: PropertyInfo | None) -> dict[str, PropertyInfo]:
    """BASE with some properties replaced (None: removed)."""
    schema = {**BASE, **{k: v for k, v in props.items() if v is not None}}
    return {k: v for k, v in schema.items() if props.get(k, v) is not None}


# --- the pure diff ------------------------------------------------------------------------------


def test_identical_schemas_have_no_changes() -> None:
    assert diff_schemas(BASE, dict(BASE)) == []


def test_a_rename_keeps_the_id_and_is_one_change() -> None:
    new = {**BASE, "%3AUPp": P("%3AUPp", "Priority", "select", ("Critical", "High", "Medium"))}
    [change] = diff_schemas(BASE, new)
    assert change == Change("renamed", "%3AUPp", "Priority", "Severity", "Priority")
    assert change.describe() == "Severity is now named Priority"


def test_retype_rename_add_remove_and_options_are_each_reported() -> None:
    new = {
        "title": BASE["title"],
        "%3AUPp": P("%3AUPp", "Priority", "rich_text"),
        "BJXS": P("BJXS", "Status", "status", ("Not Started", "Blocked")),
        "NEW1": P("NEW1", "Owner", "people"),
    }
    assert [c.describe() for c in diff_schemas(BASE, new)] == [
        "Severity is now named Priority",
        "Priority changed type from select to rich_text",
        "Status lost option 'Complete'",
        "Status gained option 'Blocked'",
        "Owner was added (people)",
        "Impact was removed (was rich_text)",
    ]


def test_a_retype_between_option_types_does_not_list_options() -> None:
    new = {**BASE, "%3AUPp": P("%3AUPp", "Severity", "status", ("Critical",))}
    assert [c.kind for c in diff_schemas(BASE, new)] == ["retyped"]


def test_multi_select_options_are_compared() -> None:
    old = {"t": P("t", "Tags", "multi_select", ("a", "b"))}
    new = {"t": P("t", "Tags", "multi_select", ("b",))}
    assert diff_schemas(old, new) == [Change("option_removed", "t", "Tags", "a", None)]


STATUS_IDS = ("n1", "c1")
WITH_IDS = changed(BJXS=P("BJXS", "Status", "status", ("Not Started", "Complete"), STATUS_IDS))


def test_a_renamed_option_keeps_its_id_and_is_one_change() -> None:
    now = changed(BJXS=P("BJXS", "Status", "status", ("Not Started", "Done", "Blocked"),
                         ("n1", "c1", "b1")))
    assert diff_schemas(WITH_IDS, now) == [
        Change("option_renamed", "BJXS", "Status", "Complete", "Done"),
        Change("option_added", "BJXS", "Status", None, "Blocked")]
    assert diff_schemas(WITH_IDS, now)[0].describe() == (
        "Status option 'Complete' is now named 'Done'")
    # A different id under the old name: removed and another added, not a rename.
    replaced = changed(BJXS=P("BJXS", "Status", "status", ("Not Started", "Done"), ("n1", "d9")))
    assert [c.kind for c in diff_schemas(WITH_IDS, replaced)] == [
        "option_removed", "option_added"]


def test_an_old_snapshot_without_option_ids_loads_and_compares_by_name() -> None:
    stored = [{"id": "BJXS", "name": "Status", "type": "status",
               "options": ["Not Started", "Complete"]}]  # recorded before ids were kept
    old = schema_from_json(stored)
    assert old["BJXS"].option_ids == () and old["BJXS"].option_names() is None
    now = {"BJXS": P("BJXS", "Status", "status", ("Not Started", "Done"), STATUS_IDS)}
    assert diff_schemas(old, now) == [
        Change("option_removed", "BJXS", "Status", "Complete", None),
        Change("option_added", "BJXS", "Status", None, "Done")]
    assert diff_schemas(old, {"BJXS": WITH_IDS["BJXS"]}) == []
    assert "option_ids" not in schema_to_json(old)[0]
    assert schema_to_json({"BJXS": now["BJXS"]})[0]["option_ids"] == ["n1", "c1"]
    assert schema_from_json(schema_to_json(now)) == now


def test_a_filter_on_a_renamed_option_names_the_new_name() -> None:
    now = changed(BJXS=P("BJXS", "Status", "status", ("Not Started", "Done"), STATUS_IDS))
    uses = [("daily/open", FilterUse("Status", "Complete"))]
    result = schema_result(DB, source(now), "bottlenecks", history=[BASE, WITH_IDS], uses=uses)
    assert (result.status, result.value) == (Status.WARNING, 0.0)
    assert result.summary == ("the filter of daily/open uses option 'Complete', which Status "
                              "now calls 'Done'")
    assert result.details["hint"] == SCHEMA_OPTION_RENAME_HINT
    assert result.details["options_missing"] == [
        {"check": "daily/open", "property": "Status", "option": "Complete", "removed": False,
         "renamed_to": "Done"}]
    assert [c["summary"] for c in result.details["changes"]] == [
        "Status option 'Complete' is now named 'Done'"]
    # Only a history without ids: a rename cannot be told from a removal.
    by_name_only = schema_result(DB, source(now), "bottlenecks", history=[BASE], uses=uses)
    assert by_name_only.summary.endswith("which Status no longer has")


def test_change_json_carries_the_summary() -> None:
    change = Change("option_removed", "BJXS", "Status", "Complete", None)
    assert change.to_dict() == {"kind": "option_removed", "property_id": "BJXS",
                                "name": "Status", "old": "Complete", "new": None,
                                "summary": "Status lost option 'Complete'"}


def test_schema_of_reads_notion_properties_with_encoded_ids() -> None:
    properties = {
        "Name": {"id": "title", "name": "Name", "type": "title", "title": {}},
        "Severity": {"id": "%3AUPp", "name": "Severity", "type": "select",
                     "select": {"options": [{"id": "x", "name": "Critical", "color": "red"}]}},
        "Score": {"id": "BJXS", "name": "Score", "type": "formula",
                  "formula": {"expression": "1"}},
    }
    schema = schema_of(properties)
    assert list(schema) == ["title", "%3AUPp", "BJXS"]
    assert schema["%3AUPp"] == P("%3AUPp", "Severity", "select", ("Critical",), ("x",))
    assert schema["BJXS"] == P("BJXS", "Score", "formula")
    assert schema_from_json(schema_to_json(schema)) == schema
    assert schema_of(None) == {}


def test_former_names_follow_the_latest_snapshot() -> None:
    renamed = changed(**{"%3AUPp": P("%3AUPp", "Priority", "select")})
    assert former_names([BASE, renamed])["Severity"] == "%3AUPp"
    assert former_names([BASE, renamed])["Priority"] == "%3AUPp"
    assert former_names([]) == {}


def test_renamed_properties_need_history_and_a_gone_name() -> None:
    now = changed(**{"%3AUPp": P("%3AUPp", "Priority", "select")})
    assert renamed_properties(["Severity"], now, []) == {}
    assert renamed_properties(["Severity", "Status"], now, [BASE]) == {"Severity": now["%3AUPp"]}
    # A new property took the old name: nothing was renamed to it.
    taken = {**now, "NEW1": P("NEW1", "Severity", "select")}
    assert renamed_properties(["Severity"], taken, [BASE]) == {}


def test_filter_uses_follow_compounds_and_name_options() -> None:
    daily = json.loads(
        '{"and": [{"property": "Severity", "select": {"equals": "Critical"}},'
        ' {"property": "Status", "select": {"does_not_equal": "Complete"}},'
        ' {"or": [{"property": "Tags", "multi_select": {"contains": "infra"}},'
        '         {"property": "Due", "date": {"before": "2026-12-01"}}]}]}')
    assert filter_uses(daily) == [
        FilterUse("Severity", "Critical"), FilterUse("Status", "Complete"),
        FilterUse("Tags", "infra"), FilterUse("Due")]
    assert filter_uses(None) == [] and filter_uses("nonsense") == []


def test_where_uses_strip_negation() -> None:
    assert where_uses({"Severity": "Critical", "Status": "!Complete", "Done": True,
                       "Env": ["Local", "!Staging"]}) == [
        FilterUse("Severity", "Critical"), FilterUse("Status", "Complete"), FilterUse("Done"),
        FilterUse("Env", "Local"), FilterUse("Env", "Staging")]
    assert where_uses(None) == []


# --- schema_result (pure) ---------------------------------------------------------------------

DB = DatabaseConfig(name="bottlenecks", id=DATABASES["Bottlenecks Registry"],
                    required_properties={"Bottleneck Name": "title", "Severity": "select"})


def source(schema: dict[str, PropertyInfo]) -> Source:
    return Source("Bottlenecks Registry", "data_sources/x/query",
                  {p.name: p.type for p in schema.values()}, schema=schema)


def test_a_renamed_required_property_is_a_warning_not_missing() -> None:
    now = changed(**{"%3AUPp": P("%3AUPp", "Priority", "select", ("Critical", "High"))})
    result = schema_result(DB, source(now), "bottlenecks", history=[BASE])
    assert (result.status, result.value) == (Status.WARNING, 0.0)
    assert result.summary == "Severity is now named Priority"
    assert result.details["hint"] == SCHEMA_RENAME_HINT
    assert result.details["missing"] == []
    assert result.details["renamed"] == [
        {"property": "Severity", "name": "Priority", "id": "%3AUPp"}]
    assert [c["kind"] for c in result.details["changes"]] == ["renamed", "option_removed"]


def test_without_history_a_rename_looks_missing() -> None:
    now = changed(**{"%3AUPp": P("%3AUPp", "Priority", "select")})
    result = schema_result(DB, source(now), "bottlenecks")
    assert (result.status, result.value, result.summary) == (
        Status.OK, 1.0, "missing Severity")
    assert result.details["hint"] == SCHEMA_HINT


def test_renamed_and_retyped_is_both() -> None:
    now = changed(**{"%3AUPp": P("%3AUPp", "Priority", "rich_text")})
    result = schema_result(DB, source(now), "bottlenecks", history=[BASE])
    assert result.summary == ("Severity is now named Priority; "
                              "mistyped Severity (rich_text, expected select)")
    assert (result.status, result.value) == (Status.WARNING, 1.0)
    assert result.details["hint"].startswith(SCHEMA_RENAME_HINT + ". Add or retype")


def test_an_option_a_filter_uses_that_was_removed_is_named() -> None:
    now = changed(BJXS=P("BJXS", "Status", "status", ("Not Started",)))
    uses = [("daily/open", FilterUse("Status", "Complete")),
            ("daily/open", FilterUse("Severity", "Critical")),
            ("other", FilterUse("Severity", "Blocker"))]
    result = schema_result(DB, source(now), "bottlenecks", history=[BASE], uses=uses)
    assert result.status is Status.WARNING and result.value == 0.0
    assert result.summary == (
        "the filter of daily/open uses option 'Complete', which Status no longer has; "
        "the filter of other uses option 'Blocker', which Severity does not have")


def test_a_filter_on_a_renamed_property_is_a_rename() -> None:
    db = DatabaseConfig(name="bottlenecks", id=DB.id)
    now = changed(BJXS=P("BJXS", "State", "status", ("Not Started", "Complete")))
    result = schema_result(db, source(now), "bottlenecks", history=[BASE],
                           uses=[("daily/open", FilterUse("Status", "Done"))])
    assert result.summary == ("Status is now named State; "
                              "the filter of daily/open uses option 'Done', which State does "
                              "not have")


# --- the snapshot repository --------------------------------------------------------------------


def test_snapshots_append_only_on_change_and_answer_as_of() -> None:
    store = Store.memory()
    props = schema_to_json(BASE)
    record = dict(database_id="db", source_id="ds", source_name="Bottlenecks")
    assert schemas.record_schema(store, **record, properties=props, now=100.0) is True
    assert schemas.record_schema(store, **record, properties=props, now=200.0) is False
    renamed = schema_to_json(changed(**{"%3AUPp": P("%3AUPp", "Priority", "select")}))
    assert schemas.record_schema(store, **record, properties=renamed, now=300.0) is True
    history = schemas.schema_history(store, "db", "ds")
    assert [(s.recorded_at, s.seen_at) for s in history] == [(100.0, 200.0), (300.0, 300.0)]
    assert schemas.latest_schema(store, "db", "ds").properties == renamed  # type: ignore[union-attr]
    assert schemas.schema_as_of(store, "db", "ds", 250.0).recorded_at == 100.0  # type: ignore[union-attr]
    assert schemas.schema_as_of(store, "db", "ds", 300.0).recorded_at == 300.0  # type: ignore[union-attr]
    assert schemas.schema_as_of(store, "db", "ds", 50.0).recorded_at == 100.0  # type: ignore[union-attr]
    assert schemas.schema_as_of(store, "db", "other", 50.0) is None
    assert schemas.prune_schemas(store, before=250.0) == 1
    assert schemas.prune_schemas(store, before=10_000.0) == 0  # the latest always stays
    assert [s.recorded_at for s in schemas.schema_history(store, "db", "ds")] == [300.0]


# --- against the sandbox ------------------------------------------------------------------------

VERSIONS = ("2022-06-28", "2025-09-03")


@pytest.mark.parametrize("version", VERSIONS)
def test_a_rename_in_notion_is_reported_as_a_rename_every_run(
    sandbox: Sandbox, version: str
) -> None:
    store = Store.memory()
    settings = settings_for(sandbox, version)
    first = by_check(run_entries(settings, {"kind": "notion.schema"}, store=store))
    assert first[("notion.schema", "bottlenecks")].status is Status.OK
    sandbox.rename_property("Bottlenecks Registry", "Severity", "Priority")
    for _ in range(2):  # still a rename once the new name is the recorded one
        result = by_check(run_entries(settings, {"kind": "notion.schema"}, store=store))[
            ("notion.schema", "bottlenecks")]
        assert (result.status, result.summary) == (
            Status.WARNING, "Severity is now named Priority")
        assert result.details["hint"] == SCHEMA_RENAME_HINT
        assert "missing" not in result.summary
    key = DATA_SOURCES["Bottlenecks Registry"]["Bottlenecks Registry"] if version != (
        "2022-06-28") else DATABASES["Bottlenecks Registry"]
    kept = store.run(schemas.schema_history, DATABASES["Bottlenecks Registry"], key)
    assert len(kept) == 2  # one row per distinct schema, not per run


def test_retype_and_drop_keep_their_messages_with_history(sandbox: Sandbox) -> None:
    store = Store.memory()
    settings = settings_for(sandbox)
    run_entries(settings, {"kind": "notion.schema"}, store=store)
    sandbox.drop_property("Bottlenecks Registry", "Severity")
    sandbox.retype_property("Bottlenecks Registry", "Status", "rich_text")
    result = by_check(run_entries(settings, {"kind": "notion.schema"}, store=store))[
        ("notion.schema", "bottlenecks")]
    assert (result.status, result.value) == (Status.CRITICAL, 2)
    assert result.summary.startswith(
        "missing Severity; mistyped Status (rich_text, expected select)")
    assert [c["summary"] for c in result.details["changes"]] == [
        "Status changed type from select to rich_text", "Severity was removed (was select)"]


def test_a_removed_option_a_playbook_filter_uses_is_a_warning(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    (tmp_path / "watch.toml").write_text(
        'name = "watch"\n[[checks]]\nname = "bottlenecks.open"\nkind = "notion.count"\n'
        'database = "bottlenecks"\n'
        'filter = \'{"property": "Status", "select": {"does_not_equal": "Complete"}}\'\n')
    base = settings_for(sandbox)
    settings = Settings(notion=base.notion, scheduler={"playbooks_dir": str(tmp_path)})
    store = Store.memory()
    assert by_check(run_entries(settings, {"kind": "notion.schema"}, store=store))[
        ("notion.schema", "bottlenecks")].status is Status.OK
    sandbox.remove_option("Bottlenecks Registry", "Status", "Complete")
    result = by_check(run_entries(settings, {"kind": "notion.schema"}, store=store))[
        ("notion.schema", "bottlenecks")]
    assert (result.status, result.value) == (Status.WARNING, 0)
    assert result.summary == ("the filter of bottlenecks.open uses option 'Complete', which "
                              "Status no longer has")
    assert result.details["options_missing"] == [
        {"check": "bottlenecks.open", "property": "Status", "option": "Complete",
         "removed": True, "renamed_to": None}]


# --- the sandbox's schema shapes ------------------------------------------------------------------

HEADERS = {"Authorization": f"Bearer {SANDBOX_TOKEN}", "Notion-Version": "2025-09-03"}
FIXES_DS = DATA_SOURCES["Optimization Fixes"]["Optimization Fixes"]


def test_sandbox_sends_url_encoded_ids_and_the_computed_types(sandbox: Sandbox) -> None:
    with httpx.Client(base_url=sandbox.url, headers=HEADERS) as client:
        schema = client.get(f"/v1/data_sources/{FIXES_DS}").json()["properties"]
        pages = client.post(f"/v1/data_sources/{FIXES_DS}/query",
                            json={}).json()["results"]
    assert schema["Fix Title"]["id"] == "title"
    assert any("%" in p["id"] for p in schema.values())
    assert all(unquote(p["id"]) != p["id"] or p["id"].isalnum() for p in schema.values())
    types = {p["type"] for p in schema.values()}
    assert {"formula", "rollup", "unique_id", "button", "place", "created_by",
            "last_edited_by"} <= types
    assert schema["Fix ID"]["unique_id"] == {"prefix": "FIX"}
    assert schema["Bottleneck Count"]["rollup"]["function"] == "count"
    assert schema["Bottleneck Count"]["rollup"]["relation_property_id"] == (
        schema["Related Bottleneck"]["id"])
    values = [page["properties"] for page in pages]
    assert sorted(v["Fix ID"]["unique_id"]["number"] for v in values) == list(range(1, 41))
    assert {v["Fix ID"]["unique_id"]["prefix"] for v in values} == {"FIX"}
    for v in values:
        checked = sum(v[n]["checkbox"] for n in ("Local Status", "Staging Status",
                                                 "Production Status"))
        assert v["Environments Live"]["formula"] == {"type": "number", "number": checked}
        assert v["Bottleneck Count"]["rollup"] == {
            "type": "number", "number": len(v["Related Bottleneck"]["relation"]),
            "function": "count"}
        assert v["Mark Deployed"] == {"id": schema["Mark Deployed"]["id"], "type": "button",
                                      "button": {}}
        assert v["Created By"]["created_by"]["object"] == "user"
    places = {v["Fix ID"]["unique_id"]["number"]: v["Site"]["place"] for v in values}
    assert places[1] is None and places[2]["name"] == "Cebu Field Site"
    assert places[3]["name"] == "Manila Office" and places[4] is None


def test_sandbox_filters_accept_a_property_id_encoded_or_not(sandbox: Sandbox) -> None:
    with httpx.Client(base_url=sandbox.url, headers=HEADERS) as client:
        schema = client.get(f"/v1/data_sources/{FIXES_DS}").json()["properties"]
        prop_id = schema["Implementation Status"]["id"]
        counts = []
        for wanted in ("Implementation Status", prop_id, unquote(prop_id)):
            body = {"filter": {"property": wanted, "select": {"equals": "Deployed"}}}
            reply = client.post(f"/v1/data_sources/{FIXES_DS}/query", json=body)
            assert reply.status_code == 200, reply.text
            counts.append(len(reply.json()["results"]))
    assert counts[0] > 0 and counts == [counts[0]] * 3


def test_sandbox_admin_renames_and_removes_options_at_run_time(sandbox: Sandbox) -> None:
    ds = DATA_SOURCES["Bottlenecks Registry"]["Bottlenecks Registry"]
    with httpx.Client(base_url=sandbox.url, headers=HEADERS) as client:
        before = client.get(f"/v1/data_sources/{ds}").json()["properties"]
        pages_before = client.post(f"/v1/data_sources/{ds}/query", json={}).json()["results"]
        for action, body in (
            ("rename_property", {"database": "Bottlenecks Registry", "prop": "Severity",
                                 "new_name": "Priority"}),
            ("remove_option", {"database": "Bottlenecks Registry", "prop": "Status",
                               "option": "Complete"}),
        ):
            assert client.post(f"/__sandbox/{action}", json=body).status_code == 200
        refused = client.post("/__sandbox/remove_option", json={
            "database": "Bottlenecks Registry", "prop": "Status", "option": "Complete"})
        after = client.get(f"/v1/data_sources/{ds}").json()["properties"]
        pages = client.post(f"/v1/data_sources/{ds}/query", json={}).json()["results"]
    assert refused.status_code == 400 and "no option 'Complete'" in refused.text
    assert list(after) == [("Priority" if n == "Severity" else n) for n in before]
    assert after["Priority"]["id"] == before["Severity"]["id"]
    assert after["Priority"]["select"] == before["Severity"]["select"]
    assert [o["name"] for o in after["Status"]["select"]["options"]] == [
        "Not Started", "In Progress", "Testing"]
    severities = [p["properties"]["Severity"]["select"] for p in pages_before]
    assert [p["properties"]["Priority"]["select"] for p in pages] == severities
    statuses = [p["properties"]["Status"]["select"] for p in pages_before]
    assert any(s and s["name"] == "Complete" for s in statuses)
    assert [p["properties"]["Status"]["select"] for p in pages] == [
        None if s and s["name"] == "Complete" else s for s in statuses]


def test_the_shipped_daily_where_is_read_for_options(sandbox: Sandbox) -> None:
    # playbooks/daily.toml: where = { Severity = "Critical", Status = "!Complete" }
    store = Store.memory()
    settings = settings_for(sandbox)
    run_entries(settings, {"kind": "notion.schema"}, store=store)
    sandbox.remove_option("Bottlenecks Registry", "Status", "Complete")
    result = by_check(run_entries(settings, {"kind": "notion.schema"}, store=store))[
        ("notion.schema", "bottlenecks")]
    assert (result.status, result.summary) == (
        Status.WARNING, "the filter of notion.critical_bottlenecks uses option 'Complete', "
                        "which Status no longer has")


def test_a_renamed_option_in_notion_is_named_by_notion_schema_and_the_diff(
    sandbox: Sandbox, tmp_path: Path, opsd_cli: Any
) -> None:
    config = write_config(tmp_path, sandbox)  # bottlenecks.open: Status does_not_equal Complete
    # --record keeps the schema seen now (a plain plugin poll compares without keeping it).
    assert opsd_cli("--config", config, "check", "notion.schema", "--record").code == 0
    with httpx.Client(base_url=sandbox.url, headers=HEADERS) as client:
        body = {"database": "Bottlenecks Registry", "prop": "Status", "option": "Complete",
                "new_name": "Done"}
        assert client.post("/__sandbox/rename_option", json=body).status_code == 200
        again = client.post("/__sandbox/rename_option", json=body)
    assert again.status_code == 400 and "no option 'Complete'" in again.text
    drifted = opsd_cli("--config", config, "check", "notion.schema", "--json")
    [result] = json.loads(drifted.out)["results"]
    assert (result["status"], result["summary"]) == (
        "WARNING", "the filter of bottlenecks.open uses option 'Complete', which Status now "
                   "calls 'Done'")
    assert result["details"]["hint"] == SCHEMA_OPTION_RENAME_HINT
    diff = opsd_cli("--config", config, "schema", "bottlenecks", "--diff", "7d")
    assert diff.code == 0, diff.out + diff.err
    assert diff.out.splitlines()[-1] == "  Status option 'Complete' is now named 'Done'"


def test_sandbox_rename_option_keeps_the_id_and_page_values(sandbox: Sandbox) -> None:
    ds = DATA_SOURCES["Bottlenecks Registry"]["Bottlenecks Registry"]
    with httpx.Client(base_url=sandbox.url, headers=HEADERS) as client:
        before = client.get(f"/v1/data_sources/{ds}").json()["properties"]["Status"]
        sandbox.rename_option("Bottlenecks Registry", "Status", "Complete", "Done")
        after = client.get(f"/v1/data_sources/{ds}").json()["properties"]["Status"]
        done = {"property": "Status", "select": {"equals": "Done"}}
        pages = client.post(f"/v1/data_sources/{ds}/query", json={"filter": done}).json()
    old = {o["id"]: o["name"] for o in before["select"]["options"]}
    new = {o["id"]: o["name"] for o in after["select"]["options"]}
    assert list(new) == list(old) and all(new.values())
    assert {i: n for i, n in new.items() if old[i] != n} == {
        next(i for i, n in old.items() if n == "Complete"): "Done"}
    assert pages["results"] and all(
        p["properties"]["Status"]["select"]["name"] == "Done" for p in pages["results"])
    with pytest.raises(SandboxError, match="already has an option named 'Testing'"):
        sandbox.rename_option("Bottlenecks Registry", "Status", "Done", "Testing")
