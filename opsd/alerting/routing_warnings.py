"""Routing that names nothing (pure): a `depends_on` no playbook entry answers to, and an
`[[alerts.escalations]]` tag no `alerts.urls` entry carries.

Both are valid configuration (a check may be added later, a URL may come from the
environment), so `opsd config check` and the daemon's start only warn. A warning never shows
a URL: they carry credentials.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from opsd.config.addresses import TAGGED_ENTRY

if TYPE_CHECKING:
    from opsd.config import Settings
    from opsd.playbooks import Playbook

# An Apprise tag token: `[priority:]name[:retry]`; its name is what routing compares.
_TAG = re.compile(r"^(?:[0-9]+:)?(?P<name>[a-z0-9][a-z0-9_-]*)(?::[0-9]+)?$", re.I)


def url_tags(entry: str) -> set[str]:
    """The tag names of one `alerts.urls` entry (`critical,2:pager=json://…` -> critical,
    pager), lowercased as Apprise parses them; none for an entry it cannot read."""
    match = TAGGED_ENTRY.match(entry)
    if match is None:
        return set()
    names = set()
    for token in re.split(r"[,\s]+", match["tags"] or ""):
        if token:
            tag = _TAG.match(token)
            names.add((tag["name"] if tag else token).lower())
    return names


def routing_warnings(
    playbooks: Iterable[Playbook],
    escalation_tags: Sequence[str],
    url_entries: Sequence[str],
    config_name: str = "config",
) -> list[str]:
    """One line per `depends_on` name no entry answers to and per escalation tag no URL has."""
    playbooks = list(playbooks)
    checks = {spec.name for p in playbooks for spec in p.checks}
    known = checks | {spec.kind for p in playbooks for spec in p.checks}
    warnings = []
    for playbook in playbooks:
        file = playbook.path.name if playbook.path else playbook.name
        for index, spec in enumerate(playbook.checks):
            for name in spec.depends_on:
                # A `check/target` label: only its check is known before the check runs.
                if name not in known and name.split("/", 1)[0] not in checks:
                    warnings.append(
                        f"warning: {file}: checks[{index}].depends_on: {name!r} names no"
                        " check, kind or check/target of any playbook; it holds nothing"
                    )
    tagged = {tag for entry in url_entries for tag in url_tags(entry)}
    for index, tag in enumerate(escalation_tags):
        if tag.lower() not in tagged:
            warnings.append(
                f"warning: {config_name}: alerts.escalations[{index}].tag: {tag!r} is the tag"
                " of no alerts.urls entry; the escalation reaches nobody"
            )
    return warnings


def of_settings(settings: Settings, playbooks: Iterable[Playbook]) -> list[str]:
    """`routing_warnings` of a validated configuration and its playbooks."""
    from opsd.config.loading import config_label

    return routing_warnings(
        playbooks,
        [escalation.tag for escalation in settings.alerts.escalations],
        [entry.get_secret_value() for entry in settings.alerts.urls],
        config_label(settings),
    )
