"""Notion-Versions: config accepts 2022-06-28, 2025-09-03 and 2026-03-11; the sandbox answers
each with its own shapes (`in_trash` without `archived` from 2026-03-11, `workspace_id` on
users/me); the checks work under 2026-03-11; `notion.api_version` names what changes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from test_notion_checks import ANY_LATENCY, by_check, run_entries, settings_for

from opsd.config import NOTION_VERSIONS, Settings, load_settings
from opsd.errors import ConfigError
from opsd.notion import versions
from opsd.results import Status
from opsd.sandbox import DATA_SOURCES, DATABASES, SANDBOX_TOKEN, VERSIONS, Sandbox


def test_one_list_of_versions_for_config_sandbox_and_check() -> None:
    assert NOTION_VERSIONS == VERSIONS == versions.KNOWN == (
        "2022-06-28", "2025-09-03", "2026-03-11")
    assert versions.NEWEST == "2026-03-11"
    assert set(versions.CHANGES) == set(versions.KNOWN[1:])


def test_config_accepts_2026_03_11_and_names_the_choices(tmp_path: Path) -> None:
    assert Settings(notion={"notion_version": "2026-03-11"}).notion.notion_version == "2026-03-11"
    path = tmp_path / "opsd.toml"
    path.write_text('[notion]\nnotion_version = "2027-01-01"\n')
    with pytest.raises(ConfigError) as info:
        load_settings(path, env={})
    assert info.value.problems == ["opsd.toml: notion.notion_version: must be '2022-06-28', "
                                   "'2025-09-03' or '2026-03-11'"]


def get(sandbox: Sandbox, path: str, version: str, body: dict | None = None) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {SANDBOX_TOKEN}", "Notion-Version": version}
    if body is None:
        response = httpx.get(sandbox.url + path, headers=headers)
    else:
        response = httpx.post(sandbox.url + path, headers=headers, json=body)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.parametrize("version", ["2025-09-03", "2026-03-11"])
def test_sandbox_shapes_per_version(sandbox: Sandbox, version: str) -> None:
    database = get(sandbox, f"/v1/databases/{DATABASES['Bottlenecks Registry']}", version)
    source_id = DATA_SOURCES["Bottlenecks Registry"]["Bottlenecks Registry"]
    source = get(sandbox, f"/v1/data_sources/{source_id}", version)
    page = get(sandbox, f"/v1/data_sources/{source_id}/query", version, {"page_size": 1})
    objects = (database, source, page["results"][0])
    assert all(obj["in_trash"] is False for obj in objects)
    if version == "2026-03-11":
        assert not any("archived" in obj for obj in objects)
    else:
        assert all(obj["archived"] is False for obj in objects)
    assert database["data_sources"] == [{"id": source_id, "name": "Bottlenecks Registry"}]
    assert page["type"] == "page_or_data_source"
    me = get(sandbox, "/v1/users/me", version)
    assert me["bot"]["workspace_id"] and me["bot"]["workspace_name"]


def test_sandbox_refuses_an_unknown_version_naming_the_known_ones(sandbox: Sandbox) -> None:
    response = httpx.get(sandbox.url + "/v1/users/me", headers={
        "Authorization": f"Bearer {SANDBOX_TOKEN}", "Notion-Version": "2027-01-01"})
    assert response.status_code == 400
    assert "should be one of 2022-06-28, 2025-09-03, 2026-03-11" in response.json()["message"]


def test_the_checks_work_under_2026_03_11(sandbox: Sandbox) -> None:
    settings = settings_for(sandbox)
    settings.notion.notion_version = "2026-03-11"
    results = by_check(run_entries(
        settings,
        {"kind": "notion.auth", **ANY_LATENCY}, {"kind": "notion.access"},
        {"kind": "notion.schema"}, {"kind": "notion.latency", "samples": 1, **ANY_LATENCY},
        {"kind": "notion.count", "database": "tasks", "where": {"Status": "!Done"}},
        {"kind": "notion.api_version"},
    ))
    assert {key: r.status for key, r in results.items() if r.status is not Status.OK} == {}
    auth = results[("notion.auth", "")].details
    assert auth["notion_version"] == "2026-03-11"
    assert auth["workspace_id"] == get(sandbox, "/v1/users/me", "2026-03-11")["bot"]["workspace_id"]
    assert results[("notion.access", "")].summary.startswith("5/5 databases accessible")
    assert results[("notion.api_version", "")].summary == (
        "Notion-Version 2026-03-11 is the newest opsd knows")


@pytest.mark.parametrize(("version", "named"), [
    ("2025-09-03", ["2026-03-11: archived is renamed in_trash"]),
    ("2022-06-28", ["2025-09-03: databases hold data sources",
                    "2026-03-11: archived is renamed in_trash"]),
])
def test_api_version_warns_naming_what_changes(version: str, named: list[str]) -> None:
    settings = Settings(notion={"notion_version": version})
    [result] = run_entries(settings, {"kind": "notion.api_version"})
    assert result.status is Status.WARNING
    assert result.summary.startswith(f"Notion-Version {version} is older than 2026-03-11; ")
    assert [c[:len(n)] for c, n in zip(result.details["changes"], named, strict=True)] == named
    assert all(n in result.summary for n in named)
    assert "notion_version" in result.details["hint"]
