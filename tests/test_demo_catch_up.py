"""The demo's start: catch-up runs spread out with history trends after the probes (a slow box
is not judged by every playbook probing at once), and a banner whose every fault is a full
command that works against the sandbox."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import httpx

from opsd.cli.demo import CATCH_UP_SPACING, FAULTS, banner, demo_config
from opsd.config import load_settings
from opsd.daemon.scheduler import HISTORY_KINDS, PlaybookScheduler, catch_up_order
from opsd.durations import parse_duration
from opsd.playbooks import Playbook, builtin_playbooks_dir, load_playbook

NOW = dt.datetime(2025, 6, 2, 12, tzinfo=dt.UTC)


async def _run(playbook: Playbook, trigger: str) -> None:
    """Never called: these tests do not start the scheduler."""


def shipped() -> list[Playbook]:
    return [load_playbook(path) for path in sorted(builtin_playbooks_dir().glob("*.toml"))]


def first_runs(spacing: float) -> dict[str, float]:
    scheduler = PlaybookScheduler("UTC", _run)
    due = scheduler.schedule(shipped(), lambda name: None, NOW, catch_up_spacing=spacing)
    assert due == ["daily", "evening", "monthly", "realtime", "weekly"]  # none ever ran
    return {name: (at - NOW).total_seconds() for name, at in scheduler.next_runs().items()}


def test_catch_ups_fire_spaced_out_with_history_trends_last() -> None:
    offsets = first_runs(5.0)
    assert sorted(offsets.values()) == [0, 5, 10, 15, 20]
    reads_history = {
        p.name for p in shipped() if p.scheduled and any(s.kind in HISTORY_KINDS for s in p.checks)
    }
    assert reads_history == {"evening", "monthly", "weekly"}
    probes = {name for name in offsets if name not in reads_history}
    assert max(offsets[name] for name in probes) < min(offsets[name] for name in reads_history)


def test_without_spacing_every_catch_up_fires_at_once() -> None:
    assert set(first_runs(0.0).values()) == {0}


def test_catch_up_order_keeps_probes_first_and_is_stable() -> None:
    trend = Playbook(name="a-trend", schedule="0 7 * * *")
    names = [p.name for p in catch_up_order([*shipped(), trend])]
    assert names.index("daily") < names.index("weekly")
    assert names.index("a-trend") < names.index("evening")  # no trend entry: a probe playbook


def test_the_demo_config_spaces_its_catch_ups(tmp_path: Path) -> None:
    settings = load_settings(demo_config(tmp_path, "http://127.0.0.1:1", 9999), env={})
    assert settings.scheduler.catch_up_spacing == parse_duration(CATCH_UP_SPACING) > 0


def test_every_fault_in_the_banner_is_a_full_command_that_works(tmp_path: Path, sandbox) -> None:
    text = banner(sandbox.url, "http://127.0.0.1:9464", tmp_path / "opsd.toml")
    commands = re.findall(r"curl -X POST (\S+) -d '([^']*)'", text)
    assert len(commands) == len(FAULTS)
    for name in ("latency", "503", "revoked token"):
        assert any(name in line and "curl -X POST" in line for line in text.splitlines()), name
    for url, body in commands:
        sandbox.reset()  # one fault at a time
        answer = httpx.post(url, content=body, timeout=10)
        assert answer.status_code == 200, (url, answer.text)
        if url.endswith("/revoke_token"):  # `{}`: the sandbox's own token, now refused
            assert me(sandbox.url) == 401
    assert me(sandbox.url) == 200


def me(base_url: str) -> int:
    from opsd.sandbox import SANDBOX_TOKEN

    return httpx.get(f"{base_url}/v1/users/me", timeout=10, headers={
        "Authorization": f"Bearer {SANDBOX_TOKEN}", "Notion-Version": "2022-06-28",
    }).status_code
