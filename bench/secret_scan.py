"""Benchmark of the secret scanner: speed, recall per rule, false positives, and the same
figures for detect-secrets when it is installed.

    python bench/secret_scan.py                 # 50 MB corpus; detect-secrets on a 5 MB one
    python bench/secret_scan.py --mb 10 --compare-mb 2
    python bench/secret_scan.py --tree /path/to/code   # also both tools on a real tree
    python bench/secret_scan.py --real-tree    # whole processes on 100 MB of real code,
                                               # next to gitleaks/kingfisher/detect-secrets

Prints figures; asserts nothing. Goals: >= 50 MB/s in one process, 100 % recall, false
positives a small fraction of detect-secrets'.
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# This file is named like the stdlib `secrets`: take its directory off the import path.
sys.path[0] = str(REPO)

import argparse  # noqa: E402
import json  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections import Counter  # noqa: E402

from bench.secret_corpus import Planted, generate  # noqa: E402
from opsd.secretscan.engine import ScanOptions, scan_paths  # noqa: E402


def measure(root: Path, planted: list[Planted], repeat: int) -> dict:
    """Best of `repeat` full scans (no cache), recall per rule, false positives."""
    best, report = float("inf"), None
    for _ in range(repeat):
        started = time.perf_counter()
        report = scan_paths([root], ScanOptions(audit_permissions=False)).report
        best = min(best, time.perf_counter() - started)
    assert report is not None
    found = {(str(Path(f.path).relative_to(root)), f.line, f.rule) for f in report.findings}
    found_lines = {(path, line) for path, line, _ in found}
    expected = {(p.path, p.line, p.rule) for p in planted}
    per_rule: dict[str, list[int]] = {}
    for p in planted:
        hit = (p.path, p.line, p.rule) in found
        per_rule.setdefault(p.rule, [0, 0])[0 if hit else 1] += 1
    false_positives = [f for f in found if f not in expected]
    cache = scan_paths([root], ScanOptions(audit_permissions=False)).fresh
    started = time.perf_counter()
    rescan = scan_paths([root], ScanOptions(audit_permissions=False), cache).report
    incremental = time.perf_counter() - started
    return {
        "bytes": report.bytes_scanned,
        "files": report.files_scanned,
        "seconds": best,
        "mb_per_s": report.bytes_scanned / best / 1e6,
        "recall": sum(v[0] for v in per_rule.values()) / len(planted),
        "per_rule": per_rule,
        "false_positives": len(false_positives),
        "false_positive_rules": Counter(rule for _, _, rule in false_positives),
        "missed_lines": len({(p.path, p.line) for p in planted} - found_lines),
        "incremental_seconds": incremental,
        "incremental_files_read": rescan.files_read,
    }


def detect_secrets(root: Path, planted: list[Planted]) -> dict | None:
    """detect-secrets on the same corpus (None when it is not installed)."""
    executable = shutil.which("detect-secrets")
    if executable is None:
        return None
    started = time.perf_counter()
    proc = subprocess.run(
        [executable, "scan", "--all-files", "."], cwd=root, capture_output=True, text=True,
        check=True,
    )
    seconds = time.perf_counter() - started
    results = json.loads(proc.stdout)["results"]
    found = {(path, item["line_number"]) for path, items in results.items() for item in items}
    expected = {(p.path, p.line) for p in planted}
    size = sum(f.stat().st_size for f in root.rglob("*") if f.is_file())
    return {
        "seconds": seconds,
        "mb_per_s": size / seconds / 1e6,
        "recall": len(expected & found) / len(expected),
        "false_positives": len(found - expected),
    }


def real_tree(tree: Path) -> None:
    """Both tools on a real directory: no ground truth, so every finding is counted."""
    started = time.perf_counter()
    report = scan_paths([tree], ScanOptions(audit_permissions=False)).report
    seconds = time.perf_counter() - started
    rules = Counter(f.rule for f in report.findings)
    print(f"real tree {tree}: {report.bytes_scanned / 1e6:.1f} MB in {report.files_scanned} files")
    print(f"  opsd scan:      {seconds:7.2f} s, {len(report.findings)} findings {dict(rules)}")
    executable = shutil.which("detect-secrets")
    if executable is None:
        return
    started = time.perf_counter()
    proc = subprocess.run([executable, "scan", "--all-files", "."], cwd=tree,
                          capture_output=True, text=True, check=True)
    seconds = time.perf_counter() - started
    results = json.loads(proc.stdout)["results"]
    kinds = Counter(item["type"] for items in results.values() for item in items)
    print(f"  detect-secrets: {seconds:7.2f} s, {sum(kinds.values())} findings {dict(kinds)}")


def report_ours(label: str, figures: dict) -> None:
    print(f"opsd scan, {label}: {figures['bytes'] / 1e6:.1f} MB in {figures['files']} files: "
          f"{figures['seconds']:.2f} s = {figures['mb_per_s']:.0f} MB/s")
    print(f"  recall {figures['recall']:.1%}; false positives {figures['false_positives']}"
          + (f" {dict(figures['false_positive_rules'])}" if figures["false_positives"] else ""))
    print(f"  incremental rescan: {figures['incremental_seconds']:.3f} s, "
          f"{figures['incremental_files_read']} files read")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=50.0, help="corpus size for speed")
    parser.add_argument("--compare-mb", type=float, default=5.0,
                        help="corpus size for the detect-secrets comparison")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--tree", type=Path, help="also scan this real directory with both")
    parser.add_argument("--real-tree", action="store_true",
                        help="only the whole-process comparison on a copy of real code")
    parser.add_argument("--tree-mb", type=float, default=100.0, help="real tree size")
    parser.add_argument("--rounds", type=int, default=3, help="real-tree runs per tool")
    parser.add_argument("--tree-dir", type=Path,
                        help="build the real tree here (or reuse it when not empty)")
    parser.add_argument("--source", type=Path, action="append",
                        help="copy this directory instead of stdlib + site-packages (repeat)")
    args = parser.parse_args()
    if args.real_tree:
        from bench.secret_real_tree import main as real_tree_main

        real_tree_main(args.tree_mb, args.rounds, args.tree_dir, args.source)
        return
    if args.tree:
        real_tree(args.tree)
    with tempfile.TemporaryDirectory(prefix="opsd-secrets-bench-") as tmp:
        big = Path(tmp) / "big"
        planted = generate(big, int(args.mb * 1e6))
        figures = measure(big, planted, args.repeat)
        report_ours(f"{len(planted)} planted secrets", figures)
        print("  recall per rule (found/missed):")
        for rule, (hit, miss) in sorted(figures["per_rule"].items()):
            print(f"    {rule:22s} {hit:5d}/{miss}")
        small = Path(tmp) / "small"
        planted_small = generate(small, int(args.compare_mb * 1e6), seed=11)
        ours = measure(small, planted_small, 1)
        theirs = detect_secrets(small, planted_small)
        print(f"comparison corpus: {args.compare_mb:g} MB, {len(planted_small)} planted secrets")
        print(f"  opsd scan:      {ours['mb_per_s']:8.2f} MB/s  recall {ours['recall']:6.1%}  "
              f"false positives {ours['false_positives']}")
        if theirs is None:
            print("  detect-secrets: not installed (pip install detect-secrets)")
        else:
            print(f"  detect-secrets: {theirs['mb_per_s']:8.2f} MB/s  recall "
                  f"{theirs['recall']:6.1%}  false positives {theirs['false_positives']}")


if __name__ == "__main__":
    main()
