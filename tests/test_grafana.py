"""Grafana dashboard, provisioning and Prometheus rules: valid, tested with promtool, and
naming only metrics opsd exports."""

from __future__ import annotations

import json
import re
import subprocess

import pytest
import yaml

from opsd import metrics
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
