"""The real `opsd schema` command against the real sandbox: the table, --json, --diff after a
rename in Notion, `opsd check notion.schema` saying "renamed" (never "missing"), and one-line
errors with exit 3 for an unknown database, a bad --diff and an unreadable database."""

from __future__ import annotations

import json
from pathlib import Path

from opsd.sandbox import DATA_SOURCES, DATABASES, SANDBOX_TOKEN, Sandbox
from tests.conftest import render_toml

BOTTLENECKS_DS = DATA_SOURCES["Bottlenecks Registry"]["Bottlenecks Registry"]


def write_config(tmp_path: Path, sandbox: Sandbox) -> str:
    playbooks = tmp_path / "playbooks"
    playbooks.mkdir()
    (playbooks / "notion.toml").write_text(render_toml({
        "name": "notion",
        "checks": [
            {"kind": "notion.schema"},
            {"name": "bottlenecks.open", "kind": "notion.count", "database": "bottlenecks",
             "filter": '{"property": "Status", "select": {"does_not_equal": "Complete"}}'},
        ],
    }))
    config = tmp_path / "opsd.toml"
    config.write_text(render_toml({
        "notion": {"token": SANDBOX_TOKEN, "base_url": sandbox.url, "rate_limit": 1000,
                   "burst": 100},
        "notion.databases": [
            {"name": "bottlenecks", "id": DATABASES["Bottlenecks Registry"],
             "required_properties": {"Bottleneck Name": "title", "Severity": "select"}},
        ],
        "storage": {"path": str(tmp_path / "opsd.db")},
        "scheduler": {"playbooks_dir": str(playbooks)},
    }))
    return str(config)


def test_schema_table_json_and_diff_after_a_rename(
    tmp_path: Path, sandbox: Sandbox, opsd_cli
) -> None:
    config = write_config(tmp_path, sandbox)
    table = opsd_cli("--config", config, "schema", "bottlenecks")
    assert table.code == 0, table.out + table.err
    lines = table.out.splitlines()
    assert lines[0] == f"bottlenecks: data source 'Bottlenecks Registry' ({BOTTLENECKS_DS})"
    assert lines[1].split() == ["ID", "NAME", "TYPE", "OPTIONS"]
    assert lines[2].split() == ["title", "Bottleneck", "Name", "title"]
    severity = next(line for line in lines if " Severity " in line)
    assert severity.split()[2:] == ["select", "Critical,", "High,", "Medium"]

    first = json.loads(opsd_cli("--config", config, "schema", "bottlenecks", "--json").out)
    assert (first["database"], first["changes"]) == ("bottlenecks", [])
    [source] = first["data_sources"]
    assert (source["id"], source["name"]) == (BOTTLENECKS_DS, "Bottlenecks Registry")
    by_name = {p["name"]: p for p in source["properties"]}
    assert by_name["Bottleneck Name"] == {"id": "title", "name": "Bottleneck Name",
                                          "type": "title", "options": []}
    assert by_name["Status"]["options"] == ["Not Started", "In Progress", "Testing", "Complete"]
    severity_id = by_name["Severity"]["id"]

    sandbox.rename_property("Bottlenecks Registry", "Severity", "Priority")
    diff = opsd_cli("--config", config, "schema", "bottlenecks", "--diff", "7d")
    assert diff.code == 0, diff.out + diff.err
    rows = diff.out.splitlines()
    renamed = next(line.split() for line in rows if line.startswith(severity_id + " "))
    assert renamed[1:3] == ["Priority", "select"]
    tail = rows[-2:]
    assert tail[0].startswith("Bottlenecks Registry: changes since ")
    assert tail[0].endswith("(the oldest recorded schema; asked for 7d):")
    assert tail[1] == "  Severity is now named Priority"

    data = json.loads(opsd_cli("--config", config, "schema", "bottlenecks", "--diff", "7d",
                               "--json").out)
    assert data["changes"] == [{
        "data_source": "Bottlenecks Registry", "kind": "renamed", "property_id": severity_id,
        "name": "Priority", "old": "Severity", "new": "Priority",
        "summary": "Severity is now named Priority"}]
    assert data["data_sources"][0]["compared_with"] <= data["since"] + 7 * 86400


def test_check_reports_the_rename_and_the_removed_option(
    tmp_path: Path, sandbox: Sandbox, opsd_cli
) -> None:
    config = write_config(tmp_path, sandbox)
    healthy = opsd_cli("--config", config, "check", "notion.schema", "--record")
    assert (healthy.code, healthy.out.split(" - ")[0]) == (0, "OK"), healthy.out + healthy.err
    sandbox.rename_property("Bottlenecks Registry", "Severity", "Priority")
    sandbox.remove_option("Bottlenecks Registry", "Status", "Complete")
    drifted = opsd_cli("--config", config, "check", "notion.schema", "--json")
    assert drifted.code == 1, drifted.out + drifted.err
    [result] = json.loads(drifted.out)["results"]
    assert result["summary"] == (
        "Severity is now named Priority; the filter of bottlenecks.open uses option "
        "'Complete', which Status no longer has")
    assert result["details"]["hint"].startswith(
        "update required_properties / the playbook filters to the new name; do not add a new "
        "property.")
    assert "missing" not in result["summary"]


def test_bad_input_and_unreadable_notion_exit_3_with_one_line(
    tmp_path: Path, sandbox: Sandbox, opsd_cli
) -> None:
    config = write_config(tmp_path, sandbox)
    unknown = opsd_cli("--config", config, "schema", "nope")
    assert (unknown.code, unknown.out) == (3, "")
    assert unknown.err == ("opsd: opsd.toml: notion.databases: no database named 'nope' "
                           "(configured: bottlenecks)\n")
    bad = opsd_cli("--config", config, "schema", "bottlenecks", "--diff", "soon")
    assert bad.code == 3 and bad.err.startswith("opsd: --diff: not a duration")
    assert len(bad.err.splitlines()) == 1
    sandbox.unshare("Bottlenecks Registry")
    unshared = opsd_cli("--config", config, "schema", "bottlenecks")
    assert (unshared.code, unshared.out) == (3, "")
    assert unshared.err == ("opsd: cannot read the schema of bottlenecks from Notion: not found "
                            "or not shared with the integration (404 object_not_found)\n")
