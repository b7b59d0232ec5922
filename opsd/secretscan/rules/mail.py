"""Mail services: SendGrid, Mailgun, Mailchimp, Brevo (gitleaks' `sendgrid.go`, `mailgun.go`,
`mailchimp.go`, `sendinblue.go`)."""

from __future__ import annotations

from opsd.secretscan.rules.model import END, Matcher, Rule, keyed, prefixed

RULES: tuple[Rule, ...] = (
    Rule(
        "sendgrid-api-key", "SendGrid API key",
        (Matcher("S", r"G\.[A-Za-z0-9_\-]{22}\.[A-Za-z0-9_\-]{43}" + END),), entropy=3.5,
    ),
    Rule(
        "mailgun-api-key", "Mailgun private API key, public key or webhook signing key",
        (
            keyed("mailgun", r"(?:pub)?(?:key-)?[0-9a-fA-F]{32}"
                             r"|[0-9a-hA-H]{32}-[0-9a-hA-H]{8}-[0-9a-hA-H]{8}"),
        ),
        entropy=3.0, public_prefix=False,
    ),
    Rule(
        "mailchimp-api-key", "Mailchimp API key (hex and its data center, -us6)",
        (Matcher("-us", r"\d{1,2}" + END, before="[0-9a-f]{32}", before_width=32),),
        entropy=3.0, public_prefix=False,
    ),
    Rule("brevo-api-key", "Brevo (Sendinblue) API key",
         (prefixed("xkeysib-", "[0-9a-f]{64}-[A-Za-z0-9]{16}"),), entropy=3.0),
)
