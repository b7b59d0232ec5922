"""Who answered: Notion's own JSON errors keep their meaning; a CDN's, firewall's or proxy's
page (Cloudflare's "Attention Required" 403, an nginx 404, HTML 5xx) is named for what it is,
never read as "lacks permission" or "not shared" — in the classifier, in the checks against
the sandbox, and in token verification (live only on Notion's own answers)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest

from opsd.notion.errors import classify_exception, classify_response
from opsd.notion.gateway import foreign_answer, is_notion_answer
from opsd.notion.service import NotionService
from opsd.results import Status
from opsd.sandbox import DATABASES, Sandbox, SandboxError
from opsd.sandbox.gateways import gateway_page
from opsd.secretscan.audit import LIVE, UNVERIFIED
from tests.test_notion_checks import by_check, run_entries, settings_for
from tests.test_notion_client import BOT, FakeClock, notion_json, run, service
from tests.test_secret_scan import tokens, write

RAY = "8f1c2d3e4f5a6b7c-FRA"
CLOUDFLARE_403 = (
    '<!DOCTYPE html>\n<html class="no-js" lang="en-US">\n<head>\n'
    "<title>Attention Required! | Cloudflare</title>\n<meta charset=\"UTF-8\" />\n</head>\n"
    '<body><div id="cf-wrapper"><h1 data-translate="block_headline">Sorry, you have been '
    "blocked</h1><p>Cloudflare Ray ID: <strong>8f1c2d3e4f5a6b7c</strong></p></div></body>\n"
    "</html>\n"
)
NGINX_404 = (
    "<html>\r\n<head><title>404 Not Found</title></head>\r\n<body>\r\n"
    "<center><h1>404 Not Found</h1></center>\r\n<hr><center>nginx/1.25.3</center>\r\n"
    "</body>\r\n</html>\r\n"
)


# --- the classifier (pure) ------------------------------------------------------------------


def test_a_cloudflare_403_is_named_and_not_read_as_a_missing_permission() -> None:
    headers = {"Server": "cloudflare", "CF-RAY": RAY, "Content-Type": "text/html"}
    error = classify_response(403, CLOUDFLARE_403, headers, 0.0)
    assert (error.kind, error.status, error.code) == ("gateway", 403, "")
    assert str(error) == (
        'a gateway or firewall answered HTTP 403 with an HTML page (Cloudflare: "Attention '
        f'Required! | Cloudflare", Ray ID {RAY}), not Notion'
    )
    assert "permission" not in str(error)
    assert not error.retryable  # a firewall's block does not lift by itself within seconds
    assert "Ray ID" in error.hint and "Cloudflare" in error.hint
    assert error.details()["problem"] == "gateway"


def test_cloudflare_is_recognised_by_its_page_alone() -> None:
    error = classify_response(403, CLOUDFLARE_403, {}, 0.0)
    assert str(error).startswith('a gateway or firewall answered HTTP 403 with an HTML page '
                                 '(Cloudflare: "Attention Required! | Cloudflare")')


def test_an_nginx_404_is_not_read_as_not_shared() -> None:
    error = classify_response(404, NGINX_404, {"Server": "nginx/1.25.3"}, 0.0)
    assert error.kind == "gateway" and not error.retryable
    assert str(error) == ('a gateway or firewall answered HTTP 404 with an HTML page (nginx: '
                          '"404 Not Found"), not Notion')
    assert "shared" not in str(error)


@pytest.mark.parametrize(("status", "body", "headers", "words"), [
    (403, "<html><body>Access denied by policy</body></html>", {"Server": "Squid/5.7"},
     "with an HTML page (Squid)"),
    (403, "", {"Server": "corp-gw"}, "with an empty body (server corp-gw)"),
    (403, "Forbidden", {}, "with a page that is not JSON (a proxy)"),
    (403, '{"message": "Forbidden"}', {"Server": "awselb/2.0"},
     "with JSON that is not Notion's error object (AWS load balancer)"),
    (401, '{"object": "list", "code": "unauthorized"}', {}, "answered HTTP 401 with JSON"),
    (404, "<html><head><title> Not&nbsp;here &amp;\n  gone </title></head></html>", {},
     'with an HTML page (a proxy: "Not here & gone")'),
])
def test_other_pages_say_who_answered(status, body, headers, words) -> None:
    error = classify_response(status, body, headers, 0.0)
    assert error.kind == "gateway"
    assert words in str(error) and str(error).endswith(", not Notion")


def test_a_long_title_is_cut_and_stays_on_one_line() -> None:
    page = "<title>" + "Blocked\tby\r\nthe " + "very " * 40 + "long policy</title>"
    words = str(classify_response(403, page, {}, 0.0))
    title = words.split('"')[1]
    assert len(title) == 80 and title.endswith("…") and "\n" not in words and "\t" not in words


@pytest.mark.parametrize(("status", "retryable"), [
    (429, True), (500, True), (502, True), (503, True), (504, True), (401, False), (403, False),
    (404, False),
])
def test_a_gateways_5xx_and_429_are_retried_its_4xx_are_not(status, retryable) -> None:
    page = gateway_page(status if status in (403, 404, 500, 502, 503, 504) else 500).body
    error = classify_response(status, page.decode(), {}, 0.0)
    assert error.kind == "gateway" and error.retryable is retryable


@pytest.mark.parametrize(("status", "code", "kind", "words", "retryable"), [
    (403, "restricted_resource", "forbidden", "the integration lacks permission", False),
    (404, "object_not_found", "not_found", "not shared with the integration", False),
    (502, "bad_gateway", "bad_gateway",
     "Notion answered bad gateway: it could not reach its own servers (502 bad_gateway)", True),
    (503, "database_connection_unavailable", "unavailable",
     "Notion's database is unavailable (503 database_connection_unavailable)", True),
    (503, "service_unavailable", "unavailable", "Notion is unavailable", True),
])
def test_notions_own_json_keeps_its_meaning(status, code, kind, words, retryable) -> None:
    body = json.dumps({"object": "error", "status": status, "code": code, "message": "m"})
    error = classify_response(status, body, {"Server": "cloudflare", "CF-RAY": RAY}, 0.0)
    assert (error.kind, error.code, error.retryable) == (kind, code, retryable)
    assert words in str(error) and "gateway or firewall" not in str(error)


def test_notions_answer_is_its_json_error_object() -> None:
    assert is_notion_answer('{"object": "error", "status": 403, "code": "restricted_resource"}')
    assert is_notion_answer('{"code": "unauthorized"}')  # no `object`: still Notion's shape
    assert not is_notion_answer('{"object": "list", "code": "x"}')
    assert not is_notion_answer('{"message": "Forbidden"}')
    assert not is_notion_answer('["error"]') and not is_notion_answer(CLOUDFLARE_403)
    assert foreign_answer(403, '{"object": "error", "code": "restricted_resource"}', {}) is None


def test_a_success_status_with_a_page_is_a_gateway_too() -> None:
    error = classify_exception(ValueError("Expecting value"), "http://x", 2.0)
    assert error.kind == "gateway" and "not Notion's JSON" in str(error)


# --- token verification: live only on Notion's own answers ----------------------------------


@pytest.mark.parametrize(("answer", "verdict"), [
    (httpx.Response(200, json=BOT), "live"),
    (notion_json(403, "restricted_resource"), "live"),
    (notion_json(401, "unauthorized"), "revoked"),
    (httpx.Response(403, text=CLOUDFLARE_403, headers={"CF-RAY": RAY}), "unknown"),
    (httpx.Response(401, text="<html><title>401 Authorization Required</title></html>"),
     "unknown"),
    (httpx.Response(403, json={"message": "Forbidden"}), "unknown"),
    (httpx.Response(200, text="<html><title>Sign in to the network</title></html>"), "unknown"),
    (httpx.Response(200, json={"status": "ok"}), "unknown"),
    (notion_json(503, "database_connection_unavailable"), "unknown"),
    (notion_json(404, "object_not_found"), "unknown"),
])
def test_a_token_is_live_only_when_notion_itself_says_so(answer, verdict) -> None:
    svc = service([answer], FakeClock(), max_retries=0)
    assert run(svc.probe_token("ntn_" + "1" * 11 + "a" * 35)) == verdict


# --- against the sandbox --------------------------------------------------------------------


def test_sandbox_gateway_pages_and_notion_json_are_switchable(sandbox: Sandbox) -> None:
    url = f"{sandbox.url}/v1/users/me"
    sandbox.fail(403, count=1, html=True)
    sandbox.fail(404, count=1, html=True)
    sandbox.fail(502, count=1, html=False)
    sandbox.fail(503, count=1, code="database_connection_unavailable")
    sandbox.fail(502, count=1)
    answers = [httpx.get(url) for _ in range(5)]
    assert [a.status_code for a in answers] == [403, 404, 502, 503, 502]
    cloudflare, nginx, bad_gateway, database, html_502 = answers
    assert "<title>Attention Required! | Cloudflare</title>" in cloudflare.text
    assert cloudflare.headers["cf-ray"] in cloudflare.text
    assert "<center>nginx</center>" in nginx.text and "404 Not Found" in nginx.text
    assert bad_gateway.json()["code"] == "bad_gateway" and bad_gateway.json()["object"] == "error"
    assert database.json()["code"] == "database_connection_unavailable"
    assert database.json()["message"] == "Notion is unavailable, please try again later."
    assert html_502.text.startswith("<html>")
    assert httpx.get(url).status_code == 401  # the faults are spent: Notion again (no token)


def test_sandbox_refuses_faults_it_cannot_answer(sandbox: Sandbox) -> None:
    with pytest.raises(SandboxError, match="no HTML page"):
        sandbox.fail(401, html=True)
    with pytest.raises(SandboxError, match="does not go with status 502"):
        sandbox.fail(502, code="database_connection_unavailable")
    status, body = sandbox.admin("POST", "fail", {"status": 403, "html": True, "count": 1})
    assert status == 200 and body["stats"]["faults"]["errors"][0]["html"] is True


def test_checks_name_the_gateway_not_a_permission_or_sharing(sandbox: Sandbox) -> None:
    settings = settings_for(sandbox, max_retries=1)
    sandbox.fail(403, html=True, path="/v1/users/me")
    sandbox.fail(404, html=True, path=f"/v1/databases/{DATABASES['Testing Results']}")
    results = by_check(run_entries(settings, {"kind": "notion.auth"},
                                   {"kind": "notion.access"}))
    auth = results[("notion.auth", "")]
    assert auth.status is Status.CRITICAL
    assert auth.summary.startswith('a gateway or firewall answered HTTP 403 with an HTML page '
                                   '(Cloudflare: "Attention Required! | Cloudflare", Ray ID ')
    assert auth.details["problem"] == "gateway" and auth.details["attempts"] == 1
    access = results[("notion.access", "")]
    assert access.summary.startswith(
        "4/5 databases accessible; testing: a gateway or firewall answered HTTP 404 with an "
        'HTML page (nginx: "404 Not Found"), not Notion')
    assert access.details["databases"]["testing"] == "gateway"
    assert "not shared" not in access.summary and "Share testing" not in access.details["hint"]


def test_notions_own_502_and_503_are_retried_and_named(sandbox: Sandbox) -> None:
    settings = settings_for(sandbox, max_retries=1)
    sandbox.fail(503, code="database_connection_unavailable")
    [down] = run_entries(settings, {"kind": "notion.auth"})
    assert down.summary == "Notion's database is unavailable (503 database_connection_unavailable)"
    assert down.details["attempts"] == 2 and "status.notion.so" in down.details["hint"]
    sandbox.reset()
    sandbox.fail(502, html=False, count=1)
    [recovered] = run_entries(settings, {"kind": "notion.auth"})
    assert recovered.status is Status.OK and recovered.details["attempts"] == 2


def test_probe_against_the_sandbox_behind_a_firewall_is_unknown(sandbox: Sandbox) -> None:
    (token,) = tokens(1, seed=11)
    sandbox.add_token(token)

    async def probe() -> list[str]:
        svc = NotionService(settings_for(sandbox, max_retries=0).notion)
        try:
            verdicts = [await svc.probe_token(token)]
            sandbox.fail(403, html=True, count=1)
            verdicts.append(await svc.probe_token(token))
            sandbox.fail(401, count=1)
            verdicts.append(await svc.probe_token(token))
            return verdicts
        finally:
            await svc.aclose()

    assert asyncio.run(probe()) == ["live", "unknown", "revoked"]


def test_scan_calls_a_token_unverified_when_a_firewall_answers(
    tmp_path: Path, opsd_cli, sandbox: Sandbox
) -> None:
    live, blocked = tokens(2, seed=12)
    sandbox.add_token(live)
    sandbox.add_token(blocked)
    write(tmp_path / "t" / "app.log", f"{live}\n{blocked}\n")
    env = {"OPSD_NOTION__BASE_URL": sandbox.url, "OPSD_NOTION__MAX_RETRIES": "0"}
    first = opsd_cli("scan", "--json", "t", env=env)
    sandbox.fail(403, html=True)  # from now on Cloudflare blocks this host
    second = opsd_cli("scan", "--json", "t", env=env)
    findings = [json.loads(r.out)["findings"] for r in (first, second)]
    assert [[(f["verdict"], f["note"], f["severity"]) for f in found] for found in findings] == [
        [("live", LIVE, "CRITICAL")] * 2, [("unknown", UNVERIFIED, "WARNING")] * 2]
    for result in (first, second):
        assert live not in result.out + result.err and blocked not in result.out + result.err


@pytest.mark.parametrize(("fault", "error"), [
    ("cloudflare-403", {"status": 403, "html": True, "code": None}),
    ("html-404", {"status": 404, "html": True, "code": None}),
    ("json-502", {"status": 502, "html": False, "code": None}),
    ("database-503", {"status": 503, "html": None, "code": "database_connection_unavailable"}),
    ("502", {"status": 502, "html": None, "code": None}),
])
def test_opsd_sandbox_names_the_gateway_faults(fault: str, error: dict) -> None:
    from opsd.cli.sandbox import FAULTS, _apply_fault

    unstarted = Sandbox()  # no socket: only its fault state is looked at
    _apply_fault(unstarted, fault)
    [queued] = unstarted.faults["errors"]
    assert fault in FAULTS and {k: queued[k] for k in error} == error


def test_access_groups_databases_by_cause_not_by_message() -> None:
    from opsd.checks.notion import access_summary
    from opsd.notion.errors import NotionError

    def page(ray: str) -> NotionError:
        return NotionError("gateway", f"a gateway answered HTTP 403 (Ray ID {ray})", status=403)

    failed = {"a": page("1"), "b": page("2"),
              "c": NotionError("not_found", "not shared", status=404)}
    assert access_summary(4, failed, []) == (
        "1/4 databases accessible; a, b: a gateway answered HTTP 403 (Ray ID 1); c: not shared")
    paused = {"a": NotionError("rate_limited", "rate limited until 09:00:45", status=429),
              "b": NotionError("no_slot", "rate limited until 09:00:45; not sent")}
    assert access_summary(2, paused, ["a", "b"]) == (
        "2 databases not checked; a, b: rate limited until 09:00:45")
    assert access_summary(3, paused, ["a", "b"]).startswith("1/1 databases accessible, 2 not")
