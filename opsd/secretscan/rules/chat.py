"""Chat and messaging: Slack, Discord, Twilio.

Shapes from gitleaks' `slack.go`, `discord.go` and `twilio.go` (v8.30) and Slack's and
Discord's token documentation.
"""

from __future__ import annotations

from opsd.secretscan.rules.model import END, END_URLSAFE, Matcher, Rule, keyed

_DISCORD_BOT = r"[MNOmno][A-Za-z0-9_\-]{23,27}\.[A-Za-z0-9_\-]{6}\.[A-Za-z0-9_\-]{27,40}"

RULES: tuple[Rule, ...] = (
    Rule(
        "slack-token", "Slack token (bot, user, workspace, legacy, configuration)",
        (
            # xoxb-<team>-<bot>-<secret>, xoxp-<team>-<user>-<app>-<secret>, xoxa-2-<…>
            # (a mask of `#` or `*` after it is no end: `xoxp-1-2-3-####` is a placeholder)
            Matcher("xox", r"[abeoprs]-(?:\d-)?(?:\d{6,14}-){1,3}[A-Za-z0-9][A-Za-z0-9\-]{7,250}"
                           r"(?![A-Za-z0-9\-#*])"),
            # configuration tokens: xoxe.xoxp-1-<163+>, refresh xoxe-1-<146>
            Matcher("xox", r"e(?:\.xox[bp])?-\d-[A-Za-z0-9]{140,200}" + END),
        ),
        # The digit groups make the shape strict and lower the whole token's entropy.
        entropy=2.5,
    ),
    Rule(
        "slack-webhook", "Slack incoming webhook URL",
        (Matcher("://", r"hooks\.slack\.com/(?:services|workflows)/"
                        r"(?P<secret>T[A-Z0-9]{8,12}/[AB][A-Z0-9]{6,12}/[A-Za-z0-9]{24})" + END),),
        entropy=3.0, boundary=False, public_prefix=False,
    ),
    Rule(
        "slack-app-token", "Slack app-level token (xapp-)",
        (Matcher("xapp-", r"\d-[A-Za-z0-9]{6,20}-\d{6,20}-[A-Za-z0-9]{20,100}" + END),),
        entropy=3.0,
    ),
    Rule(
        "slack-workflow-webhook", "Slack workflow (trigger) webhook URL",
        (Matcher("hooks.slack.com/", r"(?:workflows|triggers)/"
                                     r"(?P<secret>T[A-Z0-9]{8,12}/[A-Za-z0-9/+]{30,80})" + END),),
        entropy=3.0, boundary=False, public_prefix=False,
    ),
    Rule(
        "discord-bot-token", "Discord bot token or API key",
        (keyed("discord", _DISCORD_BOT + "|[0-9a-f]{64}"),),
        entropy=3.0, public_prefix=False,
    ),
    Rule(
        "discord-webhook", "Discord webhook URL",
        (Matcher("discord", r"(?:app)?\.com/api/webhooks/\d{17,20}/"
                            r"(?P<secret>[A-Za-z0-9_\-]{60,68})" + END_URLSAFE),),
        entropy=3.0, boundary=False, public_prefix=False,
    ),
    Rule(
        "twilio-api-key", "Twilio API key SID",
        (Matcher("S", r"K[0-9a-f]{32}" + END),), entropy=3.0,
    ),
    Rule(
        "twilio-auth-token", "Twilio auth token (next to its account SID, or named so)",
        (
            # an account SID, then within a few lines the 32-hex auth token
            Matcher("AC", r"[0-9a-f]{32}[\s\S]{0,200}?[^0-9A-Za-z]"
                          r"(?P<secret>[0-9a-f]{32})" + END),
            keyed("twilio", "[0-9a-fA-F]{32}"),
        ),
        entropy=3.0, public_prefix=False,
    ),
)
