"""Bad inputs through the real CLI: `opsd config check` and `opsd run` exit 3 with exactly one
line per problem and no traceback (a representative subset of tests/test_bad_inputs.py).

`config check` prints its answer (the problems) on stdout; every other command, `run` included,
prints `opsd: <problem>` on stderr.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

DAEMON_TIMEOUT = 60.0  # bounds a hang should a bad input be accepted (the daemon would run)


@dataclasses.dataclass(frozen=True)
class Case:
    id: str
    expected: str
    """The one problem line (or its start)."""
    toml: str = ""
    raw: bytes | None = None
    """The config file's bytes, when they are not text."""
    env: tuple[tuple[str, str], ...] = ()
    playbook: str = ""
    credential: bytes | None = None
    secret: str = ""


CASES = [
    Case("timeout-inf", "opsd.toml: alerts.timeout: must be a finite duration (not inf or nan)",
         toml="[alerts]\ntimeout = inf\n"),
    Case("urls-notaurl", "opsd.toml: alerts.urls[0]: not a URL (expected [tags=]scheme://…, "
         "e.g. json://host/hook)", toml='[alerts]\nurls = ["notaurl"]\n', secret="notaurl"),
    Case("enabled-yes", "opsd.toml: metrics.enabled: not a valid boolean (true or false)",
         toml='[metrics]\nenabled = "yes"\n'),
    Case("host-999", "opsd.toml: metrics.host: not an IP address or host name",
         toml='[metrics]\nhost = "999.1.1.1"\n'),
    Case("storage-under-a-file", "opsd.toml: storage.path: cannot create /etc/hostname/x.db: "
         "/etc/hostname is not a directory", toml='[storage]\npath = "/etc/hostname/x.db"\n'),
    Case("heartbeat-nosuch", "opsd.toml: daemon.heartbeat_playbook: no playbook named "
         "'nosuch' (known: p)", toml='[daemon]\nheartbeat_playbook = "nosuch"\n'),
    Case("env-typo", "environment OPSD_NOTON__TOKEN: no such setting (did you mean "
         "OPSD_NOTION__TOKEN?)", env=(("OPSD_NOTON__TOKEN", "ntn_clicanary0123456789"),),
         secret="ntn_clicanary0123456789"),
    Case("env-not-json", "environment OPSD_ALERTS__URLS: not valid JSON (expected a JSON list, "
         'e.g. ["…"])', env=(("OPSD_ALERTS__URLS", "json://127.0.0.1/s3cretpath"),),
         secret="s3cretpath"),
    Case("credential-empty", "credential notion_token: empty file", credential=b""),
    Case("binary-config", "opsd.toml: not UTF-8 text (byte 0x89 at offset 0)",
         raw=b"\x89PNG\r\n\x1a\n\x00\x00"),
    Case("latin-1-config", "opsd.toml: not UTF-8 text (byte 0xe9 at offset 23)",
         raw='[daemon]\nlog_level = "d\xe9bug"\n'.encode("latin-1")),
    Case("unknown-key", "opsd.toml: metrics.prot: unknown key (did you mean port?)",
         toml="[metrics]\nprot = 9100\n"),
    Case("inverted-thresholds", "p.toml: checks[0].warn: warn (3) must be below crit (1) for "
         "direction 'above'", playbook='[[checks]]\nkind = "notion.latency"\nwarn = 3\ncrit = 1\n'),
    Case("target-nosuchdb", "p.toml: checks[0].target: no notion.databases entry named "
         "'nosuchdb' (configured: none, notion.databases is empty)",
         playbook='[[checks]]\nkind = "notion.schema"\ntarget = "nosuchdb"\n'),
    Case("playbook-every", "p.toml: every: not a duration: '5 minutes' (use e.g. 30s, 5m, 4h, "
         "7d)", playbook='every = "5 minutes"\n'),
    Case("maintenance-cron", "opsd.toml: alerts.maintenance[0].schedule: use day names",
         toml='[[alerts.maintenance]]\nname = "w"\nschedule = "0 2 * * 1"\nduration = "1h"\n'),
    Case("bad-timezone", "opsd.toml: scheduler.timezone: unknown IANA time zone 'Mars/Base'",
         toml='[scheduler]\ntimezone = "Mars/Base"\n'),
]


# `run` reads its inputs exactly as `config check` does: one case of each kind of input.
RUN_CASES = [c for c in CASES if c.id in {
    "timeout-inf", "urls-notaurl", "storage-under-a-file", "heartbeat-nosuch", "env-not-json",
    "credential-empty", "latin-1-config", "target-nosuchdb",
}]


def _prepare(case: Case, tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """The config file (storage and playbooks in tmp_path, unless the case sets them) and the
    environment of one case."""
    playbooks = tmp_path / "playbooks"
    playbooks.mkdir()
    (playbooks / "p.toml").write_text(case.playbook or 'every = "1h"\n')
    config = tmp_path / "opsd.toml"
    if case.raw is not None:
        config.write_bytes(case.raw)
    else:
        storage = "" if "[storage]" in case.toml else f'[storage]\npath = "{tmp_path}/opsd.db"\n'
        scheduler = f'[scheduler]\nplaybooks_dir = "{playbooks}"\n'
        if "[scheduler]" in case.toml:
            scheduler = case.toml.replace("[scheduler]\n", scheduler)
            body = scheduler + storage
        else:
            body = case.toml + storage + scheduler
        config.write_text(body)
    env = dict(case.env)
    if case.credential is not None:
        credentials = tmp_path / "credentials"
        credentials.mkdir()
        (credentials / "notion_token").write_bytes(case.credential)
        env["CREDENTIALS_DIRECTORY"] = str(credentials)
    return config, env


def _assert_clean(text: str, case: Case) -> None:
    assert "Traceback" not in text and "Task exception" not in text, text
    if case.secret:
        assert case.secret not in text


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_config_check_exits_3_with_one_line(case: Case, tmp_path: Path, opsd_cli) -> None:
    config, env = _prepare(case, tmp_path)
    done = opsd_cli("--config", str(config), "config", "check", env=env)
    _assert_clean(done.out + done.err, case)
    assert done.code == 3, done
    [line] = done.out.splitlines()
    assert line.startswith(case.expected), line
    assert done.err == "", done.err


@pytest.mark.parametrize("case", RUN_CASES, ids=lambda c: c.id)
def test_run_exits_3_with_one_line_on_stderr(case: Case, tmp_path: Path, opsd_cli) -> None:
    config, env = _prepare(case, tmp_path)
    done = opsd_cli("--config", str(config), "run", env=env, timeout=DAEMON_TIMEOUT)
    _assert_clean(done.out + done.err, case)
    assert done.code == 3, done
    [line] = done.err.splitlines()
    assert line.startswith(f"opsd: {case.expected}"), line
    assert done.out == "", done.out
