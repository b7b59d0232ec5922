"""Data sources as Notion really has them, against the local sandbox under both Notion-Versions:
a linked database, a database that gains a second data source, a data source not shared —
`notion.data_sources`, and `notion.access`, `count` and `latency` never OK without a readable
source; plus the pure comparison and the error texts."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from opsd.checks.notion_sources import compare_listings, listing_result
from opsd.config import DatabaseConfig
from opsd.notion.errors import classify_response
from opsd.notion.service import Source
from opsd.results import Status
from opsd.runbooks import DATA_SOURCES_CHANGED_HINT, NOTION_FAILURE_HINTS, SOURCE_NOT_SHARED_HINT
from opsd.sandbox import DATA_SOURCES, DATABASES, SANDBOX_TOKEN, Sandbox
from opsd.store import Store
from tests.conftest import render_toml
from tests.test_notion_checks import ANY_LATENCY, by_check, run_entries, settings_for

NOW = 1_780_000_000.0
BOTTLENECKS = [{"name": "bottlenecks", "id": DATABASES["Bottlenecks Registry"]}]
TASKS = [{"name": "tasks", "id": DATABASES["Task Management"]}]
ALL_KINDS = (
    {"kind": "notion.access"},
    {"kind": "notion.count", "database": "bottlenecks"},
    {"kind": "notion.latency", "samples": 2, **ANY_LATENCY},
    {"kind": "notion.data_sources"},
)


def run_all(sandbox: Sandbox, version: str, databases: list[dict], store: Store | None = None,
            entries: tuple[dict, ...] = ALL_KINDS) -> dict:
    settings = settings_for(sandbox, version, databases=databases)
    return by_check(run_entries(settings, *entries, store=store, clock=lambda: NOW))


# --- linked database -----------------------------------------------------------------------------


def test_a_linked_database_is_never_ok_under_2025(sandbox: Sandbox) -> None:
    sandbox.make_linked("Bottlenecks Registry")
    found = run_all(sandbox, "2025-09-03", BOTTLENECKS)
    none_listed = ("Notion lists no data source under the database (a linked database, or none "
                   "shared with the integration)")
    hint = NOTION_FAILURE_HINTS["no_accessible_source"]
    for check in ("notion.count", "notion.latency", "notion.data_sources"):
        result = found[(check, "bottlenecks")]
        assert (result.status, result.summary) == (Status.CRITICAL, none_listed), check
        assert result.details["problem"] == "no_accessible_source"
        assert result.details["hint"] == hint
    assert found[("notion.data_sources", "bottlenecks")].value == 0
    access = found[("notion.access", "")]
    assert (access.status, access.value) == (Status.CRITICAL, 0.0)
    assert access.summary.startswith(f"0/1 databases accessible; bottlenecks: {none_listed}")
    assert access.details["databases"] == {"bottlenecks": "no_accessible_source"}
    assert access.details["hint"] == hint


def test_a_linked_database_under_2022_gets_notions_error_and_its_own_hint(
    sandbox: Sandbox
) -> None:
    sandbox.make_linked("Bottlenecks Registry")
    found = run_all(sandbox, "2022-06-28", BOTTLENECKS)
    words = ("the database is a linked database (a view of another one), which the API cannot "
             "read (400 validation_error)")
    for check in ("notion.count", "notion.latency", "notion.data_sources"):
        result = found[(check, "bottlenecks")]
        assert (result.status, result.summary) == (Status.CRITICAL, words), check
        assert result.details["hint"] == NOTION_FAILURE_HINTS["linked_database"]
    access = found[("notion.access", "")]
    assert access.status is Status.CRITICAL
    assert access.details["databases"] == {"bottlenecks": "linked_database"}
    sandbox.make_linked("Bottlenecks Registry", linked=False)
    healthy = run_all(sandbox, "2022-06-28", BOTTLENECKS)
    assert {r.status for r in healthy.values()} == {Status.OK}


# --- a second data source ------------------------------------------------------------------------


def test_a_new_data_source_warns_once_then_is_the_new_normal(sandbox: Sandbox) -> None:
    store = Store.memory()
    only = {"kind": "notion.data_sources"}
    [first] = run_all(sandbox, "2025-09-03", BOTTLENECKS, store, (only,)).values()
    assert (first.status, first.summary, first.value) == (
        Status.OK, "1 data source: 'Bottlenecks Registry'", 1.0)
    assert first.details["previous"] is None  # the first run only records

    sandbox.add_data_source("Bottlenecks Registry", "Archive")
    [changed] = run_all(sandbox, "2025-09-03", BOTTLENECKS, store, (only,)).values()
    assert changed.status is Status.WARNING
    assert changed.summary == ("2 data sources: 'Bottlenecks Registry', 'Archive'; gained "
                               "'Archive' since the last run (breaks integrations pinned to "
                               "2022-06-28)")
    assert changed.details["added"] == ["Archive"] and changed.details["removed"] == []
    assert changed.details["hint"] == DATA_SOURCES_CHANGED_HINT
    assert changed.value == 2

    [settled] = run_all(sandbox, "2025-09-03", BOTTLENECKS, store, (only,)).values()
    assert (settled.status, settled.summary) == (
        Status.OK, "2 data sources: 'Bottlenecks Registry', 'Archive'")


def test_latency_and_count_cover_every_data_source(sandbox: Sandbox) -> None:
    sandbox.add_data_source("Bottlenecks Registry", "Archive")
    found = run_all(sandbox, "2025-09-03", BOTTLENECKS)
    latency = sorted(t for c, t in found if c == "notion.latency")
    assert latency == ["bottlenecks/Archive", "bottlenecks/Bottlenecks Registry"]
    assert all(found[("notion.latency", t)].status is Status.OK for t in latency)
    assert found[("notion.latency", "bottlenecks/Archive")].details["data_source"] == "Archive"
    count = found[("notion.count", "bottlenecks")]
    assert count.status is Status.OK
    assert count.details["per_source"] == {"Bottlenecks Registry": 36, "Archive": 3}
    assert sandbox.stats()["requests"]["POST /v1/data_sources/{id}/query"]["200"] >= 6


def test_a_second_data_source_breaks_2022_with_the_multi_source_hint(sandbox: Sandbox) -> None:
    sandbox.add_data_source("Bottlenecks Registry", "Archive")
    found = run_all(sandbox, "2022-06-28", BOTTLENECKS)
    words = ("the database has several data sources, which Notion-Version 2022-06-28 cannot "
             "read (400 validation_error)")
    for check in ("notion.count", "notion.latency", "notion.data_sources"):
        result = found[(check, "bottlenecks")]
        assert (result.status, result.summary) == (Status.CRITICAL, words), check
        assert result.details["problem"] == "multiple_sources"
        assert "2025-09-03" in result.details["hint"]
    assert found[("notion.access", "")].details["databases"] == {"bottlenecks": "multiple_sources"}


def test_a_single_source_database_under_2022_is_read_as_one(sandbox: Sandbox) -> None:
    [result] = run_all(sandbox, "2022-06-28", BOTTLENECKS,
                       entries=({"kind": "notion.data_sources"},)).values()
    assert result.status is Status.OK and result.value == 1
    assert result.summary.startswith("read as one database under Notion-Version 2022-06-28")


# --- data sources not shared ---------------------------------------------------------------------


def test_one_unshared_data_source_warns_and_fails_its_own_latency(sandbox: Sandbox) -> None:
    sandbox.unshare_data_source("Sprint Backlog")
    found = run_all(sandbox, "2025-09-03", TASKS, entries=(
        {"kind": "notion.data_sources"}, {"kind": "notion.latency", "samples": 1, **ANY_LATENCY},
        {"kind": "notion.access"}))
    listing = found[("notion.data_sources", "tasks")]
    assert listing.status is Status.WARNING
    assert listing.summary == ("2 data sources: 'Tasks', 'Sprint Backlog'; 'Sprint Backlog' not "
                               "shared with the integration")
    assert listing.details["hint"] == SOURCE_NOT_SHARED_HINT
    assert [s["readable"] for s in listing.details["data_sources"]] == [True, False]
    assert found[("notion.latency", "tasks/Tasks")].status is Status.OK
    unshared = found[("notion.latency", "tasks/Sprint Backlog")]
    assert unshared.status is Status.CRITICAL and unshared.details["problem"] == "not_found"
    assert found[("notion.access", "")].status is Status.OK  # one source is still readable


def test_no_shared_data_source_is_critical_everywhere_under_2025(sandbox: Sandbox) -> None:
    sandbox.unshare_data_source("Task Management")
    found = run_all(sandbox, "2025-09-03", TASKS, entries=(
        {"kind": "notion.data_sources"}, {"kind": "notion.access"},
        {"kind": "notion.count", "database": "tasks"}))
    listing = found[("notion.data_sources", "tasks")]
    assert (listing.status, listing.summary) == (
        Status.CRITICAL,
        "no data source the integration can read ('Tasks', 'Sprint Backlog' not shared)")
    assert listing.value == 2
    assert listing.details["hint"] == NOTION_FAILURE_HINTS["no_accessible_source"]
    assert found[("notion.access", "")].details["databases"] == {"tasks": "no_accessible_source"}
    count = found[("notion.count", "tasks")]
    assert count.status is Status.CRITICAL and count.details["problem"] == "no_accessible_source"


def test_no_shared_data_source_under_2022_gets_notions_error(sandbox: Sandbox) -> None:
    sandbox.unshare_data_source("Bottlenecks Registry")
    found = run_all(sandbox, "2022-06-28", BOTTLENECKS)
    words = "the database has no data source the integration can read (400 validation_error)"
    for check in ("notion.count", "notion.latency", "notion.data_sources"):
        result = found[(check, "bottlenecks")]
        assert (result.status, result.summary) == (Status.CRITICAL, words), check
        assert result.details["hint"] == NOTION_FAILURE_HINTS["no_accessible_source"]
    sandbox.share_data_source("Bottlenecks Registry")
    assert {r.status for r in run_all(sandbox, "2022-06-28", BOTTLENECKS).values()} == {
        Status.OK}


def test_the_cli_remembers_the_listing_between_processes(
    tmp_path: Path, sandbox: Sandbox, opsd_cli
) -> None:
    playbooks = tmp_path / "playbooks"
    playbooks.mkdir()
    (playbooks / "sources.toml").write_text(render_toml(
        {"name": "sources", "checks": [{"kind": "notion.data_sources"}]}))
    config = tmp_path / "opsd.toml"
    config.write_text(render_toml({
        "notion": {"token": SANDBOX_TOKEN, "base_url": sandbox.url, "rate_limit": 1000,
                   "burst": 100},
        "notion.databases": TASKS,
        "storage": {"path": str(tmp_path / "state" / "opsd.db")},
        "scheduler": {"playbooks_dir": str(playbooks)},
    }))
    # --record keeps the listing as the baseline; a plain plugin poll compares only.
    check = ("--config", str(config), "check", "notion.data_sources", "--record")
    first = opsd_cli(*check)
    assert (first.code, first.out.split(" | ")[0]) == (
        0, "OK - 2 data sources: 'Tasks', 'Sprint Backlog'")
    sandbox.add_data_source("Task Management", "Retro Notes")
    changed = opsd_cli(*check)
    assert changed.code == 1, changed.out + changed.err
    assert changed.out.startswith("WARNING - 3 data sources: 'Tasks', 'Sprint Backlog', "
                                  "'Retro Notes'; gained 'Retro Notes' since the last run")
    assert opsd_cli(*check).code == 0


# --- the sandbox's switches ---------------------------------------------------------------------


def test_sandbox_admin_api_switches_data_sources(sandbox: Sandbox) -> None:
    headers = {"Authorization": f"Bearer {SANDBOX_TOKEN}", "Notion-Version": "2025-09-03"}
    db_id = DATABASES["Deployment Log"]
    with httpx.Client(base_url=sandbox.url, headers=headers) as client:
        def admin(action: str, **body: object) -> httpx.Response:
            return client.post(f"/__sandbox/{action}", json=body)

        assert admin("add_data_source", database="Deployment Log", name="Hotfixes").is_success
        listed = client.get(f"/v1/databases/{db_id}").json()["data_sources"]
        assert [ds["name"] for ds in listed] == ["Deployment Log", "Hotfixes"]
        again = admin("add_data_source", database="Deployment Log", name="Hotfixes")
        assert again.status_code == 400 and "already has" in again.json()["error"]

        assert admin("unshare_data_source", source="Hotfixes").is_success
        hotfixes = listed[1]["id"]
        assert client.get(f"/v1/data_sources/{hotfixes}").status_code == 404
        stats = client.get("/__sandbox/stats").json()["databases"]["Deployment Log"]
        assert stats["data_sources"]["Hotfixes"] == {"id": hotfixes, "shared": False}

        assert admin("make_linked", database="Deployment Log").is_success
        assert client.get(f"/v1/databases/{db_id}").json()["data_sources"] == []
        source = DATA_SOURCES["Deployment Log"]["Deployment Log"]
        assert client.get(f"/v1/data_sources/{source}").status_code == 404
        legacy = client.get(f"/v1/databases/{db_id}", headers={"Notion-Version": "2022-06-28"})
        assert legacy.status_code == 400
        assert legacy.json()["message"] == (f"Database with ID {db_id} is a linked database. "
                                            "Database retrievals do not support linked databases.")
        assert admin("reset").is_success
        assert len(client.get(f"/v1/databases/{db_id}").json()["data_sources"]) == 1


# --- pure parts ----------------------------------------------------------------------------------


def test_compare_listings_by_id() -> None:
    previous = {"a": "Tasks", "b": "Backlog", "c": "Old"}
    current = {"a": "Tasks", "b": "Sprint Backlog", "d": "New"}
    assert compare_listings(previous, current) == (
        ["New"], ["Old"], [("Backlog", "Sprint Backlog")])
    assert compare_listings(current, current) == ([], [], [])


def test_listing_result_names_losses_and_renames() -> None:
    db = DatabaseConfig(name="tasks", id=DATABASES["Task Management"])
    sources = [Source("Todo", "data_sources/a/query", id="a")]
    lost = listing_result(db, sources, {"a": "Tasks", "b": "Sprint Backlog"})
    assert lost.status is Status.WARNING
    assert lost.summary == ("1 data source: 'Todo'; lost 'Sprint Backlog' since the last run "
                            "(breaks integrations pinned to 2022-06-28); 'Tasks' is now named "
                            "'Todo'")
    assert lost.details["renamed"] == [{"from": "Tasks", "to": "Todo"}]
    renamed_only = listing_result(db, sources, {"a": "Tasks"})
    assert renamed_only.status is Status.OK and "hint" not in renamed_only.details


@pytest.mark.parametrize(("message", "kind"), [
    ("Databases with multiple data sources are not supported in this API version.",
     "multiple_sources"),
    ("Database with ID 4c3bfdf0-7d81-47d5-b9ce-695e154a33f6 is a linked database. Database "
     "retrievals do not support linked databases.", "linked_database"),
    ("Database with ID 4c3bfdf0-7d81-47d5-b9ce-695e154a33f6 does not contain any data sources "
     "accessible by this API bot.", "no_accessible_source"),
    ("body failed validation: body.filter should be an object.", "bad_request"),
])
def test_notions_data_source_texts_become_their_own_failures(message: str, kind: str) -> None:
    body = json.dumps({"object": "error", "status": 400, "code": "validation_error",
                       "message": message})
    error = classify_response(400, body, {}, NOW)
    assert error.kind == kind
    assert error.hint == NOTION_FAILURE_HINTS[kind]
    assert str(error).endswith("(400 validation_error)")


@pytest.mark.parametrize("where", [None, {"Status": "!Done"}])
def test_count_leaves_out_an_unshared_data_source_and_says_so(
        sandbox: Sandbox, where: dict | None) -> None:
    sandbox.unshare_data_source("Sprint Backlog")
    entry = {"kind": "notion.count", "database": "tasks", **({"where": where} if where else {})}
    found = run_all(sandbox, "2025-09-03", TASKS, entries=(entry,))
    result = found[("notion.count", "tasks")]
    assert result.status is Status.OK
    assert result.summary.endswith("; not counted: Sprint Backlog (not shared with the "
                                   "integration)")
    assert list(result.details["per_source"]) == ["Tasks"]
    assert result.details["not_readable"] == ["Sprint Backlog"]


def test_one_run_reads_each_database_once_for_access_schema_and_data_sources(
        sandbox: Sandbox) -> None:
    found = run_all(sandbox, "2025-09-03", BOTTLENECKS + TASKS, entries=(
        {"kind": "notion.access"}, {"kind": "notion.schema"}, {"kind": "notion.data_sources"}))
    assert {found[key].status for key in found} == {Status.OK}
    requests = sandbox.stats()["requests"]
    assert requests["GET /v1/databases/{id}"] == {"200": 2}
    assert requests["GET /v1/data_sources/{id}"] == {"200": 3}  # 1 + 2 data sources
