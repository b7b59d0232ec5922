"""`opsd proxy` end to end: the real proxy process between notion-client and the sandbox.

Responses arrive byte-identical to direct ones; 20 concurrent clients asking for 3x the budget
get no 429 from the sandbox; a sandbox 429 pauses all of them; the request log and the
`notion.retry_tax` kind show the integration's traffic apart from opsd's; no token or body
reaches the store or the log; without its store the proxy keeps forwarding and says so.
"""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from notion_client import AsyncClient, Client

from opsd.notion.service import budget_key
from opsd.sandbox import DATABASES, SANDBOX_TOKEN
from tests.conftest import opsd_env
from tests.test_daemon import wait_until

pytestmark = pytest.mark.slow

DATABASE = DATABASES["Bottlenecks Registry"]
TITLE = "Bottleneck Name"
HEADERS = {"Authorization": f"Bearer {SANDBOX_TOKEN}", "Notion-Version": "2022-06-28"}


class ProxyProcess:
    """`python -m opsd --config … proxy`, its URL read from the line it prints."""

    def __init__(self, config: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "opsd", "--config", str(config), "proxy"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=opsd_env(),
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        found = wait_until(lambda: next((m for m in map(_listening, self.lines) if m), None),
                           what="the proxy's listening line")
        self.url = str(found)
        self.output = ""

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)

    def stop(self) -> str:
        """Stop it (SIGTERM) and return everything it wrote."""
        if self.proc.poll() is None:
            self.proc.terminate()
        _, err = self.proc.communicate(timeout=60)
        self._reader.join(timeout=10)
        self.output = "".join(self.lines) + err
        return self.output


def _listening(line: str) -> str | None:
    found = re.search(r"listening on (http://\S+),", line)
    return found.group(1) if found else None


@pytest.fixture
def start_proxy(make_config, tmp_path: Path) -> Iterator[Callable[..., ProxyProcess]]:
    started: list[ProxyProcess] = []

    def start(upstream: str, **proxy: Any) -> ProxyProcess:
        storage = proxy.pop("storage", {})
        notion = proxy.pop("notion", {})
        config = make_config(storage=storage, notion=notion,
                             proxy={"port": 0, "upstream": upstream, **proxy})
        process = ProxyProcess(config)
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()


def rows(db: Path, sql: str = "SELECT * FROM notion_requests ORDER BY time, id"
         ) -> list[dict[str, Any]]:
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute(sql)]
    finally:
        conn.close()


def recorded(db: Path, count: int) -> list[dict[str, Any]]:
    """The integration's rows once `count` of them are written (the proxy writes in batches)."""
    sql = "SELECT * FROM notion_requests WHERE source = 'integration' ORDER BY time, id"
    return wait_until(lambda: (found := rows(db, sql)) and len(found) >= count and found,
                      what=f"{count} recorded requests")  # type: ignore[return-value]


def create_body(title: str) -> dict[str, Any]:
    return {"parent": {"database_id": DATABASE},
            "properties": {TITLE: {"title": [{"text": {"content": title}}]}}}


@pytest.fixture
def fixed_answers(monkeypatch) -> None:
    """The sandbox answers one request the same way twice (request ids and Date fixed), so a
    proxied answer can be compared byte for byte with a direct one."""
    from http.server import BaseHTTPRequestHandler

    from opsd.sandbox import responses

    monkeypatch.setattr(responses, "new_request_id",
                        lambda: "00000000-0000-4000-8000-000000000000")
    monkeypatch.setattr(BaseHTTPRequestHandler, "date_time_string",
                        lambda self, timestamp=None: "Mon, 30 Nov 2026 12:00:00 GMT")


def test_answers_are_byte_identical_to_direct_ones(sandbox, start_proxy, fixed_answers,
                                                   tmp_path):
    proxy = start_proxy(sandbox.url)
    asks = [
        ("GET", "/v1/users/me", None),
        ("GET", f"/v1/databases/{DATABASE}", None),
        ("POST", f"/v1/databases/{DATABASE}/query?filter_properties=title",
         {"page_size": 2}),
        ("GET", "/v1/databases/00000000-0000-0000-0000-000000000000", None),  # 404, JSON
        ("GET", "/v1/no/such/endpoint", None),
        ("PATCH", f"/v1/databases/{DATABASE}", {"title": "x" * 3000}),  # 400 validation
    ]
    with httpx.Client(base_url=sandbox.url) as direct, httpx.Client(base_url=proxy.url) as via:
        for method, path, body in asks:
            content = json.dumps(body).encode() if body is not None else None
            one = direct.request(method, path, headers=HEADERS, content=content)
            two = via.request(method, path, headers=HEADERS, content=content)
            assert (two.status_code, two.reason_phrase) == (one.status_code, one.reason_phrase)
            assert two.content == one.content, path
            assert [h for h in two.headers.raw if h[0].lower() != b"connection"] == \
                [h for h in one.headers.raw if h[0].lower() != b"connection"]
    # notion-client pointed at the proxy (its `base_url`) gets what it gets directly.
    for base in (sandbox.url, proxy.url):
        client = Client(auth=SANDBOX_TOKEN, base_url=base, notion_version="2022-06-28")
        assert client.users.me()["object"] == "user"
    sdk_direct = Client(auth=SANDBOX_TOKEN, base_url=sandbox.url, notion_version="2022-06-28")
    sdk_proxy = Client(auth=SANDBOX_TOKEN, base_url=proxy.url, notion_version="2022-06-28")
    assert sdk_proxy.databases.retrieve(database_id=DATABASE) == \
        sdk_direct.databases.retrieve(database_id=DATABASE)
    found = recorded(tmp_path / "opsd.db", len(asks) + 2)
    templates = {r["endpoint"] for r in found}
    assert templates >= {"/v1/users/me", "/v1/databases/{id}", "/v1/databases/{id}/query",
                         "/v1/{id}/{id}/{id}"}  # unknown words never become a template
    assert {r["method"] for r in found} == {"GET", "POST", "PATCH"}
    missing = next(r for r in found if r["status"] == 404 and r["endpoint"] == "/v1/databases/{id}")
    assert missing["error"] == "object_not_found"
    query = next(r for r in found if r["endpoint"] == "/v1/databases/{id}/query")
    assert query["request_bytes"] == len(json.dumps({"page_size": 2}))
    assert query["response_bytes"] > 0
    assert httpx.get(proxy.url + "/__opsd/healthz").status_code == 200
    exposed = httpx.get(proxy.url + "/__opsd/metrics").text
    samples = [line for line in exposed.splitlines() if line.startswith("opsd_proxy_")]
    assert samples and all('workspace="opsd"' in line for line in samples)


def test_twenty_clients_at_three_times_the_budget_get_no_429_from_notion(
        make_sandbox, start_proxy, tmp_path):
    # Notion (the sandbox) allows 40/s with a burst of 10; the proxy meters 20/s. Twenty
    # clients ask for 60 requests at once: 3x what one second of the budget allows.
    sandbox = make_sandbox(rate=40, burst=10)
    proxy = start_proxy(sandbox.url, rate_limit=20, burst=3, max_queue_wait="60s")

    async def one_client(number: int) -> list[str]:
        client = AsyncClient(auth=SANDBOX_TOKEN, base_url=proxy.url,
                             notion_version="2022-06-28", retry=False)
        try:
            return [(await client.users.me())["object"] for _ in range(3)]
        finally:
            await client.aclose()

    async def everyone() -> list[list[str]]:
        return await asyncio.gather(*(one_client(n) for n in range(20)))

    answers = asyncio.run(everyone())
    assert answers == [["user"] * 3] * 20
    stats = sandbox.stats()
    assert stats["rate_limited_total"] == 0
    assert stats["requests"]["GET /v1/users/me"] == {"200": 60}
    found = recorded(tmp_path / "opsd.db", 60)
    assert {r["status"] for r in found} == {200}
    assert sum(r["waited"] for r in found) > 0  # they queued in the proxy instead


def test_a_429_from_notion_pauses_every_client(sandbox, start_proxy, tmp_path):
    proxy = start_proxy(sandbox.url, rate_limit=50, burst=50)
    sandbox.rate_limit_burst(count=1, retry_after=2)

    async def one_client() -> str:
        client = AsyncClient(auth=SANDBOX_TOKEN, base_url=proxy.url,
                             notion_version="2022-06-28")  # the SDK retries the 429 itself
        try:
            return str((await client.users.me())["object"])
        finally:
            await client.aclose()

    async def everyone() -> list[str]:
        first = asyncio.create_task(one_client())
        await asyncio.sleep(0)
        return [await first, *await asyncio.gather(*(one_client() for _ in range(9)))]

    assert asyncio.run(everyone()) == ["user"] * 10
    assert sandbox.stats()["requests"]["GET /v1/users/me"] == {"200": 10, "429": 1}
    found = recorded(tmp_path / "opsd.db", 11)
    limited = [r for r in found if r["status"] == 429]
    assert len(limited) == 1 and limited[0]["retry_after"] == 2.0
    answered = limited[0]["time"] + limited[0]["latency"]
    # No request went to Notion between that answer and the end of its Retry-After.
    for row in found:
        if row is not limited[0]:
            assert row["time"] <= answered or row["time"] >= answered + 2.0 - 0.05, row
    assert any(r["time"] >= answered + 2.0 - 0.05 for r in found)
    retry = [r for r in found if r["attempt"] > 0]
    assert len(retry) == 1 and retry[0]["client_wait"] > 0  # the SDK's own retry, seen
    # The pause is the shared budget's (the daemon's checks on this database would wait too).
    paused = rows(tmp_path / "opsd.db", "SELECT * FROM notion_limiter")
    assert len(paused) == 1 and paused[0]["retry_after"] == 2.0
    assert paused[0]["budget"] == budget_key(sandbox.url, SANDBOX_TOKEN)  # opsd's own name


def test_the_log_and_retry_tax_show_the_integration_apart_and_keep_no_secret(
        sandbox, start_proxy, opsd_cli, make_config, tmp_path):
    marker = "BODYMARKER-7f1c2d"
    proxy = start_proxy(sandbox.url, notion={"token": SANDBOX_TOKEN, "base_url": sandbox.url})
    client = Client(auth=SANDBOX_TOKEN, base_url=proxy.url, notion_version="2022-06-28")
    for number in range(10):
        client.pages.create(**create_body(f"{marker} {number}"))
    sandbox.rate_limit_burst(count=2, retry_after=1)
    client.users.me()  # answered 429 twice; notion-client retries until it is answered
    assert sandbox.stats()["requests"]["GET /v1/users/me"] == {"200": 1, "429": 2}
    recorded(tmp_path / "opsd.db", 13)
    output = proxy.stop()

    # opsd's own probe (source opsd) on the same database, then the kinds over both.
    playbooks = tmp_path / "playbooks"
    playbooks.mkdir()
    (playbooks / "traffic.toml").write_text(
        'name = "traffic"\nevery = "1h"\n\n'
        '[[checks]]\nname = "notion.auth"\nkind = "notion.auth"\n\n'
        '[[checks]]\nname = "retry_tax"\nkind = "notion.retry_tax"\n\n'
        '[[checks]]\nname = "limits"\nkind = "notion.request_limits"\n\n'
        '[[checks]]\nname = "rate_integration"\nkind = "notion.rate_limit"\n'
        'source = "integration"\nmin_samples = 1\n\n'
        '[[checks]]\nname = "rate_opsd"\nkind = "notion.rate_limit"\nmin_samples = 1\n\n'
        '[[checks]]\nname = "latency_integration"\nkind = "notion.latency"\n'
        'source = "integration"\n')
    config = make_config(notion={"token": SANDBOX_TOKEN, "base_url": sandbox.url},
                         scheduler={"playbooks_dir": str(playbooks)})

    def check(name: str) -> dict[str, Any]:
        done = opsd_cli("--config", str(config), "check", name, "--json")
        assert done.code in (0, 1, 2), done.err
        return json.loads(done.out)["results"][0]

    assert check("notion.auth")["status"] == "OK"
    sources = {r["source"] for r in rows(tmp_path / "opsd.db")}
    assert sources == {"opsd", "integration"}
    tax = check("retry_tax")
    details = tax["details"]
    assert details["requests"] == 13 and details["answered_429"] == 2
    assert details["retries"] == 2
    assert 0 < tax["value"] < 1
    assert tax["value"] == pytest.approx(details["seconds_wasted"] / details["seconds_total"],
                                         abs=1e-3)
    integration = check("rate_integration")["details"]
    mine = check("rate_opsd")["details"]
    assert (integration["requests"], integration["rate_limited"]) == (13, 2)
    assert (mine["requests"], mine["rate_limited"]) == (1, 0)
    assert check("latency_integration")["details"]["requests"] == 13
    assert check("limits")["value"] == 0

    # Neither the token (in any common encoding) nor a body reached the database or the log.
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("opsd.db*"))
    for secret in (SANDBOX_TOKEN, SANDBOX_TOKEN[4:], marker):
        assert secret.encode() not in stored
        assert secret not in output
    assert b"Bearer" not in stored


def test_request_limits_and_duplicate_creates_are_counted(sandbox, start_proxy, tmp_path):
    proxy = start_proxy(sandbox.url)
    too_long = create_body("long")
    too_long["children"] = [{"object": "block", "type": "paragraph", "paragraph": {
        "rich_text": [{"type": "text", "text": {"content": "y" * 2100}}]}}]
    with httpx.Client(base_url=proxy.url, headers=HEADERS) as client:
        assert client.post("/v1/pages", json=too_long).status_code == 400
        # A create that times out on the client's side, then the same create again.
        sandbox.set_latency(3.0, path="/v1/pages")
        body = create_body("twice")
        with pytest.raises(httpx.ReadTimeout):
            client.post("/v1/pages", json=body, timeout=0.5)
        sandbox.set_latency(0.0, path="/v1/pages")
        assert client.post("/v1/pages", json=body).status_code == 200
    found = recorded(tmp_path / "opsd.db", 3)
    assert found[0]["limits_exceeded"] == 1
    assert [r["likely_duplicate"] for r in found] == [0, 0, 1]


def test_a_spent_budget_answers_notions_own_429(sandbox, start_proxy, tmp_path):
    proxy = start_proxy(sandbox.url, rate_limit=0.2, burst=1, max_queue_wait="1s")
    with httpx.Client(base_url=proxy.url, headers=HEADERS) as client:
        assert client.get("/v1/users/me").status_code == 200
        refused = client.get("/v1/users/me")
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["retry-after"]) <= 5
    body = refused.json()
    assert (body["object"], body["status"], body["code"]) == ("error", 429, "rate_limited")
    assert sandbox.stats()["requests"]["GET /v1/users/me"] == {"200": 1}  # never forwarded
    found = recorded(tmp_path / "opsd.db", 2)
    assert [(r["status"], r["purpose"]) for r in found] == [(200, "forward"),
                                                           (429, "queue_full")]


def test_without_its_store_the_proxy_forwards_and_says_so(sandbox, start_proxy, tmp_path):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    proxy = start_proxy(sandbox.url, storage={"path": str(blocker / "opsd.db")})
    with httpx.Client(base_url=proxy.url, headers=HEADERS) as client:
        assert client.get("/v1/users/me").json()["object"] == "user"
        health = client.get("/__opsd/healthz")
    assert health.status_code == 503
    assert "forwarding" in health.text and "store is unavailable" in health.text
    assert len(health.text.strip().splitlines()) == 1
    assert sandbox.stats()["requests"]["GET /v1/users/me"] == {"200": 1}


def test_bad_proxy_settings_are_one_line_and_exit_3(opsd_cli, make_config):
    for proxy, named in (({"rate_limit": 0}, "proxy.rate_limit"),
                         ({"upstream": "ftp://x"}, "proxy.upstream"),
                         ({"max_queue_wait": "soon"}, "proxy.max_queue_wait")):
        done = opsd_cli("--config", str(make_config(proxy=proxy)), "proxy", timeout=60)
        assert done.code == 3, done.err
        assert named in done.err and len(done.err.strip().splitlines()) == 1
        assert "Traceback" not in done.err
