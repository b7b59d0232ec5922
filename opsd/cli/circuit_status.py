"""The Notion circuit in `opsd status`: one line while it is open, `notion_circuit` in JSON."""

from __future__ import annotations

from opsd.notion.circuit import CircuitState, status_line
from opsd.store import Store
from opsd.store.circuit import latest_circuit


def stored_circuit(store: Store) -> CircuitState:
    """The circuit as stored: an open one if any budget's is (closed when none was kept)."""
    return CircuitState.from_row(latest_circuit(store))


def circuit_line(state: CircuitState, zone: str) -> str | None:
    """'Notion circuit OPEN since 14:02 (…), next probe 14:06'; None while it is closed."""
    return status_line(state, zone) if state.open else None
