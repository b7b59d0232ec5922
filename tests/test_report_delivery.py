"""Sending a report (opsd.reports.delivery) through real Apprise in its child process, over real
sockets: to a local SMTP server (aiosmtpd) as HTML with the report's own plain-text part, to a
local webhook (`json://`) as Markdown; only to URLs tagged `report`; never a secret in what
comes back."""

from __future__ import annotations

import email.message
from pathlib import Path

import pytest

from opsd.alerting.notify import Destination
from opsd.config import Settings
from opsd.errors import OpsdError
from opsd.reports.delivery import is_email, report_message, send_report

SUBJECT = "opsd weekly report 2026-W48"
HTML = ("<html><body><h1>Weekly report</h1><table><tr><th>Check</th><th>Uptime</th></tr>"
        "<tr><td>notion.api</td><td>99.95 %</td></tr></table>"
        '<img src="cid:uptime.png" alt="uptime"></body></html>')
TEXT = "Weekly report\n\nCheck        Uptime\nnotion.api   99.95 %\n"
MARKDOWN = "# Weekly report\n\n| Check | Uptime |\n|---|---|\n| notion.api | 99.95 % |\n"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(64)


def settings_with(*urls: str) -> Settings:
    return Settings(alerts={"urls": list(urls)})


def send(settings: Settings, **extra: object) -> list:
    return send_report(settings, subject=SUBJECT, html=HTML, text=TEXT, markdown=MARKDOWN,
                       **extra)  # type: ignore[arg-type]


def plain(part: email.message.EmailMessage) -> str:
    """A text part's content as written (SMTP carries CRLF line ends)."""
    return part.get_content().replace("\r\n", "\n").strip()


def parts(message: email.message.EmailMessage) -> list[str]:
    return [part.get_content_type() for part in message.walk()]


def test_mail_is_html_with_the_reports_own_text_as_the_alternative(mailbox) -> None:
    (outcome,) = send(settings_with("report=" + mailbox.url))
    assert outcome.delivered and outcome.error == ""
    (message,) = mailbox.messages
    assert message["Subject"] == SUBJECT
    assert parts(message) == ["multipart/alternative", "text/plain", "text/html"]
    # The plain part is the report's text as written (aligned columns), not tags stripped.
    assert plain(message.get_body(("plain",))) == TEXT.strip()
    assert "<td>notion.api</td>" in message.get_body(("html",)).get_content()


def test_a_chart_goes_with_the_mail_shown_where_the_html_names_it(mailbox, tmp_path) -> None:
    chart = tmp_path / "uptime.png"
    chart.write_bytes(PNG)
    (outcome,) = send(settings_with("report=" + mailbox.url), attachments=[chart])
    assert outcome.delivered
    (message,) = mailbox.messages
    assert parts(message) == ["multipart/related", "multipart/alternative", "text/plain",
                              "text/html", "image/png"]
    image = next(p for p in message.walk() if p.get_content_type() == "image/png")
    assert image["Content-ID"] == "<uptime.png>" and image.get_content() == PNG
    assert plain(message.get_body(("plain",))) == TEXT.strip()


def test_chat_gets_the_markdown_and_untagged_urls_get_nothing(webhook, mailbox) -> None:
    outcomes = send(settings_with("report=" + webhook.url, mailbox.url))
    assert [o.delivered for o in outcomes] == [True]
    (posted,) = webhook.received
    assert posted["title"] == SUBJECT and posted["message"].strip() == MARKDOWN.strip()
    assert mailbox.messages == []


def test_mail_asking_for_plain_text_gets_the_text_alone(mailbox) -> None:
    (outcome,) = send(settings_with("report=" + mailbox.url + "&format=text"))
    assert outcome.delivered
    (message,) = mailbox.messages
    assert parts(message) == ["text/plain"]
    assert plain(message) == TEXT.strip()


def test_a_failed_url_says_why_without_its_password(closed_port, webhook) -> None:
    password = "Sm7p-pa55word-Zq9"
    mail = (f"report=mailto://ops:{password}@127.0.0.1:{closed_port}"
            "?to=oncall@example.com&from=opsd@example.com&mode=insecure")
    failed, delivered = send(settings_with(mail, "report=" + webhook.url))
    assert not failed.delivered and failed.error
    assert password not in failed.error and password not in failed.label
    assert delivered.delivered and len(webhook.received) == 1


@pytest.mark.slow  # parsing the URLs starts the Apprise child process
def test_no_url_tagged_report_is_one_clear_error() -> None:
    with pytest.raises(OpsdError, match="no entry is tagged `report`") as caught:
        send(settings_with("json://127.0.0.1:9/hook", "critical=json://127.0.0.1:9/other"))
    assert "\n" not in str(caught.value)


def test_a_missing_attachment_is_named_before_anything_is_sent(tmp_path: Path) -> None:
    with pytest.raises(OpsdError, match=r"report attachment not found: gone\.png"):
        send(settings_with("report=json://127.0.0.1:9/hook"), attachments=[tmp_path / "gone.png"])


def test_email_urls_get_html_and_others_markdown() -> None:
    def destination(url: str) -> Destination:
        return Destination(url, frozenset({"report"}), url, "key")

    for url, expected in (("mailtos://u:p@smtp.example.com", True),
                          ("MAILTO://smtp.example.com", True),
                          ("json://hook.example.com", False), ("slack://a/b/c", False)):
        assert is_email(destination(url)) is expected
        message = report_message(destination(url), subject=SUBJECT, html=HTML, text=TEXT,
                                 markdown=MARKDOWN)
        assert (message.body, message.body_format) == (
            (HTML, "html") if expected else (MARKDOWN, "markdown"))
        assert message.text == (TEXT if expected else None)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # Apprise's own imports (imghdr)
def test_the_plain_part_is_swapped_only_while_a_report_is_sent() -> None:
    from apprise import NotifyFormat
    from apprise.plugins.email import base

    from opsd.alerting.plain_alternative import plain_alternative

    original = base.convert_between
    with plain_alternative(TEXT):
        assert base.convert_between(NotifyFormat.HTML, NotifyFormat.TEXT, HTML) == TEXT
        assert "<strong>" in base.convert_between(NotifyFormat.MARKDOWN, NotifyFormat.HTML,
                                                  "**x**")
    assert base.convert_between is original
    with plain_alternative(None):
        assert base.convert_between is original
