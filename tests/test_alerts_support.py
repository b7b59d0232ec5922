"""Real receivers for alert tests: an HTTP webhook (Apprise `json://`) and an SMTP server
(aiosmtpd, Apprise `mailto://`), both on 127.0.0.1, recording what arrives; the tests get
them from conftest's `webhook`, `mailbox` and `make_mailbox` fixtures. And `run_with_alerts`,
which drives a playbook through the runner and its alert observer at given times.

Both can be down and come back (an outage), so each reserves its port for its whole life
(`conftest.ReservedPort`) instead of binding port 0 when it starts: the URL in the alert
config stays right, and no other test can take the port while the receiver is down.
"""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.policy
import json
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from aiosmtpd.controller import Controller
from conftest import ReservedPort

from opsd.alerting.observer import AlertObserver
from opsd.config import Settings
from opsd.playbooks import Playbook
from opsd.runner import Runner
from opsd.store.owner import StoreThread

READY_TIMEOUT = 60.0  # only bounds a hang: aiosmtpd's default (5 s) is tight on a busy machine
HOLD_LIMIT = 120.0  # a held webhook request is answered by then at the latest (bounds a hang)


class Webhook:
    """An HTTP server collecting JSON POST bodies to /hook (any other path: 404) and their
    headers (`headers`, in the same order); `stop()` and `start()` simulate an outage.

    `hold()` makes it keep every request it receives unanswered (recorded, as a receiver has
    a message whose answer is lost) until `release()`; `held` is set once one is held."""

    def __init__(self) -> None:
        self._reserved = ReservedPort()
        self.port = self._reserved.port
        self.received: list[dict] = []
        self.headers: list[dict[str, str]] = []
        self.held = threading.Event()
        self._holding = False
        self._released = threading.Event()
        self._recording = threading.Lock()  # a body and its headers land at the same index
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"json://127.0.0.1:{self.port}/hook"

    def titles(self) -> list[str]:
        return [m["title"] for m in self.received]

    def hold(self) -> None:
        """Leave every request from now on unanswered until `release()`."""
        self._released.clear()
        self.held.clear()
        self._holding = True

    def release(self) -> None:
        """Answer the held requests (to whoever still listens) and hold no more."""
        self._holding = False
        self._released.set()

    def start(self) -> None:
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                posted = json.loads(self.rfile.read(length))
                if self.path.split("?")[0] != "/hook":  # like a real webhook: 404 elsewhere
                    self.send_response(404)
                else:
                    with hook._recording:
                        hook.received.append(posted)
                        hook.headers.append(dict(self.headers.items()))
                    if hook._holding:
                        hook.held.set()
                        hook._released.wait(HOLD_LIMIT)
                    self.send_response(200)
                with contextlib.suppress(OSError):  # a held sender may be gone by now
                    self.end_headers()

            def log_message(self, *args: object) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        ).start()

    def stop(self) -> None:
        self.release()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def close(self) -> None:
        """Stop, and give the port back."""
        self.stop()
        self._reserved.close()


@dataclass
class Mailbox:
    """An aiosmtpd server collecting messages (subject and plain-text body); down until
    `start()`, and again after `stop()`."""

    messages: list[email.message.EmailMessage] = field(default_factory=list)
    _reserved: ReservedPort = field(default_factory=ReservedPort, repr=False)
    _controller: Controller | None = field(default=None, repr=False)

    @property
    def port(self) -> int:
        return self._reserved.port

    @property
    def url(self) -> str:
        return (
            f"mailto://127.0.0.1:{self.port}?to=oncall@example.com&from=opsd@example.com"
            "&mode=insecure"
        )

    def subjects(self) -> list[str]:
        return [str(m["Subject"]) for m in self.messages]

    async def handle_DATA(self, server: object, session: object, envelope) -> str:
        self.messages.append(
            email.message_from_bytes(envelope.content, policy=email.policy.default)
        )
        return "250 OK"

    def start(self) -> None:
        assert self._controller is None, "already started"
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port,
                                      ready_timeout=READY_TIMEOUT)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def close(self) -> None:
        """Stop, and give the port back."""
        self.stop()
        self._reserved.close()


@contextlib.contextmanager
def running_webhook() -> Iterator[Webhook]:
    """A started Webhook, stopped (and its port given back) on exit."""
    hook = Webhook()
    try:
        hook.start()
        yield hook
    finally:
        hook.close()


def run_with_alerts(settings: Settings, playbook: Playbook, times: Sequence[float],
                    before: Callable[[int], object] = lambda step: None) -> None:
    """Run `playbook` once at each of `times` through the runner and its alert observer, on
    the store of `settings`; `before(step)` changes the world before each run."""
    now = [times[0]]
    store = StoreThread.open(settings.storage.path)
    runner = Runner(settings, store, clock=lambda: now[0],
                    observers=[AlertObserver(settings, store, publish=False)])

    async def runs() -> None:
        try:
            for step, moment in enumerate(times):
                before(step)
                now[0] = moment
                await runner.run(playbook)
        finally:
            await runner.resources.aclose()

    try:
        asyncio.run(runs())
    finally:
        store.close()
