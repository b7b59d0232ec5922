"""Incidents: an emergency run or a serious alert opens one; people note and close it.

- `timeline`: an incident's timeline, merged from the alert events, runs, silences and notes
  of its time (pure);
- `opening`: which alerts open an incident by themselves (`incident = true` entries and the
  kind defaults), called by the alert observer in the transaction of their events;
- `emergency`: `opsd run-playbook emergency` — open or join, run strict, send the summary;
- `summary`: the emergency summary message (pure).

The rows live in `opsd.store.incidents`.
"""
