"""`bench/secret_scan.py --real-tree`: whole-process scans of ≈ 100 MB of real code, opsd next
to any of gitleaks, kingfisher and detect-secrets found on PATH.

The tree is the running interpreter's standard library plus a site-packages directory (this
environment's, or `--packages DIR`), copied into a temporary directory under neutral names (a
scanner would skip a directory called `site-packages`) until it holds `--tree-mb` of files;
known binary formats are left out, so the figures are for code and text. Each tool runs as a
whole process (start-up included), the tools taking turns within each round, and the median of
the rounds is printed with findings per MB and peak RSS (from `wait4`'s rusage).

Goals (issue 15): opsd >= 100 MB/s, faster than kingfisher, peak RSS <= 80 MB,
<= 1 finding per MB. Prints figures; asserts nothing.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from opsd.secretscan.walk import BINARY_SUFFIXES

_SKIPPED_WHILE_COPYING = frozenset({"site-packages", "dist-packages", "__pycache__", ".git"})
_MAX_FILE = 5 * 1024 * 1024  # opsd's default max_file_size: every copied file is scanned


@dataclass(frozen=True)
class Tool:
    """A scanner's command line over a tree and how to count its findings."""

    name: str
    command: Callable[[Path, Path], list[str]]  # (tree, report file) -> argv
    count: Callable[[Path], int]  # report file -> findings
    rounds: int | None = None  # None: every round; detect-secrets is slow: 1
    in_tree: bool = False  # run in the tree (detect-secrets scans its working directory)


@dataclass(frozen=True)
class Run:
    seconds: float
    max_rss_kb: int
    findings: int
    exit_code: int


def source_files(roots: list[Path]) -> Iterator[tuple[Path, Path]]:
    """(file, path relative to its root's copy) for every text-ish file, in a stable order."""
    for index, root in enumerate(roots):
        for directory, dirs, files in os.walk(root):
            dirs[:] = sorted(d for d in dirs if d not in _SKIPPED_WHILE_COPYING)
            for name in sorted(files):
                if os.path.splitext(name)[1].lower() in BINARY_SUFFIXES:
                    continue
                path = Path(directory, name)
                yield path, Path(f"tree{index}") / path.relative_to(root)


def build_tree(target: Path, roots: list[Path], size: int) -> tuple[int, int]:
    """Copy files from `roots` into `target` until `size` bytes; (bytes, files) copied."""
    copied = files = 0
    for source, relative in source_files(roots):
        if copied >= size:
            break
        try:
            st = source.lstat()
        except OSError:
            continue
        if not source.is_file() or source.is_symlink() or not 0 < st.st_size <= _MAX_FILE:
            continue
        destination = target / relative
        destination.parent.mkdir(parents=True, exist_ok=True)
        try:
            shutil.copyfile(source, destination)
        except OSError:
            continue
        copied += st.st_size
        files += 1
    return copied, files


def default_roots() -> list[Path]:
    """The standard library and this environment's site-packages."""
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    packages = Path(sysconfig.get_paths()["purelib"])
    return [stdlib, packages]


def opsd_command() -> list[str]:
    """The `opsd` script next to this interpreter (what a user runs), else `python -m opsd`."""
    script = Path(sys.executable).parent / "opsd"
    return [str(script)] if script.exists() else [sys.executable, "-m", "opsd"]


def _json_list_length(key: str | None) -> Callable[[Path], int]:
    def count(report: Path) -> int:
        text = report.read_text(errors="replace").strip()
        if not text:
            return 0
        try:
            data = json.loads(text)
        except json.JSONDecodeError:  # JSON lines
            return sum(1 for line in text.splitlines() if line.strip())
        if key is not None and isinstance(data, dict):
            data = data.get(key, [])
        if isinstance(data, dict):  # detect-secrets: {"results": {path: [...]}}
            return sum(len(v) for v in data.values())
        return len(data)
    return count


def _kingfisher_count(report: Path) -> int:
    text = report.read_text(errors="replace").strip()
    if not text:
        return 0
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return sum(1 for line in text.splitlines() if line.strip().startswith("{"))
    if isinstance(data, dict):
        for key in ("findings", "matches", "results"):
            if isinstance(data.get(key), list):
                return len(data[key])
    return len(data) if isinstance(data, list) else 0


def tools() -> list[Tool]:
    """opsd, then every other scanner found on PATH."""
    found = [Tool("opsd", lambda tree, _report: [*opsd_command(), "scan", "--json", str(tree)],
                  _json_list_length("findings"))]
    gitleaks = shutil.which("gitleaks")
    if gitleaks:
        found.append(Tool("gitleaks", lambda tree, report: [
            gitleaks, "dir", str(tree), "--no-banner", "--log-level", "error",
            "--report-format", "json", "--report-path", str(report), "--exit-code", "0",
        ], _json_list_length(None)))
    kingfisher = shutil.which("kingfisher")
    if kingfisher:
        found.append(Tool("kingfisher", lambda tree, report: [
            kingfisher, "scan", str(tree), "--no-validate", "--no-update-check", "--quiet",
            "--format", "json", "--output", str(report),
        ], _kingfisher_count))
    detect = shutil.which("detect-secrets")
    if detect:
        found.append(Tool("detect-secrets", lambda _tree, _report: [
            detect, "scan", "--all-files", ".",
        ], _json_list_length("results"), rounds=1, in_tree=True))
    return found


def run_once(tool: Tool, tree: Path, scratch: Path) -> Run:
    """One whole-process run: wall time, peak RSS of the process tree it waited for."""
    report = scratch / f"{tool.name}.report"
    report.unlink(missing_ok=True)
    out = scratch / f"{tool.name}.out"
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPSD_")}
    env["HOME"] = str(scratch)  # no user config, cache or update state of any tool
    with open(out, "wb") as stdout:
        started = time.perf_counter()
        proc = subprocess.Popen(tool.command(tree, report), stdout=stdout,
                                stderr=subprocess.DEVNULL, cwd=tree if tool.in_tree else scratch,
                                env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    source = report if report.exists() else out
    try:
        findings = tool.count(source)
    except (OSError, ValueError):
        findings = -1
    return Run(seconds, usage.ru_maxrss, findings, proc.returncode)


def measure(tree: Path, size: int, rounds: int) -> dict[str, list[Run]]:
    """`rounds` rounds, each tool once per round, the order rotated between rounds."""
    chosen = tools()
    runs: dict[str, list[Run]] = {tool.name: [] for tool in chosen}
    with tempfile.TemporaryDirectory(prefix="opsd-bench-scratch-") as scratch:
        for round_ in range(rounds):
            order = chosen[round_ % len(chosen):] + chosen[:round_ % len(chosen)]
            for tool in order:
                if tool.rounds is not None and len(runs[tool.name]) >= tool.rounds:
                    continue
                runs[tool.name].append(run_once(tool, tree, Path(scratch)))
    return runs


def report(runs: dict[str, list[Run]], size: int, files: int) -> None:
    mb = size / 1e6
    print(f"real tree: {mb:.1f} MB in {files} files (standard library + site-packages), "
          f"{os.cpu_count()} CPUs")
    print(f"  {'tool':15s} {'runs':>4s} {'median s':>9s} {'MB/s':>7s} {'findings':>9s} "
          f"{'per MB':>7s} {'peak RSS':>9s} {'vs opsd':>8s}")
    ours = statistics.median(r.seconds for r in runs["opsd"]) if runs.get("opsd") else None
    for name, results in runs.items():
        if not results:
            continue
        seconds = statistics.median(r.seconds for r in results)
        findings = results[-1].findings
        rss = max(r.max_rss_kb for r in results) / 1024
        ratio = f"{seconds / ours:7.2f}x" if ours else ""
        codes = sorted({r.exit_code for r in results})
        print(f"  {name:15s} {len(results):4d} {seconds:9.2f} {mb / seconds:7.1f} "
              f"{findings:9d} {findings / mb:7.2f} {rss:7.1f} MB {ratio}  exit {codes}")


def main(size_mb: float, rounds: int, tree_dir: Path | None, roots: list[Path] | None) -> None:
    """Build (or reuse) the tree, run every tool `rounds` times, print the table."""
    size = int(size_mb * 1e6)
    with tempfile.TemporaryDirectory(prefix="opsd-real-tree-") as tmp:
        tree = tree_dir or Path(tmp) / "code"
        if tree_dir is not None and tree_dir.exists() and any(tree_dir.iterdir()):
            copied = sum(p.stat().st_size for p in tree.rglob("*") if p.is_file())
            files = sum(1 for p in tree.rglob("*") if p.is_file())
        else:
            copied, files = build_tree(tree, roots or default_roots(), size)
        runs = measure(tree, copied, rounds)
        report(runs, copied, files)
