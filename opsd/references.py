"""Names that point from one part of the configuration to another, checked when the playbooks
load: `daemon.heartbeat_playbook` must name a playbook, and an entry's `target` an item of the
settings list its kind reads. A dangling name is a load error naming the file and key, not a
check SKIPPED or UNKNOWN forever. (`notion.count`'s `database` is left alone: the built-in
playbooks name databases a workspace may not have, and say SKIPPED then.)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from opsd.checks import get_kind
from opsd.config.loading import config_label
from opsd.config.messages import did_you_mean

if TYPE_CHECKING:
    from opsd.checks.base import CheckSpec
    from opsd.config import Settings
    from opsd.playbooks import Playbook, PlaybookSet


def reference_problems(settings: Settings, playbooks: PlaybookSet) -> list[str]:
    """One line per dangling name, naming the file and key."""
    problems = _heartbeat_problems(settings, playbooks)
    for playbook in playbooks:
        for index, spec in enumerate(playbook.checks):
            problems += _target_problems(settings, playbook, index, spec)
    return problems


def configured_names(settings: Settings, section: str) -> list[str]:
    """The names of the items of a settings list (`notion.databases`, `caches`, ...)."""
    items: Any = settings
    for part in section.split("."):
        items = getattr(items, part)
    return [item.name for item in items]


def _heartbeat_problems(settings: Settings, playbooks: PlaybookSet) -> list[str]:
    daemon = settings.daemon
    # The default name only matters once a heartbeat URL makes the daemon ping after it.
    used = daemon.heartbeat_url is not None or "heartbeat_playbook" in daemon.model_fields_set
    name = daemon.heartbeat_playbook
    if not used or name in playbooks.playbooks:
        return []
    return [f"{config_label(settings)}: daemon.heartbeat_playbook: no playbook named {name!r}"
            f"{did_you_mean(name, playbooks.playbooks)} "
            f"(known: {', '.join(sorted(playbooks.playbooks)) or 'none'})"]


def _target_problems(
    settings: Settings, playbook: Playbook, index: int, spec: CheckSpec[Any]
) -> list[str]:
    kind = get_kind(spec.kind)
    section = kind.targets if kind is not None else None
    if section is None or spec.target is None:
        return []
    names = configured_names(settings, section)
    if spec.target in names:
        return []
    where = f"{playbook.path.name if playbook.path else playbook.name}: checks[{index}]"
    configured = ", ".join(names) or f"none, {section} is empty"
    return [f"{where}.target: no {section} entry named {spec.target!r}"
            f"{did_you_mean(spec.target, names)} (configured: {configured})"]
