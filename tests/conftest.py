"""Shared fixtures: config files in tmp_path, the real `opsd` CLI as a subprocess, real servers
(the Notion sandbox, HTTP, Redis, a webhook receiver, SMTP), reserved ports, `require_tool`
(skip locally, fail under CI=true, when a real tool is missing), and the rules that keep the
suite deterministic:

- every test starts from clean module state (check registry, metrics, caches, logging) and
  every store it opened is closed after it (`_clean_state`);
- a test that starts a process or a server is marked `slow` by `pytest_collection_modifyitems`,
  and one that is not marked and does it anyway fails (`_slow_marker_guard`), so
  `pytest -m "not slow"` is quick and stays so;
- freezegun leaves pytest's own clock alone, so `--durations` shows real times.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import freezegun
import pytest

REPO = Path(__file__).resolve().parent.parent
PLAYBOOKS = REPO / "playbooks"

# freezegun patches time.time & co. everywhere while a test freezes the clock; without this,
# pytest's own timing reads the frozen clock too and `--durations` reports 1.7e9 seconds.
# Only the modules that time tests (pytest 8: runner, pytest 9: timing): freezegun looks five
# frames up the stack, and a test's own code is that close to _pytest.python and pluggy.
freezegun.configure(extend_ignore_list=["_pytest.runner", "_pytest.timing"])


# --- which tests are slow -------------------------------------------------------------------

SLOW_FIXTURES = frozenset({
    "opsd_cli",  # the real `opsd` command in a subprocess
    "sandbox", "make_sandbox",  # the Notion API sandbox (an HTTP server)
    "http_server",  # LocalHTTP: a stdlib HTTP(S) server
    "redis_server", "make_redis",  # a real redis-server process
    "webhook", "mailbox", "make_mailbox",  # alert receivers: HTTP, SMTP (aiosmtpd)
    "metrics_server",  # the daemon's /metrics listener
    "setup", "heartbeat_server",  # test_daemon's `opsd run` starter (imported by other modules)
    "promtool", "systemd_analyze",  # external tools run as subprocesses
})
"""Fixtures that start a process or a server: a test using one (even indirectly) is slow."""

SLOW_MODULES = frozenset({
    "test_daemon.py",  # `opsd run` as a subprocess in every test
    "test_daemon_demo.py",  # `opsd demo`
    "test_alerts_delivery.py",  # every delivery starts the Apprise child process
    "test_notify_worker.py",  # the Apprise child process, and the daemon
    "test_notion_checks.py",  # the Notion kinds against the sandbox
    "test_sandbox.py",  # the sandbox over HTTP, and `opsd sandbox` as a subprocess
})
"""Modules whose tests (nearly) all start processes or servers: all of their tests are slow."""


def starts_processes(item: pytest.Item) -> bool:
    """True if `item` starts a subprocess or a server, as far as collection can tell."""
    fixtures = set(getattr(item, "fixturenames", ()))
    return bool(fixtures & SLOW_FIXTURES) or item.path.name in SLOW_MODULES


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if starts_processes(item) and item.get_closest_marker("slow") is None:
            item.add_marker(pytest.mark.slow)


@pytest.fixture(autouse=True)
def _slow_marker_guard(request: pytest.FixtureRequest, monkeypatch) -> Iterator[None]:
    """A test not marked slow must not start a subprocess or listen on a socket: if it does,
    it fails (after it ran, so nothing is left half started), naming what it started. Use
    one of SLOW_FIXTURES, or mark the test `@pytest.mark.slow`."""
    if request.node.get_closest_marker("slow") is not None:
        yield
        return
    started: list[str] = []
    popen_init = subprocess.Popen.__init__
    listen = socket.socket.listen

    def guarded_popen(self, args, *rest, **kwargs):  # type: ignore[no-untyped-def]
        started.append(f"a subprocess {args!r:.120}")
        popen_init(self, args, *rest, **kwargs)

    def guarded_listen(self, *args):  # type: ignore[no-untyped-def]
        try:
            started.append(f"a server listening on {self.getsockname()}")
        except OSError:
            started.append("a server listening")
        listen(self, *args)

    monkeypatch.setattr(subprocess.Popen, "__init__", guarded_popen)
    monkeypatch.setattr(socket.socket, "listen", guarded_listen)
    yield
    if started:
        pytest.fail(
            f"{request.node.nodeid} is not marked slow but started "
            + ", ".join(dict.fromkeys(started))
            + ": use a fixture from conftest.SLOW_FIXTURES or mark it @pytest.mark.slow",
            pytrace=False,
        )


# --- clean state between tests --------------------------------------------------------------


def reset_metrics() -> None:
    """Every opsd series back to its state at import: labelled families empty but for the
    counters born at zero, plain counters and gauges at zero, no check series (the build info
    stays). Not imported yet: nothing to reset."""
    metrics = sys.modules.get("opsd.metrics")
    if metrics is None:
        return
    from prometheus_client import Counter, Gauge, Info
    from prometheus_client.metrics import MetricWrapperBase

    for collector in vars(metrics).values():
        if not isinstance(collector, MetricWrapperBase) or isinstance(collector, Info):
            continue
        # clear() silently does nothing to a family without labels: those are reset instead.
        if collector._labelnames:
            collector.clear()  # labelled: forget every child
        elif isinstance(collector, Counter):
            collector.reset()
        elif isinstance(collector, Gauge):
            collector.set(0)
        else:
            raise TypeError(f"cannot reset {collector!r}")
    metrics.CHECKS.clear()  # the per-check series (a collector of its own)
    metrics.born_at_zero()  # the labelled counters that exist from the start


def forget_parsed_urls() -> None:
    """Empty the delivery module's cache of parsed alert URLs (with it, whether a test starts
    the Apprise child would depend on the test before it)."""
    notify = sys.modules.get("opsd.alerting.notify")
    if notify is not None:
        notify._last_parse.clear()


def logger_levels() -> dict[str, int]:
    return {name: logger.level for name, logger in logging.root.manager.loggerDict.items()
            if isinstance(logger, logging.Logger)}


@pytest.fixture(autouse=True)
def _clean_state(monkeypatch) -> Iterator[None]:
    """Each test starts from the state a fresh process has, whatever ran before it: the check
    registry keeps only what modules register on import, metrics and the delivery module's
    URL cache are reset, logging is restored; every store the test opened is closed."""
    from opsd.checks.base import REGISTRY
    from opsd.store.database import Store
    from opsd.store.owner import StoreThread

    kinds = dict(REGISTRY)
    reset_metrics()
    forget_parsed_urls()
    root = logging.getLogger()
    root_level, root_handlers = root.level, list(root.handlers)
    levels = logger_levels()

    # Strong references: a store the test dropped still holds its files until it is closed.
    stores: list[Store] = []
    threads: list[StoreThread] = []
    store_init, thread_init = Store.__init__, StoreThread.__init__

    def tracked_store(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        store_init(self, *args, **kwargs)
        stores.append(self)

    def tracked_thread(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        thread_init(self, *args, **kwargs)
        threads.append(self)

    monkeypatch.setattr(Store, "__init__", tracked_store)
    monkeypatch.setattr(StoreThread, "__init__", tracked_thread)
    yield
    for owned in threads:
        with contextlib.suppress(RuntimeError):  # closed already: its executor is shut down
            owned.close()
    for store in stores:
        with contextlib.suppress(sqlite3.ProgrammingError):  # owned by a thread closed above
            store.close()

    for name in [n for n in REGISTRY if n not in kinds]:
        # A kind a test registered goes; one a built-in module registered when the test first
        # needed it stays (the module stays imported and would not register it again).
        if not REGISTRY[name].func.__module__.startswith("opsd."):
            del REGISTRY[name]
    REGISTRY.update(kinds)
    forget_parsed_urls()
    # What `opsd.logs.configure` (the daemon's log setup) changed: its handler, the levels.
    for handler in list(root.handlers):
        if handler.get_name() == "opsd" and handler not in root_handlers:
            root.removeHandler(handler)
    root.setLevel(root_level)
    for name, level in logger_levels().items():
        if level != levels.get(name, logging.NOTSET):
            logging.getLogger(name).setLevel(levels.get(name, logging.NOTSET))


# --- ports ----------------------------------------------------------------------------------


class ReservedPort:
    """A 127.0.0.1 port held by a socket that is bound (SO_REUSEADDR) but never listens.

    While held, connecting to the port is refused (a server that is down) and the kernel gives
    it to nobody else, yet a server that sets SO_REUSEADDR itself (stdlib servers, aiosmtpd,
    redis-server) can bind it: so a server can be down first, come up, go down and come back
    on the same port with no window in which another test could take it. Servers that start
    at once bind port 0 themselves; this is for the others.
    """

    def __init__(self) -> None:
        self._sock = socket.socket()
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self.port: int = self._sock.getsockname()[1]

    def close(self) -> None:
        self._sock.close()

    def __enter__(self) -> ReservedPort:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A port on 127.0.0.1 where nothing listens (connections are refused) for the test."""
    with ReservedPort() as reserved:
        yield reserved.port


# --- tools and config -----------------------------------------------------------------------


def require_tool(name: str) -> str:
    """Path of executable `name`; a missing tool skips locally but fails under CI=true."""
    path = shutil.which(name)
    if path is None:
        message = f"{name} is not installed"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{message} (CI must install it: see .ci/run)")
        pytest.skip(message)
    return path


@pytest.fixture
def promtool() -> str:
    return require_tool("promtool")


@pytest.fixture
def systemd_analyze() -> str:
    return require_tool("systemd-analyze")


def toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{toml_key(k)} = {toml_value(v)}" for k, v in value.items()) + " }"
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def toml_key(key: str) -> str:
    return key if key.replace("_", "").replace("-", "").isalnum() else toml_value(key)


def render_toml(sections: dict[str, object]) -> str:
    """A TOML document from {"section": {key: value}} / {"array": [{...}, ...]} (one level)."""
    lines: list[str] = []
    for name, body in sections.items():
        if isinstance(body, list):
            for item in body:
                lines.append(f"[[{name}]]")
                lines += [f"{toml_key(k)} = {toml_value(v)}" for k, v in item.items()]
        elif isinstance(body, dict):
            lines.append(f"[{name}]")
            lines += [f"{toml_key(k)} = {toml_value(v)}" for k, v in body.items()]
        else:
            lines.insert(0, f"{toml_key(name)} = {toml_value(body)}")
    return "\n".join(lines) + "\n"


@pytest.fixture
def make_config(tmp_path: Path) -> Callable[..., Path]:
    """Write `opsd.toml` in tmp_path: storage in tmp_path, the repo's playbooks by default."""

    def make(**sections: object) -> Path:
        sections.setdefault("storage", {})
        sections["storage"] = {"path": str(tmp_path / "opsd.db"), **sections["storage"]}  # type: ignore[dict-item]
        sections.setdefault("scheduler", {})
        sections["scheduler"] = {"playbooks_dir": str(PLAYBOOKS), **sections["scheduler"]}  # type: ignore[dict-item]
        path = tmp_path / "opsd.toml"
        path.write_text(render_toml(sections))
        return path

    return make


# --- processes ------------------------------------------------------------------------------


def opsd_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """This environment without opsd's own settings (OPSD_*, the token, credentials, the
    cache directory)."""
    env = {
        k: v for k, v in os.environ.items()
        if not k.startswith("OPSD_")
        and k not in ("NOTION_API_TOKEN", "CREDENTIALS_DIRECTORY", "CACHE_DIRECTORY")
    }
    env.update(extra or {})
    return env


@dataclass
class Completed:
    code: int
    out: str
    err: str


@pytest.fixture
def opsd_cli(tmp_path: Path) -> Callable[..., Completed]:
    """Run the real `opsd` command (`python -m opsd`) in a subprocess; `wrap` prefixes the
    command (e.g. setpriv)."""

    def run(*args: str, env: dict[str, str] | None = None, timeout: float = 120,
            wrap: tuple[str, ...] | list[str] = ()) -> Completed:
        # Its own cache directory: what a command caches (opsd.cli.view) stays in the test.
        full_env = opsd_env({"XDG_CACHE_HOME": str(tmp_path / ".cache"), **(env or {})})
        proc = subprocess.run(
            [*wrap, sys.executable, "-m", "opsd", *args],
            capture_output=True, text=True, env=full_env, cwd=tmp_path, timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
        return Completed(proc.returncode, proc.stdout, proc.stderr)

    return run


# --- servers --------------------------------------------------------------------------------


@pytest.fixture
def make_sandbox() -> Iterator[Callable[..., object]]:
    """Start sandboxes (opsd.sandbox, port 0) with the given options; stopped after the test."""
    from opsd.sandbox import Sandbox

    started: list[Sandbox] = []

    def start(**options: object) -> Sandbox:
        sandbox = Sandbox(**{"port": 0, **options}).start()  # type: ignore[arg-type]
        started.append(sandbox)
        return sandbox

    yield start
    for sandbox in started:
        sandbox.stop()


@pytest.fixture
def sandbox(make_sandbox):
    """A started local Notion API (opsd.sandbox), unthrottled; stopped after the test."""
    return make_sandbox(rate=1000, burst=1000)


@pytest.fixture
def http_server() -> Iterator[Callable[..., object]]:
    """Start LocalHTTP servers (test_sources_support) on port 0; stopped after the test."""
    from test_sources_support import LocalHTTP

    started: list[LocalHTTP] = []

    def start(**options: object) -> LocalHTTP:
        server = LocalHTTP(**options)  # type: ignore[arg-type]
        started.append(server)
        return server.__enter__()

    yield start
    for server in started:
        server.__exit__()


@pytest.fixture
def make_redis(tmp_path: Path) -> Iterator[Callable[..., object]]:
    """Start real redis-servers (test_sources_support.RedisServer); stopped after the test."""
    from test_sources_support import RedisServer

    started: list[RedisServer] = []

    def start(password: str | None = None) -> RedisServer:
        server = RedisServer(tmp_path / f"redis-{len(started)}", password=password)
        started.append(server)
        return server.start()

    yield start
    for server in started:
        server.close()


@pytest.fixture
def redis_server(make_redis):
    """A started redis-server without a password."""
    return make_redis()


@pytest.fixture
def webhook():
    """A started webhook receiver (`json://` URL), stopped after the test."""
    from test_alerts_support import running_webhook

    with running_webhook() as hook:
        yield hook


@pytest.fixture
def make_mailbox() -> Iterator[Callable[..., object]]:
    """SMTP receivers on reserved ports, started unless `start=False` (a mail server that is
    down until the test starts it); all stopped after the test."""
    from test_alerts_support import Mailbox

    made: list[Mailbox] = []

    def make(start: bool = True) -> Mailbox:
        box = Mailbox()
        made.append(box)
        if start:
            box.start()
        return box

    yield make
    for box in made:
        box.close()


@pytest.fixture
def mailbox(make_mailbox):
    """A started SMTP receiver (aiosmtpd)."""
    return make_mailbox()
