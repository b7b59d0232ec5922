"""Report charts as PNG, drawn by matplotlib in a CHILD process.

The daemon never imports matplotlib (tens of megabytes, a font cache, seconds of import):
`draw_charts` runs `python -m opsd.reports.charts OUTDIR`, writes the series as JSON to its
stdin, and gets one PNG per chart in OUTDIR. The JSON is
`{"timezone": "...", "charts": {"uptime": [[day_start, value|null], ...], "p95": [...]}}`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from opsd.errors import OpsdError

TIMEOUT = 120.0
TITLES = {"uptime": ("Uptime per day", "%"), "p95": ("p95 latency per day", "seconds")}

Series = Sequence[tuple[float, float | None]]


def draw_charts(series: Mapping[str, Series], timezone: str, directory: Path) -> dict[str, Path]:
    """PNG files for the charts with at least one value, by name; OpsdError if drawing fails."""
    wanted = {name: [list(p) for p in points] for name, points in series.items()
              if any(value is not None for _, value in points)}
    if not wanted:
        return {}
    directory.mkdir(parents=True, exist_ok=True)
    payload = json.dumps({"timezone": timezone, "charts": wanted})
    env = {**os.environ, "MPLBACKEND": "Agg", "MPLCONFIGDIR": str(directory / ".mpl")}
    done = subprocess.run(
        [sys.executable, "-m", "opsd.reports.charts", str(directory)], input=payload,
        capture_output=True, text=True, timeout=TIMEOUT, env=env, check=False,
    )
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise OpsdError(f"report charts: the drawing process failed: {last}")
    return {name: directory / f"{name}.png" for name in wanted}


def _draw(directory: Path, data: dict[str, Any]) -> None:  # pragma: no cover - child process
    import datetime as dt
    import zoneinfo

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tz = zoneinfo.ZoneInfo(data.get("timezone", "UTC"))
    for name, points in data["charts"].items():
        title, unit = TITLES.get(name, (name, ""))
        label = "%a %d" if len(points) <= 10 else "%d"  # a month: day numbers only
        days = [dt.datetime.fromtimestamp(t, tz).strftime(label) for t, _ in points]
        scale = 100.0 if unit == "%" else 1.0
        values = [float("nan") if v is None else v * scale for _, v in points]
        fig, ax = plt.subplots(figsize=(7.2, 2.4), dpi=100)
        # Positions, not the labels themselves: two days of one label (the 16th of two
        # months) would be one category.
        ax.bar(range(len(days)), values, color="#2da44e" if name == "uptime" else "#0969da")
        ax.set_xticks(range(len(days)), days)
        ax.set_title(title, fontsize=10)
        ax.set_ylabel(unit, fontsize=8)
        ax.tick_params(labelsize=8)
        if unit == "%":
            finite = [v for v in values if v == v]
            ax.set_ylim(max(0.0, min(finite, default=0.0) - 1.0), 100.0)
        fig.tight_layout()
        fig.savefig(directory / f"{name}.png", format="png", metadata={"Software": None})
        plt.close(fig)


def main(argv: Sequence[str]) -> int:  # pragma: no cover - child process
    if len(argv) != 1:
        print("usage: python -m opsd.reports.charts OUTDIR < series.json", file=sys.stderr)
        return 3
    _draw(Path(argv[0]), json.load(sys.stdin))
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main(sys.argv[1:]))
