"""The `opsd` command line: argparse only at import time, so `opsd --help` stays fast.

Each verb names its handler as "module:function"; the module is imported only when the verb
runs. A handler takes the parsed arguments and returns the exit code. User mistakes raise
`OpsdError` (or argparse errors) and end as one line on stderr with exit code 3.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import Any

EXIT_UNKNOWN = 3


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line and exit 3 (the Nagios UNKNOWN code).

    Subcommands accept `--config` too, so `opsd config check --config X` works as well as
    `opsd --config X config check`.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.prog != "opsd":
            self.add_argument("--config", metavar="PATH", default=argparse.SUPPRESS,
                              help="config file (same as before the command)")

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_UNKNOWN, f"{self.prog}: error: {message} (see --help)\n")

    def _check_value(self, action: argparse.Action, value: Any) -> None:
        """An unknown command or action: one line with the closest known one, exit 3."""
        if action.choices is None or value in action.choices:
            return
        from opsd.cli.suggest import did_you_mean

        what = (action.metavar if isinstance(action.metavar, str) else "choice").lower()
        hint = did_you_mean(str(value), [str(c) for c in action.choices]) or " (see --help)"
        self.exit(EXIT_UNKNOWN, f"{self.prog}: unknown {what} {value!r}{hint}\n")


def _handler(parser: argparse.ArgumentParser, target: str) -> None:
    parser.set_defaults(handler=target)


def _json(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def _glance(parser: argparse.ArgumentParser) -> None:
    """The filters of `status` and `history` (`opsd.cli.glance`)."""
    parser.add_argument("--failing", action="store_true",
                        help="only what is not OK (nor SKIPPED); stale counts as failing")
    parser.add_argument("--playbook", metavar="NAME", help="only this playbook's checks")


def build_parser() -> argparse.ArgumentParser:
    from opsd import __version__

    parser = _Parser(
        prog="opsd",
        description="Operations monitoring for a self-hosted Notion API integration.",
        epilog="Exit codes: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN or usage/config error.",
    )
    parser.add_argument(
        "--config", metavar="PATH",
        help="config file (default: $OPSD_CONFIG, else /etc/opsd/opsd.toml)",
    )
    parser.add_argument("--version", action="version", version=f"opsd {__version__}")
    verbs = parser.add_subparsers(dest="verb", metavar="COMMAND", parser_class=_Parser)

    p = verbs.add_parser("run", help="run the daemon: scheduled playbooks, metrics, alerts")
    _handler(p, "opsd.cli.daemon:cmd_run")

    p = verbs.add_parser("run-playbook", help="run a playbook now and print its results")
    p.add_argument("name", help="playbook name (see `opsd playbooks`)")
    p.add_argument("--reason", metavar="TEXT",
                   help="why (emergency only: it opens or joins an incident; other "
                        "playbooks refuse it)")
    _json(p)
    _handler(p, "opsd.cli.core:cmd_run_playbook")

    p = verbs.add_parser("check", help="run one check; Nagios plugin output and exit code")
    p.add_argument("name", help="check entry name (e.g. notion.auth)")
    p.add_argument("--playbook", help="take the entry from this playbook")
    p.add_argument("--record", action="store_true",
                   help="record the run and feed the alert engine, as the daemon does "
                        "(default: look only)")
    _json(p)
    _handler(p, "opsd.cli.core:cmd_check")

    p = verbs.add_parser("status", help="latest result of every check, worst first")
    _glance(p)
    _json(p)
    _handler(p, "opsd.cli.report:cmd_status")

    p = verbs.add_parser("history", help="past results of one check")
    p.add_argument("check", help="check entry name")
    p.add_argument("--since", default="7d", help="how far back (default 7d)")
    p.add_argument("--target", help="only this target")
    _glance(p)
    _json(p)
    _handler(p, "opsd.cli.report:cmd_history")

    p = verbs.add_parser("playbooks", help="playbooks with schedules and next run times")
    _json(p)
    _handler(p, "opsd.cli.report:cmd_playbooks")

    p = verbs.add_parser("kinds", help="the check kinds a playbook entry can use")
    _json(p)
    _handler(p, "opsd.cli.report:cmd_kinds")

    p = verbs.add_parser("schema", help="a database's schema now and what changed, by property id")
    p.add_argument("database", help="database name from notion.databases")
    p.add_argument("--diff", metavar="DURATION",
                   help="also show what changed since then, e.g. 7d")
    _json(p)
    _handler(p, "opsd.cli.schema:cmd_schema")

    config = verbs.add_parser("config", help="validate or show the configuration")
    config_verbs = config.add_subparsers(dest="config_verb", metavar="ACTION", required=True,
                                         parser_class=_Parser)
    p = config_verbs.add_parser("check", help="validate config and every playbook")
    _json(p)
    _handler(p, "opsd.cli.report:cmd_config_check")
    p = config_verbs.add_parser("show", help="print the effective config as TOML, secrets "
                                             "redacted (--json: durations in seconds)")
    _json(p)
    _handler(p, "opsd.cli.report:cmd_config_show")

    p = verbs.add_parser("scan", help="scan files for leaked Notion tokens and credentials")
    p.add_argument("paths", nargs="*", metavar="PATH", help="files or directories")
    p.add_argument("--baseline", metavar="FILE", help="accepted findings (not new)")
    p.add_argument("--update-baseline", metavar="FILE", help="write all findings as accepted")
    p.add_argument("--all", action="store_true",
                   help="also scan .git, node_modules, virtualenvs, site-packages and caches")
    p.add_argument("--format", choices=("text", "json", "sarif"),
                   help="output: text (default), json (same as --json) or sarif (SARIF 2.1.0)")
    _json(p)
    _handler(p, "opsd.cli.scan_quick:cmd_scan")

    alerts = verbs.add_parser("alerts", help="firing and pending alerts")
    _json(alerts)
    _handler(alerts, "opsd.cli.alerts:cmd_alerts")
    alert_verbs = alerts.add_subparsers(dest="alerts_verb", metavar="ACTION", parser_class=_Parser)
    p = alert_verbs.add_parser("history", help="past alert events")
    p.add_argument("--since", default="7d", help="how far back (default 7d)")
    _json(p)
    _handler(p, "opsd.cli.alerts:cmd_alerts_history")
    p = alert_verbs.add_parser("test", help="send a test message to every alert URL")
    p.add_argument("--tag", help="only URLs with this Apprise tag")
    _json(p)
    _handler(p, "opsd.cli.alerts:cmd_alerts_test")

    silence = verbs.add_parser("silence", help="add, list or remove alert silences")
    silence_verbs = silence.add_subparsers(dest="silence_verb", metavar="ACTION", required=True,
                                           parser_class=_Parser)
    p = silence_verbs.add_parser("add", help="silence matching alerts for a while")
    p.add_argument("--check", required=True, metavar="PATTERN", help="glob over checks/kinds")
    p.add_argument("--target", help="only this target")
    p.add_argument("--for", dest="duration", required=True, metavar="DURATION", help="e.g. 2h")
    p.add_argument("--reason", required=True)
    _json(p)
    _handler(p, "opsd.cli.alerts:cmd_silence_add")
    p = silence_verbs.add_parser("list", help="active silences")
    _json(p)
    _handler(p, "opsd.cli.alerts:cmd_silence_list")
    p = silence_verbs.add_parser("remove", help="end a silence now")
    p.add_argument("id", help="silence id (from `opsd silence list`)")
    _json(p)
    _handler(p, "opsd.cli.alerts:cmd_silence_remove")

    p = verbs.add_parser("ack", help="acknowledge a firing alert: no reminders or escalations")
    p.add_argument("alert", metavar="CHECK[/TARGET]", help="the alert, as `opsd alerts` names it")
    p.add_argument("--comment", metavar="TEXT", help="what you are doing about it")
    p.add_argument("--by", metavar="NAME", help="who acknowledges (default: your user name)")
    p.add_argument("--remove", action="store_true", help="end the acknowledgement")
    _json(p)
    _handler(p, "opsd.cli.ack:cmd_ack")

    incident = verbs.add_parser("incident", help="incidents: list, show a timeline, note, close")
    incident_verbs = incident.add_subparsers(dest="incident_verb", metavar="ACTION",
                                             required=True, parser_class=_Parser)
    p = incident_verbs.add_parser("list", help="incidents, newest first, with time to resolve")
    _json(p)
    _handler(p, "opsd.cli.incident:cmd_incident_list")
    p = incident_verbs.add_parser("show", help="an incident and its timeline")
    p.add_argument("id", help="incident id (from `opsd incident list`)")
    _json(p)
    _handler(p, "opsd.cli.incident:cmd_incident_show")
    p = incident_verbs.add_parser("note", help="add a note to an incident's timeline")
    p.add_argument("id", help="incident id")
    p.add_argument("text", nargs="+", help="the note")
    _json(p)
    _handler(p, "opsd.cli.incident:cmd_incident_note")
    p = incident_verbs.add_parser("close", help="close an incident (records time to resolve)")
    p.add_argument("id", help="incident id")
    p.add_argument("--resolution", metavar="TEXT", help="what fixed it")
    _json(p)
    _handler(p, "opsd.cli.incident:cmd_incident_close")

    backup = verbs.add_parser("backup", help="list, verify or restore backups of the history")
    backup_verbs = backup.add_subparsers(dest="backup_verb", metavar="ACTION", required=True,
                                         parser_class=_Parser)
    p = backup_verbs.add_parser("list", help="every backup, newest first")
    _json(p)
    _handler(p, "opsd.cli.backup:cmd_backup_list")
    p = backup_verbs.add_parser("verify", help="integrity_check a backup and open its schema")
    p.add_argument("id", nargs="?", metavar="ID", help="backup id (default: the newest)")
    _json(p)
    _handler(p, "opsd.cli.backup:cmd_backup_verify")
    p = backup_verbs.add_parser("restore", help="put a verified backup in place of the history "
                                "(daemon stopped; the current database is kept aside)")
    p.add_argument("id", metavar="ID", help="backup id (see `opsd backup list`)")
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    _json(p)
    _handler(p, "opsd.cli.backup:cmd_backup_restore")
    for p in backup_verbs.choices.values():
        p.add_argument("--dir", metavar="PATH", help="backup directory (default: "
                       "storage.backup_dir)")

    p = verbs.add_parser("slo", help="SLOs: attainment, error budget left, burn-rate alerts")
    _json(p)
    _handler(p, "opsd.cli.slo:cmd_slo")

    p = verbs.add_parser("report", help="the daily, weekly or monthly report; --send, --notion")
    p.add_argument("period", choices=("daily", "weekly", "monthly"),
                   help="the current day, ISO week or month so far (--previous: the last "
                        "complete one)")
    p.add_argument("--format", choices=("markdown", "html", "json"), default="markdown",
                   help="what to print (default markdown)")
    p.add_argument("--previous", action="store_true", help="the last complete period")
    p.add_argument("--send", action="store_true",
                   help="send it to the alerts.urls tagged `report` (e-mail: HTML)")
    p.add_argument("--notion", action="store_true",
                   help="write it as the period's page in [reports] notion_database")
    _json(p)
    _handler(p, "opsd.cli.reports:cmd_report")

    p = verbs.add_parser("proxy", help="forward the integration's Notion requests through "
                                       "one rate budget, recording each")
    _handler(p, "opsd.cli.proxy:cmd_proxy")

    p = verbs.add_parser("sandbox", help="serve a local Notion API for demos and tests")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8765)
    p.add_argument("--rate", type=float, help="requests/second before 429 (default 3)")
    p.add_argument("--burst", type=int, help="token bucket size (default 10)")
    p.add_argument("--latency", help="added latency per request, e.g. 200ms")
    p.add_argument("--fault", help="error mode for every request: 401, 429, 500, 502, 503, 504, "
                                   "529, unauthorized, cloudflare-403, html-404, json-502, "
                                   "database-503 or hang (change it at run time via "
                                   "POST /__sandbox/...)")
    _handler(p, "opsd.cli.sandbox:cmd_sandbox")

    p = verbs.add_parser("demo", help="start the sandbox and run opsd against it")
    p.add_argument("--once", action="store_true", help="run every playbook once and exit")
    _handler(p, "opsd.cli.daemon:cmd_demo")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return EXIT_UNKNOWN
    # opsd uses no pydantic plugins: skip their discovery (a scan of every installed package's
    # entry points) on each start.
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    from opsd.cli.config_required import require_config_file
    from opsd.errors import OpsdError

    try:
        require_config_file(args)  # before anything could create a database on defaults
        return _dispatch(args)
    except OpsdError as exc:
        problems = getattr(exc, "problems", None) or [str(exc)]
        for problem in problems:
            print(f"opsd: {problem}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("opsd: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


def _dispatch(args: argparse.Namespace) -> int:
    import importlib

    module_name, function_name = args.handler.split(":")
    handler = getattr(importlib.import_module(module_name), function_name)
    return int(handler(args))


if __name__ == "__main__":
    raise SystemExit(main())
