"""Grafana dashboard, provisioning and Prometheus rules: valid, tested with promtool, and
naming only metrics opsd exports."""

from __future__ import annotations

import json
import re
import subprocess

import pytest
import yaml

from opsd import metrics
from opsd.proxy import metrics as proxy_metrics  # noqa: F401 (registers opsd proxy's)
from opsd.reports import slo_metrics  # noqa: F401 (registers the SLO gauges)
from tests.conftest import REPO

GRAFANA = REPO / "grafana"
RULES = GRAFANA / "prometheus"
_METRIC = re.compile(r"\b((?:opsd|process)_[a-z0-9_]+)")


def exported_families() -> set[str]:
    return {family.name for family in metrics.REGISTRY.collect()}


def family_of(series: str) -> str:
    """`opsd_notion_requests_total` -> `opsd_notion_requests` (the family a sample belongs to)."""
    return re.sub(r"_(total|bucket|count|sum|info)$", "", series)


def dashboard_exprs() -> list[str]:
    dashboard = json.loads((GRAFANA / "dashboards" / "opsd.json").read_text())
    return [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]


def rule_exprs() -> list[str]:
    rules = yaml.safe_load((RULES / "opsd-rules.yml").read_text())
    return [rule["expr"] for group in rules["groups"] for rule in group["rules"]]


@pytest.mark.parametrize("args", [
    ["check", "rules", "opsd-rules.yml"],
    ["test", "rules", "opsd-rules.test.yml"],
    ["check", "config", "prometheus.yml"],
])
def test_promtool(promtool, args):
    done = subprocess.run([promtool, *args], cwd=RULES, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout + done.stderr


@pytest.mark.parametrize("source", ["dashboard", "rules"])
def test_only_exported_metrics_are_queried(source):
    exprs = dashboard_exprs() if source == "dashboard" else rule_exprs()
    used = {family_of(name) for expr in exprs for name in _METRIC.findall(expr)}
    assert used, "no metric names found"
    assert used - exported_families() == set()


def test_dashboard_is_well_formed():
    dashboard = json.loads((GRAFANA / "dashboards" / "opsd.json").read_text())
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids)) >= 10
    assert dashboard["uid"] == "opsd-overview"
    variables = {v["name"] for v in dashboard["templating"]["list"]}
    assert {"datasource", "job"} <= variables
    for panel in dashboard["panels"]:
        assert panel["datasource"]["uid"] == "${datasource}"
        assert all('job=~"$job"' in t["expr"] for t in panel["targets"]), panel["title"]


def test_provisioning_points_at_prometheus_and_the_dashboard_directory():
    datasources = yaml.safe_load((GRAFANA / "provisioning/datasources/opsd.yaml").read_text())
    assert [d["type"] for d in datasources["datasources"]] == ["prometheus"]
    providers = yaml.safe_load((GRAFANA / "provisioning/dashboards/opsd.yaml").read_text())
    assert providers["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards/opsd"
    scrape = yaml.safe_load((RULES / "prometheus.yml").read_text())
    assert scrape["scrape_configs"][0]["static_configs"][0]["targets"] == ["127.0.0.1:9464"]


# --- a dashboard that renders right ---------------------------------------------------------

PROVISIONED = yaml.safe_load((GRAFANA / "provisioning/datasources/opsd.yaml").read_text())
_RANGE = re.compile(r"\[([^\]]+)\]")


def dashboard() -> dict:
    return json.loads((GRAFANA / "dashboards" / "opsd.json").read_text())


def datasource_refs(node: object) -> list[object]:
    """Every `datasource` value anywhere in the dashboard (panels, targets, variables)."""
    found: list[object] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "datasource":
                found.append(value)
            found.extend(datasource_refs(value))
    elif isinstance(node, list):
        for item in node:
            found.extend(datasource_refs(item))
    return found


def test_every_panel_has_a_description_a_unit_and_stats_have_thresholds():
    for panel in dashboard()["panels"]:
        defaults = panel["fieldConfig"]["defaults"]
        assert panel["description"].strip(), panel["title"]
        assert defaults["unit"], panel["title"]
        steps = defaults["thresholds"]["steps"]
        assert steps[0]["value"] is None, panel["title"]  # the base colour
        if panel["type"] == "stat":
            assert len(steps) >= 2, f"{panel['title']}: a stat needs a threshold to turn red"
            assert {"red"} & {step["color"] for step in steps}, panel["title"]


def test_variables_offer_all_and_the_provisioned_datasource_is_current():
    variables = {v["name"]: v for v in dashboard()["templating"]["list"]}
    provisioned = PROVISIONED["datasources"][0]
    assert variables["datasource"]["current"]["value"] == provisioned["uid"]
    assert variables["datasource"]["current"]["text"] == provisioned["name"]
    for name in ("job", "workspace", "instance"):
        assert variables[name]["includeAll"] and variables[name]["multi"], name
        assert variables[name]["current"]["value"] == ["$__all"], name
    assert '$job' in variables["instance"]["definition"]
    # A fleet: pick workspaces, then their instances (an HA pair is two of one workspace).
    assert '$workspace' in variables["instance"]["definition"]
    assert "workspace)" in variables["workspace"]["definition"]


def test_no_datasource_uid_is_hard_coded():
    refs = datasource_refs(dashboard())
    assert refs
    assert all(ref == {"type": "prometheus", "uid": "${datasource}"} for ref in refs), refs


def test_queries_filter_by_job_and_instance_and_use_the_rate_interval():
    for expr in dashboard_exprs():
        assert 'job=~"$job"' in expr and 'instance=~"$instance"' in expr, expr
        # Every opsd series has `workspace`; Prometheus' own `up` has not ($instance narrows it).
        assert expr.startswith("up{") or 'workspace=~"$workspace"' in expr, expr
        assert all(window == "$__rate_interval" for window in _RANGE.findall(expr)), expr


def test_per_check_series_are_labelled_playbook_slash_target_and_up_has_a_panel():
    panels = dashboard()["panels"]
    for panel in panels:
        for target in panel["targets"]:
            per_check = re.search(r"opsd_(check_value|http_cert_expiry)", target["expr"])
            if per_check and panel["type"] == "timeseries":
                assert target["legendFormat"] == "{{playbook}}/{{target}}", panel["title"]
    assert any(re.match(r"up\{", t["expr"]) for p in panels for t in p["targets"])


def worst_status_panel() -> dict:
    return next(p for p in dashboard()["panels"] if p["title"] == "Worst check status")


def rendered(expr: str) -> str:
    """A dashboard query as Grafana sends it with every variable at All."""
    return (expr.replace("$job", ".+").replace("$instance", ".+")
            .replace("$workspace", ".*").replace("$__rate_interval", "2m"))


def test_dashboard_queries_are_promql_and_worst_status_ranks_critical_over_unknown(
    promtool, tmp_path
):
    # Every query parses (as a recording rule: promtool checks its PromQL).
    exprs = [rendered(expr) for expr in dashboard_exprs()]
    rules = {"groups": [{"name": "dashboard", "rules": [
        {"record": f"dashboard:query_{index}", "expr": expr} for index, expr in enumerate(exprs)
    ]}]}
    (tmp_path / "dashboard-rules.yml").write_text(yaml.safe_dump(rules))
    checked = subprocess.run([promtool, "check", "rules", "dashboard-rules.yml"], cwd=tmp_path,
                             capture_output=True, text=True, timeout=60)
    assert checked.returncode == 0, checked.stdout + checked.stderr

    # The worst status query, evaluated by Prometheus: its figure is a rank the stat's value
    # mappings name, CRITICAL above UNKNOWN although opsd_check_status has UNKNOWN = 3.
    panel = worst_status_panel()
    mapping = panel["fieldConfig"]["defaults"]["mappings"][0]["options"]
    names = {int(value): option["text"] for value, option in mapping.items()}
    cases = {"CRITICAL": ["3", "2", "1"], "UNKNOWN": ["3", "1", "0"], "WARNING": ["1", "0"],
             "OK": ["0", "-1"], "SKIPPED": ["-1"]}
    tests = []
    for worst, statuses in cases.items():
        rank = next(value for value, text in names.items() if text == worst)
        tests.append({
            "interval": "1m",
            "input_series": [
                {"series": f'opsd_check_status{{job="opsd", instance="i", check="c{i}", '
                           f'kind="k", target="", playbook="p"}}', "values": f"{status}x5"}
                for i, status in enumerate(statuses)
            ],
            "promql_expr_test": [{"expr": rendered(panel["targets"][0]["expr"]),
                                  "eval_time": "2m", "exp_samples": [{"labels": "{}",
                                                                      "value": rank}]}],
        })
    (tmp_path / "worst.test.yml").write_text(yaml.safe_dump({"tests": tests}))
    tested = subprocess.run([promtool, "test", "rules", "worst.test.yml"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=60)
    assert tested.returncode == 0, tested.stdout + tested.stderr
