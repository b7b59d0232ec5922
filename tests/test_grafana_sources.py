"""The dashboard's "Notion requests by source" panel, evaluated by Prometheus (promtool):
the proxy's series (job opsd-proxy) come out as source="integration", the daemon's as
source="opsd", each at its own rate, with every variable at All."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import yaml

from tests.conftest import REPO


def _panel(title: str) -> dict:
    dashboard = json.loads((REPO / "grafana" / "dashboards" / "opsd.json").read_text())
    return next(p for p in dashboard["panels"] if p["title"] == title)


def _rendered(expr: str) -> str:
    """A query as Grafana sends it with every variable at All."""
    return (expr.replace("$job", ".+").replace("$instance", ".+")
            .replace("$workspace", ".*").replace("$__rate_interval", "2m"))


def test_requests_by_source_splits_the_proxy_and_the_daemon(promtool: str,
                                                           tmp_path: Path) -> None:
    exprs = [_rendered(t["expr"]) for t in _panel("Notion requests by source")["targets"]]
    series = [
        # The proxy: 2 requests/s of the integration's over two endpoints (60 + 60 a minute).
        {"series": 'opsd_proxy_requests_total{job="opsd-proxy", instance="p:8790", '
                   'workspace="opsd", source="integration", endpoint="POST /v1/pages", '
                   'status="200"}', "values": "0+60x10"},
        {"series": 'opsd_proxy_requests_total{job="opsd-proxy", instance="p:8790", '
                   'workspace="opsd", source="integration", endpoint="GET /v1/users/me", '
                   'status="429"}', "values": "0+60x10"},
        # The daemon: 0.5 requests/s of its own probes.
        {"series": 'opsd_notion_requests_total{job="opsd", instance="d:9464", '
                   'workspace="opsd", endpoint="GET /v1/users/me", status="200"}',
         "values": "0+30x10"},
    ]
    expected = [[{"labels": '{source="integration"}', "value": 2}],
                [{"labels": '{source="opsd"}', "value": 0.5}]]
    tests = {"tests": [{
        "interval": "1m", "input_series": series,
        "promql_expr_test": [{"expr": expr, "eval_time": "5m", "exp_samples": samples}
                             for expr, samples in zip(exprs, expected, strict=True)],
    }]}
    (tmp_path / "sources.test.yml").write_text(yaml.safe_dump(tests))
    done = subprocess.run([promtool, "test", "rules", "sources.test.yml"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
