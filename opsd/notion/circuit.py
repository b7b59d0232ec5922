"""A circuit breaker for opsd's own Notion probing: stop adding load to a struggling Notion.

After `failures_to_open` server-side failures in a row (5xx, 529, timeouts, network errors,
a gateway's 5xx page) the circuit opens: no Notion request is sent, the checks that would
send one end UNKNOWN "circuit open since 14:02 (Notion failing: …)" (`CircuitOpen`), and one
light probe (GET /v1/users/me) per backoff step asks whether Notion is back. The step starts
at `backoff_start` and doubles after each failed probe up to `backoff_max`; after a
successful probe it starts over, and `successes_to_close` successful probes in a row close
the circuit. Answers that say Notion is up (200, and 400/401/403/404/409: Notion judged the
request) reset the count; a 429 is the rate limiter's business and counts for nothing.

`CircuitState` and the functions below it are pure (every one takes `now`); `CircuitBreaker`
keeps the state in the store under the same budget as the rate limiter, so the daemon,
`opsd run-playbook` and `opsd check` stop and probe together: a probe is claimed in a
transaction, so at most one is sent per step whichever process is due first.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import enum
import logging
import time
import zoneinfo
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Literal

from opsd.errors import CheckError
from opsd.results import Status
from opsd.runbooks import CIRCUIT_OPEN_HINT
from opsd.store import circuit as circuit_rows
from opsd.store.database import StoreBusyError

if TYPE_CHECKING:
    from opsd.config.circuit import CircuitConfig
    from opsd.notion.errors import NotionError
    from opsd.store import StoreAccess

log = logging.getLogger("opsd.notion")

Outcome = Literal["success", "failure", "neutral"]
"""What one answer says about Notion: up, failing server-side, or nothing (429, not sent)."""

_NOT_JUDGED = frozenset({"rate_limited", "no_slot", "no_token"})
_observed: CircuitState | None = None
"""The circuit as this process last saw it: what /healthz shows, without a query."""


class Gate(enum.StrEnum):
    """What a request may do now."""

    SEND = "send"  # closed: go ahead
    PROBE = "probe"  # open and a probe is due: this caller sends it
    HOLD = "hold"  # open: not sent


@dataclasses.dataclass(frozen=True)
class CircuitState:
    """One budget's circuit. Times are UTC epoch seconds."""

    open: bool = False
    failures: int = 0  # server-side failures in a row (counted while closed)
    successes: int = 0  # successful probes in a row (counted while open)
    opened_at: float | None = None
    backoff: float = 0.0  # the current step between probes
    next_probe_at: float | None = None
    last_error: str = ""

    def to_row(self) -> dict[str, Any]:
        """The `notion_circuit` columns."""
        row = dataclasses.asdict(self)
        row["open"] = int(self.open)
        return row

    @classmethod
    def from_row(cls, row: dict[str, Any] | None) -> CircuitState:
        """The state of a `notion_circuit` row (closed when there is none)."""
        if not row:
            return cls()
        return cls(**{**{name: row[name] for name in circuit_rows.COLUMNS},
                      "open": bool(row["open"])})


def outcome_of(error: NotionError | None) -> Outcome:
    """What an answer (None: a success) says about Notion's availability (pure)."""
    if error is None:
        return "success"
    if error.kind in _NOT_JUDGED or error.status == 429:
        return "neutral"
    if error.retryable:  # 5xx, 529, a gateway's 5xx page, timeouts, the network
        return "failure"
    if error.kind == "gateway":  # a firewall's 403 page: not Notion's answer either way
        return "neutral"
    return "success"  # 400/401/403/404/409: Notion's servers judged the request


def gate(state: CircuitState, now: float) -> Gate:
    """Whether a request may be sent at `now` (pure)."""
    if not state.open:
        return Gate.SEND
    if state.next_probe_at is None or now >= state.next_probe_at:
        return Gate.PROBE
    return Gate.HOLD


def claim_probe(state: CircuitState, now: float) -> CircuitState:
    """The state once a caller took the due probe: the next one is a whole step away, so a
    concurrent caller (in this process or another) holds instead of probing too (pure)."""
    return dataclasses.replace(state, next_probe_at=now + state.backoff)


def record(
    state: CircuitState, outcome: Outcome, now: float, policy: CircuitConfig, *,
    probe: bool = False, error: str = "",
) -> CircuitState:
    """The state after one answer (`error`: its plain words when it failed) (pure).

    While open only the probe's answer counts: requests sent before the circuit opened say
    nothing about Notion now."""
    if not state.open:
        return _closed_after(state, outcome, now, policy, error)
    if not probe:
        return state
    if outcome == "success":
        if state.successes + 1 >= policy.successes_to_close:
            return CircuitState()
        return dataclasses.replace(state, successes=state.successes + 1,
                                   backoff=policy.backoff_start,
                                   next_probe_at=now + policy.backoff_start)
    if outcome == "neutral":  # not sent or rate limited: try again in a step
        return dataclasses.replace(state, next_probe_at=now + state.backoff)
    backoff = min(state.backoff * 2, policy.backoff_max)
    return dataclasses.replace(state, successes=0, backoff=backoff, next_probe_at=now + backoff,
                               last_error=error or state.last_error)


def _closed_after(
    state: CircuitState, outcome: Outcome, now: float, policy: CircuitConfig, error: str
) -> CircuitState:
    if outcome == "neutral":
        return state
    if outcome == "success":
        return CircuitState() if state.failures else state
    failures = state.failures + 1
    if failures < policy.failures_to_open:
        return dataclasses.replace(state, failures=failures, last_error=error)
    return CircuitState(open=True, failures=failures, opened_at=now,
                        backoff=policy.backoff_start, next_probe_at=now + policy.backoff_start,
                        last_error=error)


def clock_time(epoch: float | None, zone: str) -> str:
    """'14:02' in `zone` ('-' for None)."""
    if epoch is None:
        return "-"
    return dt.datetime.fromtimestamp(epoch, zoneinfo.ZoneInfo(zone)).strftime("%H:%M")


def open_words(state: CircuitState, zone: str) -> str:
    """'circuit open since 14:02 (Notion failing: Notion is overloaded (529 …))'."""
    return (f"circuit open since {clock_time(state.opened_at, zone)} "
            f"(Notion failing: {state.last_error or 'server errors'})")


def status_line(state: CircuitState, zone: str) -> str:
    """One line for `opsd status` and /healthz: 'Notion circuit OPEN since 14:02 (…), next
    probe 14:06', or 'Notion circuit closed'."""
    if not state.open:
        return "Notion circuit closed"
    since = open_words(state, zone).removeprefix("circuit open since ")
    return f"Notion circuit OPEN since {since}, next probe {clock_time(state.next_probe_at, zone)}"


def state_json(state: CircuitState) -> dict[str, Any]:
    """The circuit for `opsd status --json` (`notion_circuit`)."""
    return {"state": "open" if state.open else "closed", **dataclasses.asdict(state)}


class CircuitOpen(CheckError):
    """A Notion request not sent because the circuit is open: the check ends UNKNOWN, and the
    alert engine leaves the alert as it stands (`details.circuit_open`)."""

    def __init__(self, state: CircuitState, zone: str) -> None:
        super().__init__(open_words(state, zone), Status.UNKNOWN, {
            "circuit_open": True, "circuit_opened_at": state.opened_at,
            "next_probe_at": state.next_probe_at, "notion_error": state.last_error,
            "hint": CIRCUIT_OPEN_HINT,
        })


class CircuitBreaker:
    """The async front of the state machine: in memory (one process), or in the store under
    `budget`, shared by every opsd process on the database. While another process holds the
    store's write lock it goes on with the state it last saw (as the rate limiter does).
    `last_seen` is what this process last read or wrote (/healthz shows it)."""

    def __init__(
        self,
        policy: CircuitConfig,
        *,
        clock: Callable[[], float] = time.time,
        store: StoreAccess | None = None,
        budget: str = "",
        zone: str = "UTC",
    ) -> None:
        self.policy = policy
        self.clock = clock
        self.store = store
        self.budget = budget
        self.zone = zone
        self.last_seen = CircuitState()
        self._probing: asyncio.Future[None] | None = None
        self._entering = asyncio.Lock()  # one admission at a time in this process

    async def enter(self, probe: Callable[[], Awaitable[NotionError | None]]) -> None:
        """Return when a request may be sent; raise `CircuitOpen` while the circuit is open.

        When a probe is due this caller sends it (`probe()`: the answer's error, None when it
        succeeded) and goes ahead if that closed the circuit; callers in this process that
        arrive meanwhile wait for that probe's verdict instead of failing at once."""
        async with self._entering:
            if self._probing is None or self._probing.done():
                verdict = await self.admit()
                if verdict is Gate.SEND:
                    return
                if verdict is Gate.HOLD:
                    raise self.refusal()
                self._probing = asyncio.ensure_future(self._probe(probe))
            probing = self._probing
        # A caller's own timeout must not cancel the probe the others wait for.
        await asyncio.shield(probing)
        if self.last_seen.open:
            raise self.refusal()

    async def is_open(self) -> bool:
        """Whether the circuit is open now (as stored)."""
        return self.policy.enabled and (await self.current()).open

    async def _probe(self, probe: Callable[[], Awaitable[NotionError | None]]) -> None:
        await self.report(await probe(), probe=True)

    async def admit(self) -> Gate:
        """SEND, PROBE (this caller must probe, then `report(probe=True)`), or HOLD."""
        if not self.policy.enabled:
            return Gate.SEND
        state = await self.current()
        if not state.open:
            return Gate.SEND
        now = self.clock()

        def take(state: CircuitState) -> tuple[CircuitState, Gate]:
            verdict = gate(state, now)
            return (claim_probe(state, now) if verdict is Gate.PROBE else state), verdict

        return await self._update(take)

    def refusal(self) -> CircuitOpen:
        """The error a held request raises."""
        return CircuitOpen(self.last_seen, self.zone)

    async def report(self, error: NotionError | None, *, probe: bool = False) -> None:
        """One answer (None: success): counted, and the circuit opened or closed by it."""
        if not self.policy.enabled:
            return
        outcome = outcome_of(error)
        seen = self.last_seen
        if outcome == "neutral" and not probe:
            return
        if outcome == "success" and not probe and not seen.open and not seen.failures:
            return  # the common case: nothing to write
        now = self.clock()
        words = str(error) if error is not None else ""

        def judge(state: CircuitState) -> tuple[CircuitState, tuple[CircuitState, CircuitState]]:
            after = record(state, outcome, now, self.policy, probe=probe, error=words)
            return after, (state, after)

        # This answer's own transition, as stored (another process may have moved it, and
        # `last_seen` may be a concurrent answer's by the time this one returns).
        self._log_change(*await self._update(judge))

    async def current(self) -> CircuitState:
        """The circuit as stored (or as last seen while the store is busy)."""
        if self.store is not None:
            try:
                row = await self.store.call_brief(circuit_rows.circuit_row, self.budget)
            except StoreBusyError:
                return self.last_seen
            self._see(CircuitState.from_row(row))
        return self.last_seen

    async def _update(self, change: Callable[[CircuitState], tuple[CircuitState, Any]]) -> Any:
        if self.store is None:
            state, result = change(self.last_seen)
            self._see(state)
            return result

        def apply(row: dict[str, Any] | None) -> tuple[dict[str, Any] | None, Any]:
            before = CircuitState.from_row(row)
            state, result = change(before)
            self._see(state)
            return (row if state == before else state.to_row()), result

        try:
            return await self.store.call_brief(
                circuit_rows.update_circuit, self.budget, apply, now=self.clock())
        except StoreBusyError:  # another process holds the write lock: the state in memory
            state, result = change(self.last_seen)
            self._see(state)
            return result

    def _see(self, state: CircuitState) -> None:
        from opsd import metrics  # here: `opsd status` reads the state without the metrics

        global _observed
        self.last_seen = _observed = state  # the daemon's one budget, or its successor's
        metrics.observe_notion_circuit(state.open)

    def _log_change(self, before: CircuitState, after: CircuitState) -> None:
        if after.open and not before.open:
            log.warning("Notion circuit opened after %d failures in a row (%s): checks are "
                        "not sent, next probe at %s", after.failures, after.last_error,
                        clock_time(after.next_probe_at, self.zone))
        elif before.open and not after.open:
            log.info("Notion circuit closed: %d probes in a row succeeded, checks run again",
                     self.policy.successes_to_close)


def observed_line(zone: str) -> str | None:
    """`status_line` of the circuit this process saw last if it is open, else None."""
    state = _observed
    return status_line(state, zone) if state is not None and state.open else None
