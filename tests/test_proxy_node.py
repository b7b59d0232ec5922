"""`opsd proxy` with @notionhq/client (Node), the other official SDK: its answers through the
proxy (`baseUrl`) equal its direct ones, twenty concurrent clients at three times the budget
get no 429 from Notion, and every request is in the request log. Needs node and
`npm ci` in tests/node (`.ci/run` does it)."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from opsd.sandbox import SANDBOX_TOKEN
from tests.conftest import REPO, require_tool
from tests.test_proxy import DATABASE, fixed_answers, recorded, start_proxy  # noqa: F401

pytestmark = pytest.mark.slow

NODE_DIR = REPO / "tests" / "node"


def run_node(base_url: str, clients: int) -> dict:
    node = require_tool("node")
    if not (NODE_DIR / "node_modules" / "@notionhq" / "client").is_dir():
        message = "@notionhq/client is not installed: run `npm ci` in tests/node"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{message} (CI must install it: see .ci/run)")
        pytest.skip(message)
    done = subprocess.run(
        [node, "traffic.mjs", base_url, DATABASE, str(clients)], cwd=NODE_DIR,
        capture_output=True, text=True, timeout=120,
        env={"PATH": os.environ.get("PATH", ""), "NOTION_TOKEN": SANDBOX_TOKEN},
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_node_sdk_through_the_proxy(make_sandbox, start_proxy, fixed_answers,  # noqa: F811
                                    tmp_path):
    sandbox = make_sandbox(rate=40, burst=10)
    proxy = start_proxy(sandbox.url, rate_limit=20, burst=3, max_queue_wait="60s")
    direct = run_node(sandbox.url, 0)
    through = run_node(proxy.url, 20)
    assert through.pop("clientsAnswered") == 20
    assert direct.pop("clientsAnswered") == 0
    assert through == direct
    assert through["missing"]["code"] == "object_not_found"
    assert sandbox.stats()["rate_limited_total"] == 0
    found = recorded(tmp_path / "opsd.db", 4 + 60)
    assert {r["source"] for r in found} == {"integration"}
    assert sum(1 for r in found if r["endpoint"] == "/v1/users/me") == 61
