"""Who answered: Notion's own JSON error, or something in between (a CDN, firewall or proxy).

A 403 or 404 means "lacks permission" or "not shared" only when Notion says so in its JSON
error object. A Cloudflare "Attention Required" page, an nginx 404 or a corporate proxy's
block page carries the same status and none of that meaning, so it is named for what it is.
Pure: no I/O.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Mapping

_TITLE = re.compile(rb"<title[^>]*>(.*?)</title\s*>", re.IGNORECASE | re.DOTALL)
_HEADING = re.compile(rb"<h1[^>]*>(.*?)</h1\s*>", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"<[^>]*>")
_HTML = re.compile(rb"<!doctype html|<html|<head|<body|<title|<h1|<center", re.IGNORECASE)
_RAY_ID = re.compile(r"[0-9a-f]{16}(?:-[A-Z]{3})?")
_SERVER_NAME = re.compile(r"[A-Za-z][A-Za-z0-9._\-]{0,31}")
_MAX_TITLE = 80
# `server` headers of well-known gateways, as they are usually spelled in a sentence.
_KNOWN_SERVERS = {
    "cloudflare": "Cloudflare", "nginx": "nginx", "envoy": "Envoy", "squid": "Squid",
    "awselb": "AWS load balancer", "akamaighost": "Akamai", "varnish": "Varnish",
    "haproxy": "HAProxy", "apache": "Apache", "zscaler": "Zscaler", "bigip": "F5 BIG-IP",
}


def is_notion_answer(body: str) -> bool:
    """Is `body` Notion's JSON error object (`{"object": "error", "code": …}`)?"""
    try:
        data = json.loads(body)
    except ValueError:
        return False
    if not isinstance(data, dict) or not isinstance(data.get("code"), str):
        return False
    return data.get("object", "error") == "error"


def foreign_answer(status: int, body: str, headers: Mapping[str, str]) -> str | None:
    """Plain words for an error answer that is not Notion's own, None if it is Notion's.

    e.g. 'a gateway or firewall answered HTTP 403 with an HTML page (Cloudflare:
    "Attention Required! | Cloudflare", Ray ID 8f1c2d3e4f5a6b7c-FRA), not Notion'
    """
    if is_notion_answer(body):
        return None
    raw = body.encode("utf-8", "replace")
    by = _answered_by(raw, headers)
    title = _page_title(raw)
    about = [f'{by}: "{title}"' if title else by]
    ray = (_lookup(headers, "cf-ray") or "").strip()
    if _RAY_ID.fullmatch(ray):
        about.append(f"Ray ID {ray}")
    return (f"a gateway or firewall answered HTTP {status} with {_page_kind(raw)} "
            f"({', '.join(about)}), not Notion")


def _page_kind(raw: bytes) -> str:
    if not raw.strip():
        return "an empty body"
    if _HTML.search(raw[:4096]):
        return "an HTML page"
    try:
        json.loads(raw)
    except ValueError:
        return "a page that is not JSON"
    return "JSON that is not Notion's error object"


def _answered_by(raw: bytes, headers: Mapping[str, str]) -> str:
    """The gateway's name: Cloudflare by its headers or page, else the `server` header."""
    # Several `server` headers arrive joined by commas: any of them may name the gateway.
    servers = [s.strip() for s in (_lookup(headers, "server") or "").split(",") if s.strip()]
    lowered = raw[:65536].lower()
    if _lookup(headers, "cf-ray") or b"cloudflare" in lowered:
        return "Cloudflare"
    for server in servers:
        for marker, name in _KNOWN_SERVERS.items():
            if server.lower().startswith(marker):
                return name
    if b"<center>nginx" in lowered or b">nginx<" in lowered:
        return "nginx"
    found = _SERVER_NAME.match(servers[-1]) if servers else None
    return f"server {found.group()}" if found else "a proxy"


def _page_title(raw: bytes) -> str:
    """The page's <title> (or first <h1>), unescaped, on one line, at most 80 characters."""
    found = _TITLE.search(raw) or _HEADING.search(raw)
    if found is None:
        return ""
    text = html.unescape(_TAG.sub(" ", found.group(1).decode("utf-8", "replace")))
    text = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    return text if len(text) <= _MAX_TITLE else text[:_MAX_TITLE - 1] + "…"


def _lookup(headers: Mapping[str, str], name: str) -> str | None:
    return next((value for key, value in headers.items() if key.lower() == name), None)
