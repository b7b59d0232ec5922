"""A short hash of the effective configuration, for `opsd_build_info{config_hash}`.

Two opsd instances (or one before and after a reload) with the same hash run the same
settings and playbooks. Secrets take no part in it: pydantic dumps every `SecretStr` as the
same mask, so the hash neither changes with a token nor says anything about one.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from opsd.config.sections import Settings
    from opsd.playbooks import Playbook

HASH_CHARS = 12


def config_hash(settings: Settings, playbooks: Iterable[Playbook] = ()) -> str:
    """The first HASH_CHARS hex digits of the SHA-256 of settings and playbooks (secrets
    masked), independent of key order and of the order playbooks were loaded in."""
    document = {
        "settings": settings.model_dump(mode="json"),
        "playbooks": sorted(
            (p.model_dump(mode="json") for p in playbooks), key=lambda p: str(p.get("name"))
        ),
    }
    text = json.dumps(document, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:HASH_CHARS]
