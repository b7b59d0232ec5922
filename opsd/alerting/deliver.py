"""The Apprise side of alert delivery, run as a short-lived child process: `python -m
opsd.alerting.deliver [--parent PID] [PLUGIN_PATH ...]`.

Apprise loads some 200 plugin modules plus cryptography, requests and markdown (+26 MB that
never goes away), so the daemon never imports it: `opsd.alerting.notify.AppriseWorker` starts one of
these per batch (an outbox pass, an enqueue, `opsd alerts test`) and exchanges one JSON
object per line over its stdin and stdout:

    {"parse": ["critical=json://…", …]}  ->  {"destinations": [{"url", "tags", "label", …}]}
    {"send": "json://…", "title", "body", "notify_type", "timeout", "headers": {…},
     "body_format": "markdown" | "html", "text": null | "…", "attachments": ["/path", …]}
        ->  {"error": null | "…", "permanent": bool}

`headers` go out as HTTP headers where the URL's scheme takes custom ones (`json://`,
`form://`, `xml://` and their `s` variants, as `+Name=value` query arguments): the outbox's
`X-Opsd-Message-Id` and `X-Opsd-Resent`, by which a receiver drops a duplicate.

Alerts are Markdown. A report (`opsd.reports.delivery`) sends HTML to e-mail URLs with its
own plain-text rendering as the `text/plain` part (`opsd.alerting.plain_alternative`), or
that text alone where the URL asks for plain mail (`?format=text`), and attaches files (its
charts: shown in place where the HTML names them `cid:<file name>`).

A failure is permanent when retrying cannot help: Apprise does not understand the URL, or a
webhook answered 400, 401, 403 or 404.

The process ends when its stdin closes, and dies with its parent (`--parent`, the pid of the
process that started it; see `opsd.alerting.parent_death`): it never sends for a parent that
is gone, and a reply to a parent that is gone (a closed pipe) ends it quietly. Custom
Apprise plugins (`@notify` functions) load from the paths given as arguments
(`alerts.plugin_paths`). Anything printed (a console plugin, Apprise itself) goes to stderr:
stdout carries only the replies.

Only the standard library and Apprise are imported here, so a child starts fast.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import sys
import urllib.parse
from collections.abc import Mapping, Sequence
from typing import Any

from opsd.alerting import parent_death
from opsd.alerting.plain_alternative import plain_alternative
from opsd.config.addresses import TAGGED_ENTRY
from opsd.exception_text import describe_exception
from opsd.redact import redact_secret

UNKNOWN_URL = "Apprise does not understand this URL"
# HTTP answers that no retry will change (Apprise's webhook plugins log `error=404.`).
_PERMANENT_HTTP = re.compile(r"\berror=(400|401|403|404)\.")
# Query parameters that carry credentials: left out of a URL's key.
_SECRET_PARAM = re.compile(r"pass|token|secret|key|auth", re.I)
# Apprise schemes that send `+Name=value` query arguments as HTTP headers.
HEADER_SCHEMES = frozenset({"json", "jsons", "form", "forms", "xml", "xmls"})


def entry_key(entry: str) -> str:
    """What outbox rows store to find their `alerts.urls` entry again (never the URL)."""
    return hashlib.sha256(entry.encode()).hexdigest()


def url_key(url: str) -> str | None:
    """A key for `url` without its credentials (user, password, secret query parameters), so
    a rotated password keeps the URL's queue; None when Apprise cannot parse it."""
    from apprise.utils.parse import parse_url

    parts = parse_url(url)
    if not parts:
        return None
    query = {k: v for k, v in sorted(parts["qsd"].items()) if not _SECRET_PARAM.search(k)}
    identity = [parts["schema"], parts["host"], parts["port"], parts["fullpath"], query]
    return hashlib.sha256(json.dumps(identity).encode()).hexdigest()


def parse_entry(entry: str) -> dict[str, Any]:
    """An `alerts.urls` entry as `Destination` fields: URL, tags, masked label, key, valid."""
    from apprise import Apprise
    from apprise.tag import AppriseTag

    match = TAGGED_ENTRY.match(entry)
    service = Apprise.instantiate(match["url"].strip()) if match else None
    if match is None or service is None:
        return {"url": entry, "tags": [], "label": redact_secret(entry),
                "key": entry_key(entry), "valid": False}
    key = url_key(match["url"].strip()) or entry_key(entry)
    tags = sorted({
        str(AppriseTag.parse(t)) for t in re.split(r"[,\s]+", match["tags"] or "") if t
    })
    # Apprise's privacy form masks the URL's secrets; its query only repeats defaults.
    label = service.url(privacy=True).split("?", 1)[0]
    return {"url": match["url"].strip(), "tags": tags, "label": label, "key": key,
            "valid": True}


def with_headers(url: str, headers: Mapping[str, str]) -> str:
    """`url` with `headers` as Apprise's `+Name=value` query arguments, where its scheme
    takes them (`HEADER_SCHEMES`); any other URL as it is."""
    scheme = url.partition("://")[0].lower()
    if not headers or scheme not in HEADER_SCHEMES:
        return url
    base, hash_mark, fragment = url.partition("#")
    extra = "&".join(
        f"+{urllib.parse.quote(name, safe='-_')}={urllib.parse.quote(value, safe='')}"
        for name, value in headers.items()
    )
    joiner = "&" if "?" in base else "?"
    if base.endswith(("?", "&")):
        joiner = ""
    return base + joiner + extra + hash_mark + fragment


def send(
    url: str, title: str, body: str, notify_type: str, timeout: float,
    headers: Mapping[str, str] | None = None, body_format: str = "markdown",
    text: str | None = None, attachments: Sequence[str] = (),
) -> tuple[str | None, bool]:
    """Send one message to one URL (with `headers`, where its scheme takes them): (None,
    False) on SUCCESS, else (what went wrong in one line, whether the failure is permanent).

    An HTML `body` with its plain-text rendering `text` goes to e-mail as both parts."""
    import apprise

    # A fresh service object per message: Apprise throttles repeat sends on one object.
    service = apprise.Apprise.instantiate(with_headers(url, headers or {}))
    if service is None:
        return UNKNOWN_URL, True
    if "rto=" not in url and hasattr(service, "socket_read_timeout"):
        # Apprise gives up reading the answer after 4 s by default, and a receiver that took
        # the message but answered later would get it again unmarked: wait `alerts.timeout`.
        service.socket_read_timeout = timeout
    if body_format == "html" and text is not None:
        if service.resolve_format(apprise.NotifyFormat.HTML) != apprise.NotifyFormat.HTML:
            body, body_format = text, "text"  # plain mail asked for: the text as written
        elif attachments and hasattr(service, "inline"):
            service.inline = True  # charts in place (`cid:`), not as downloads
    sender = apprise.Apprise()
    sender.add(service)
    with plain_alternative(text), sender.notify(
        body=body,
        title=title,
        notify_type=notify_type,
        body_format=apprise.NotifyFormat(body_format),
        attach=list(attachments) or None,
        timeout=timeout,
    ) as result:
        if result:
            return None, False
        errors = [e.message for e in result.logs() if e.level in ("ERROR", "WARNING")]
        permanent = any(_PERMANENT_HTTP.search(e) for e in errors)
        return f"{result.status.name}" + (f": {errors[-1]}" if errors else ""), permanent


def answer(request: dict[str, Any]) -> dict[str, Any]:
    """The reply to one request."""
    if "parse" in request:
        return {"destinations": [parse_entry(entry) for entry in request["parse"]]}
    try:
        error, permanent = send(request["send"], request["title"], request["body"],
                                request["notify_type"], request["timeout"],
                                request.get("headers"), request.get("body_format", "markdown"),
                                request.get("text"), request.get("attachments") or ())
    except Exception as exc:  # a plugin's bug fails this message, not the batch
        error, permanent = " ".join(describe_exception(exc).split()), False
    return {"error": error, "permanent": permanent}


def parse_arguments(argv: Sequence[str]) -> tuple[int | None, list[str]]:
    """(the parent's pid from `--parent PID`, if given; the plugin paths)."""
    if len(argv) >= 2 and argv[0] == "--parent" and argv[1].isdigit():
        return int(argv[1]), list(argv[2:])
    return None, list(argv)


def main(argv: Sequence[str]) -> int:
    parent, plugin_paths = parse_arguments(argv)
    # First of all: never outlive the parent (it may be gone already).
    parent_death.die_with_parent()
    if parent_death.orphaned(parent):
        return 0
    replies = os.fdopen(os.dup(sys.stdout.fileno()), "w")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    # Failures come back in the replies: Apprise's own log lines stay out of the daemon's.
    logging.getLogger().addHandler(logging.NullHandler())
    if plugin_paths:
        from apprise import AppriseAsset

        AppriseAsset(plugin_paths=list(plugin_paths))
    for line in sys.stdin:
        request = json.loads(line)
        if "send" in request and parent_death.orphaned(parent):
            return 0  # nobody would hear how it went: the outbox sends it again
        reply = json.dumps(answer(request)) + "\n"
        try:
            replies.write(reply)
            replies.flush()
        except BrokenPipeError:
            # The parent is gone: end now, quietly (exiting normally would flush the
            # reply again and print the same error).
            os._exit(0)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
