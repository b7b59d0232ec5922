"""Routing that names nothing: `depends_on` no entry answers to, escalation tags no URL has —
pure, through the real `opsd config check`, and once in the daemon's log at start."""

from __future__ import annotations

import signal
from pathlib import Path

from opsd.alerting.routing_warnings import routing_warnings, url_tags
from opsd.playbooks import Playbook, parse_playbook
from tests.test_daemon import setup  # noqa: F401 (setup is a fixture)

SECRET_URL = "json://opsd:hunter2pass@127.0.0.1:9/hook"
NIGHTLY = """name = "nightly"
[[checks]]
name = "retention"
kind = "maintenance.retention"
[[checks]]
name = "trend"
kind = "history.trend"
depends_on = [{names}]
"""


def _playbook(*names: str) -> Playbook:
    raw = {"name": "nightly", "checks": [
        {"name": "retention", "kind": "maintenance.retention"},
        {"name": "trend", "kind": "history.trend", "depends_on": list(names)},
    ]}
    return parse_playbook(raw, Path("nightly.toml"))


def _write_playbooks(tmp_path: Path, *names: str) -> Path:
    directory = tmp_path / "playbooks"
    directory.mkdir()
    quoted = ", ".join(f'"{n}"' for n in names)
    (directory / "nightly.toml").write_text(NIGHTLY.format(names=quoted))
    return directory


def test_a_check_a_kind_or_a_label_of_a_known_check_is_no_warning():
    known = _playbook("retention", "maintenance.retention", "retention/any-target")
    assert routing_warnings([known], [], []) == []


def test_each_unknown_depends_on_is_one_line_naming_file_entry_and_name():
    warnings = routing_warnings([_playbook("retention", "backup", "nightly-db/main")], [], [])
    assert warnings == [
        "warning: nightly.toml: checks[1].depends_on: 'backup' names no check, kind or"
        " check/target of any playbook; it holds nothing",
        "warning: nightly.toml: checks[1].depends_on: 'nightly-db/main' names no check, kind"
        " or check/target of any playbook; it holds nothing",
    ]


def test_a_name_in_another_playbook_counts():
    other = parse_playbook(
        {"checks": [{"name": "backup", "kind": "history.trend"}]}, Path("other.toml")
    )
    assert routing_warnings([_playbook("backup"), other], [], []) == []


def test_url_tags_are_apprise_tag_names_lowercased():
    assert url_tags("Critical, 2:Pager:3 = json://h/x") == {"critical", "pager"}
    assert url_tags(SECRET_URL) == set()
    assert url_tags("not a url") == set()


def test_an_escalation_tag_no_url_carries_is_one_line_without_any_url():
    urls = ["critical=" + SECRET_URL, "2:oncall=json://a:pw@h/x"]
    warnings = routing_warnings([], ["oncall", "pager", "critical"], urls, "opsd.toml")
    assert warnings == [
        "warning: opsd.toml: alerts.escalations[1].tag: 'pager' is the tag of no alerts.urls"
        " entry; the escalation reaches nobody",
    ]
    assert routing_warnings([], ["pager"], [SECRET_URL]) != []  # untagged URLs are no match


def test_config_check_prints_the_warnings_and_still_exits_0(make_config, opsd_cli, tmp_path):
    config = make_config(
        scheduler={"playbooks_dir": str(_write_playbooks(tmp_path, "retention", "backup"))},
        alerts={"urls": ["critical=" + SECRET_URL],
                "escalations": [{"after": "30m", "tag": "Pager"}]},
    )
    done = opsd_cli("--config", str(config), "config", "check")
    assert (done.code, done.err) == (0, "")
    assert done.out.splitlines() == [
        "warning: nightly.toml: checks[1].depends_on: 'backup' names no check, kind or"
        " check/target of any playbook; it holds nothing",
        "warning: opsd.toml: alerts.escalations[0].tag: 'pager' is the tag of no alerts.urls"
        " entry; the escalation reaches nobody",
        "ok",
    ]
    again = opsd_cli("--config", str(config), "config", "check")  # from the cached view
    assert (again.code, again.out) == (0, done.out)


def test_config_check_without_dangling_routing_is_just_ok(make_config, opsd_cli, tmp_path):
    config = make_config(
        scheduler={"playbooks_dir": str(_write_playbooks(tmp_path, "maintenance.retention"))},
        alerts={"urls": ["pager=" + SECRET_URL],
                "escalations": [{"after": "30m", "tag": "pager"}]},
    )
    done = opsd_cli("--config", str(config), "config", "check")
    assert (done.code, done.out) == (0, "ok\n")


def test_the_daemon_logs_each_warning_once_at_start(setup):  # noqa: F811
    daemon, _ = setup(alerts={"urls": ["critical=" + SECRET_URL],
                              "escalations": [{"after": "30m", "tag": "pager"}]})
    daemon.wait_log("alerts.escalations[0].tag: 'pager'")
    daemon.signal(signal.SIGTERM)
    assert daemon.wait_exit() == 0
    log = daemon.log()
    assert log.count("alerts.escalations[0].tag: 'pager' is the tag of no") == 1
    assert "depends_on" not in log and "hunter2pass" not in log
