"""`opsd scan --format sarif`: SARIF 2.1.0 valid against the official schema, places relative
to the scan root, the baseline's fingerprint, accepted findings suppressed, no secret."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from bench.secret_corpus import password
from opsd.secretscan import AuditRequest, ScanOptions, load_baseline, write_baseline
from opsd.secretscan.findings import Finding, ScanReport
from opsd.secretscan.sarif import FINGERPRINT_KEY, sarif_base, to_sarif
from tests.test_secret_cli import assert_nowhere
from tests.test_secret_scan import audit, tokens, write

SCHEMA = json.loads(
    (Path(__file__).parent / "data" / "sarif" / "sarif-schema-2.1.0.json").read_text()
)


def validate(document: dict[str, Any]) -> None:
    jsonschema.Draft4Validator(SCHEMA).validate(document)


def results(document: dict[str, Any]) -> list[dict[str, Any]]:
    (run,) = document["runs"]
    return run["results"]


def place(result: dict[str, Any]) -> tuple[str, str | None, int, int, int | None]:
    location = result["locations"][0]["physicalLocation"]
    region = location["region"]
    return (location["artifactLocation"]["uri"], location["artifactLocation"].get("uriBaseId"),
            region["startLine"], region["startColumn"], region.get("endColumn"))


def test_schema_rejects_what_it_should() -> None:
    """The vendored schema is the real one: a result without a message is invalid."""
    broken = {"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "opsd"}},
                                            "results": [{"ruleId": "x"}]}]}
    with pytest.raises(jsonschema.ValidationError):
        validate(broken)


def test_sarif_of_a_scan_is_valid_and_holds_no_secret(tmp_path: Path) -> None:
    token, other = tokens(2)
    db_password = password(random.Random(7))
    write(tmp_path / "app" / "src" / "client.py", f'notion = Client(auth="{token}")\n')
    write(tmp_path / "app" / "my config.env", f"# é\nDB_PASSWORD={db_password}\nT={other}\n",
          mode=0o644)
    report = audit(AuditRequest([tmp_path / "app"], ScanOptions()))
    document = to_sarif(report, tmp_path / "app")
    validate(document)
    (run,) = document["runs"]
    driver = run["tool"]["driver"]
    assert driver["name"] == "opsd" and driver["version"]
    assert [r["id"] for r in driver["rules"]] == ["generic-secret", "notion-token"]
    assert all(r["shortDescription"]["text"] and r["help"]["text"] for r in driver["rules"])
    assert run["originalUriBaseIds"]["SRCROOT"]["uri"] == (tmp_path / "app").as_uri() + "/"
    by_rule = {(r["ruleId"], place(r)[0]): r for r in results(document)}
    notion = by_rule["notion-token", "src/client.py"]
    assert place(notion) == ("src/client.py", "SRCROOT", 1, 23, 23 + len(token))
    assert notion["level"] == "error"
    assert notion["message"]["text"].endswith("ntn_…" + token[-4:])
    generic = by_rule["generic-secret", "my%20config.env"]
    assert place(generic)[2:] == (2, 13, 13 + len(db_password))
    assert generic["level"] == "warning"
    assert by_rule["notion-token", "my%20config.env"]["level"] == "error"
    fingerprints = {f.fingerprint for f in report.findings}
    assert {r["partialFingerprints"][FINGERPRINT_KEY] for r in results(document)} == fingerprints
    assert all(r["baselineState"] == "new" and "suppressions" not in r for r in results(document))
    (invocation,) = run["invocations"]
    assert invocation["executionSuccessful"] is True
    (note,) = invocation["toolExecutionNotifications"]
    assert note["message"]["text"].startswith("permissions: holds a secret and is readable by")
    assert note["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == (
        "my%20config.env"
    )
    assert_nowhere([token, other, db_password], json.dumps(document))


def test_accepted_findings_are_suppressed_and_keep_the_baseline_fingerprint(
    tmp_path: Path,
) -> None:
    known, fresh = tokens(2, seed=3)
    write(tmp_path / "tree" / "config.yaml", f"token: {known}\n")
    first = audit(AuditRequest([tmp_path / "tree"], ScanOptions()))
    write_baseline(tmp_path / "baseline.json", first.findings)
    write(tmp_path / "tree" / "config.yaml", f"# moved\ntoken: {known}\nother: {fresh}\n")
    report = audit(AuditRequest([tmp_path / "tree"], ScanOptions(),
                                baseline=load_baseline(tmp_path / "baseline.json")))
    document = to_sarif(report, tmp_path / "tree")
    validate(document)
    accepted, new = results(document)
    assert (place(accepted)[2], accepted["baselineState"]) == (2, "unchanged")
    assert accepted["suppressions"][0]["kind"] == "external"
    assert (place(new)[2], new["baselineState"], "suppressions" in new) == (3, "new", False)
    entries = json.loads((tmp_path / "baseline.json").read_text())["findings"]
    assert accepted["partialFingerprints"][FINGERPRINT_KEY] == entries[0]["fingerprint"]


def test_live_token_is_an_error_and_revoked_a_warning_whatever_the_rule() -> None:
    def finding(rule: str, **fields: Any) -> Finding:
        return Finding(rule=rule, path="a.env", line=1, column=1, fingerprint="f" * 64,
                       preview="…abcd", **fields)

    report = ScanReport(findings=[
        finding("notion-token", verdict="live", severity="CRITICAL"),
        finding("notion-token", verdict="revoked", severity="WARNING"),
        finding("generic-secret", severity="CRITICAL", note="the configured Notion token"),
        finding("team-rule"),
    ])
    document = to_sarif(report, Path("."), {"team-rule": "Our deploy key"})
    validate(document)
    assert [r["level"] for r in results(document)] == ["error", "warning", "error", "warning"]
    assert results(document)[0]["properties"] == {"verdict": "live"}
    rules = {r["id"]: r for r in document["runs"][0]["tool"]["driver"]["rules"]}
    assert rules["team-rule"]["shortDescription"]["text"] == "Our deploy key"
    assert "region" in results(document)[3]["locations"][0]["physicalLocation"]
    assert "endColumn" not in results(document)[3]["locations"][0]["physicalLocation"]["region"]


def test_paths_outside_the_root_are_absolute_uris(tmp_path: Path) -> None:
    report = ScanReport(findings=[Finding(
        rule="notion-token", path=str(tmp_path / "elsewhere" / "x.env"), line=1, column=1,
        fingerprint="0" * 64, preview="ntn_…abcd")])
    (result,) = results(to_sarif(report, tmp_path / "root"))
    location = result["locations"][0]["physicalLocation"]["artifactLocation"]
    assert location == {"uri": (tmp_path / "elsewhere" / "x.env").as_uri()}


def test_sarif_base_is_the_working_directory_else_the_directory_scanned(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path / "repo" / "src" / "a.py", "")
    write(tmp_path / "other" / "lib" / "b.py", "")
    monkeypatch.chdir(tmp_path / "repo")
    assert sarif_base([Path("src")]) == Path(".")
    assert sarif_base([Path("src/a.py"), Path(".")]) == Path(".")
    assert sarif_base([tmp_path / "other"]) == tmp_path / "other"
    assert sarif_base([tmp_path / "other" / "lib" / "b.py"]) == tmp_path / "other" / "lib"
    assert sarif_base([tmp_path / "other" / "lib", Path("src")]) == tmp_path


def test_cli_format_sarif_with_baseline_and_several_files(tmp_path: Path, opsd_cli) -> None:
    known, fresh = tokens(2, seed=5)
    write(tmp_path / "src" / "a.py", f'A = "{known}"\n')
    write(tmp_path / "src" / "b.py", f'B = "{fresh}"\n')
    assert opsd_cli("scan", "src/a.py", "--update-baseline", "base.json").code == 0
    result = opsd_cli("scan", "--format", "sarif", "--baseline", "base.json",
                      "src/a.py", "src/b.py")
    assert result.code == 2, result.err
    document = json.loads(result.out)
    validate(document)
    states = {place(r)[0]: r["baselineState"] for r in results(document)}
    assert states == {"src/a.py": "unchanged", "src/b.py": "new"}
    assert_nowhere([known, fresh], result.out, result.err)
    directory = json.loads(opsd_cli("scan", "--format", "sarif", "src").out)
    assert sorted(place(r)[:2] for r in results(directory)) == [
        ("src/a.py", "SRCROOT"), ("src/b.py", "SRCROOT")
    ]
    assert directory["runs"][0]["originalUriBaseIds"]["SRCROOT"]["uri"] == (
        tmp_path.as_uri() + "/"
    )
    json_out = opsd_cli("scan", "--format", "json", "src")
    assert json_out.code == 2 and len(json.loads(json_out.out)["findings"]) == 2
    clash = opsd_cli("scan", "--json", "--format", "sarif", "src")
    assert clash.code == 3 and clash.out == ""
    assert clash.err.splitlines() == [
        "opsd: scan: --json and --format sarif disagree: give one"
    ]
    clean = opsd_cli("scan", "--format", "sarif", "src/a.py", "--baseline", "base.json")
    assert clean.code == 0
    validate(json.loads(clean.out))
