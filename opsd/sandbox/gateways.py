"""Answers that are not the API's own: what a CDN, firewall or proxy in front of Notion sends
(Cloudflare's "Attention Required" 403, an nginx 404, HTML 5xx pages), and Notion's own JSON
errors that share a status with another (`bad_gateway`, `database_connection_unavailable`).

`injected_answer(status, html, code)` picks one for an injected fault; None leaves it to
`responses.injected_error` (Notion's usual JSON error for the status, or the HTML 502).
"""

from __future__ import annotations

import uuid
from http import HTTPStatus

from opsd.sandbox.responses import Response, bad_gateway, notion_error

HTML_STATUSES = (403, 404, 500, 502, 503, 504)
"""Statuses a fault can answer with a gateway's HTML page (`fail(status, html=True)`)."""

NOTION_CODES: dict[str, tuple[int, str]] = {
    "bad_gateway": (502, "Bad Gateway"),
    "database_connection_unavailable": (503, "Notion is unavailable, please try again later."),
    "object_not_found": (404, "Could not find the requested object. Make sure the relevant "
                              "pages and databases are shared with your integration."),
}
"""Notion's JSON errors a fault can name with `code` (status, Notion's message)."""

_CLOUDFLARE_BLOCK = """<!DOCTYPE html>
<!--[if lt IE 7]> <html class="no-js ie6 oldie" lang="en-US"> <![endif]-->
<!--[if gt IE 8]><!--> <html class="no-js" lang="en-US"> <!--<![endif]-->
<head>
<title>Attention Required! | Cloudflare</title>
<meta charset="UTF-8" />
<meta http-equiv="Content-Type" content="text/html; charset=UTF-8" />
<meta name="robots" content="noindex, nofollow" />
<link rel="stylesheet" id="cf_styles-css" href="/cdn-cgi/styles/cf.errors.css" />
</head>
<body>
  <div id="cf-wrapper">
    <div id="cf-error-details" class="cf-error-details-wrapper">
      <div class="cf-wrapper cf-header cf-error-overview">
        <h1 data-translate="block_headline">Sorry, you have been blocked</h1>
        <h2 class="cf-subheadline"><span data-translate="unable_to_access">You are unable to
        access</span> api.notion.com</h2>
      </div>
      <div class="cf-section cf-wrapper">
        <h2 data-translate="blocked_why_headline">Why have I been blocked?</h2>
        <p data-translate="blocked_why_detail">This website is using a security service to
        protect itself from online attacks. The action you just performed triggered the security
        solution.</p>
      </div>
      <div class="cf-error-footer cf-wrapper">
        <p><span class="cf-footer-item">Cloudflare Ray ID: <strong>{ray}</strong></span>
        <span class="cf-footer-separator">&bull;</span>
        <span class="cf-footer-item">Performance &amp; security by Cloudflare</span></p>
      </div>
    </div>
  </div>
</body>
</html>
"""

_NGINX_PAGE = (
    "<html>\r\n<head><title>{status} {phrase}</title></head>\r\n<body>\r\n"
    "<center><h1>{status} {phrase}</h1></center>\r\n<hr><center>nginx</center>\r\n"
    "</body>\r\n</html>\r\n"
)


def check_fault(status: int, html: bool | None, code: str | None) -> None:
    """ValueError unless `status` can be answered as asked (an HTML page, or Notion's `code`)."""
    if html and code:
        raise ValueError("a fault answers either an HTML page (html) or Notion's JSON (code)")
    if html and status not in HTML_STATUSES:
        allowed = ", ".join(str(s) for s in HTML_STATUSES)
        raise ValueError(f"status {status} has no HTML page (use one of {allowed})")
    if code is not None and NOTION_CODES.get(code, (None,))[0] != status:
        known = ", ".join(f"{s} {c}" for c, (s, _) in sorted(NOTION_CODES.items()))
        raise ValueError(f"code {code!r} does not go with status {status} (use one of {known})")


def injected_answer(status: int, html: bool | None, code: str | None) -> Response | None:
    """An HTML page (`html`), Notion's JSON with `code`, JSON 502 (`html=False`), else None."""
    if html:
        return gateway_page(status)
    if code is not None:
        return notion_error(status, code, NOTION_CODES[code][1])
    if status == 502 and html is False:
        return notion_error(502, "bad_gateway", NOTION_CODES["bad_gateway"][1])
    return None


def gateway_page(status: int) -> Response:
    """What sits in front of the API answers: Cloudflare blocks with its "Attention Required"
    403, the 502 is Cloudflare's, any other status an nginx proxy's page."""
    if status == 403:
        ray = uuid.uuid4().hex[:16] + "-SJC"
        headers = {"Content-Type": "text/html; charset=UTF-8", "Server": "cloudflare",
                   "CF-RAY": ray, "Cache-Control": "no-cache"}
        return Response(403, _CLOUDFLARE_BLOCK.replace("{ray}", ray).encode(), headers)
    if status == 502:
        return bad_gateway()
    page = _NGINX_PAGE.format(status=status, phrase=HTTPStatus(status).phrase)
    return Response(status, page.encode(), {"Content-Type": "text/html", "Server": "nginx"})
