"""A large tree is read by worker processes (forked from a single-threaded `opsd scan`,
spawned from a process with threads) and reports exactly what one process reports."""

from __future__ import annotations

import random
import threading
from pathlib import Path

import pytest

from bench.secret_corpus import SAMPLES
from opsd.secretscan import parallel
from opsd.secretscan.engine import ScanCancelled, ScanOptions, scan_paths

pytestmark = pytest.mark.slow


def tree(root: Path, files: int = 40) -> Path:
    rng = random.Random(9)
    rules = sorted(SAMPLES)
    for index in range(files):
        directory = root / f"d{index % 4}"
        directory.mkdir(parents=True, exist_ok=True)
        line, _ = SAMPLES[rules[index % len(rules)]](rng)
        (directory / f"f{index}.env").write_text(f"# file {index}\nVALUE={line}\nplain text\n")
    return root


def report_of(root: Path) -> dict:
    result = scan_paths([root], ScanOptions(audit_permissions=False))
    report = result.report.to_dict()
    report.pop("seconds")
    return {"report": report, "cached": sorted(result.fresh)}


@pytest.fixture
def small_thresholds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parallel, "PARALLEL_FILES", 5)
    monkeypatch.setattr(parallel, "CHUNK_FILES", 3)
    monkeypatch.setattr(parallel, "cpus", lambda: 2)


def test_workers_report_what_one_process_reports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tree(tmp_path / "t")
    alone = report_of(root)
    monkeypatch.setattr(parallel, "PARALLEL_FILES", 5)
    monkeypatch.setattr(parallel, "CHUNK_FILES", 3)
    monkeypatch.setattr(parallel, "cpus", lambda: 2)
    started: list[str] = []
    real_method = parallel.start_method
    monkeypatch.setattr(parallel, "start_method", lambda: started.append(real_method())
                        or started[-1])
    assert report_of(root) == alone
    assert started == ["fork"]  # pytest's main thread alone: forked workers
    assert len(alone["report"]["findings"]) >= 30


@pytest.mark.usefixtures("small_thresholds")
def test_a_scan_in_a_thread_spawns_its_workers(tmp_path: Path) -> None:
    root = tree(tmp_path / "t", files=12)
    results: dict[str, object] = {}
    methods: list[str] = []

    def scan() -> None:
        methods.append(parallel.start_method())
        results["parallel"] = report_of(root)

    worker = threading.Thread(target=scan)
    worker.start()
    worker.join(60)
    assert methods == ["spawn"]
    parallel.PARALLEL_FILES = 10**9  # monkeypatch restores it
    assert results["parallel"] == report_of(root)


@pytest.mark.usefixtures("small_thresholds")
def test_cancel_stops_the_workers(tmp_path: Path) -> None:
    root = tree(tmp_path / "t", files=30)
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(ScanCancelled):
        scan_paths([root], ScanOptions(), cancel=cancel)
    reader = parallel.Reader(parallel.ReadOptions(1 << 20, 16384), cancel)
    for path in sorted(root.rglob("*.env")):
        reader.add(str(path), path.stat().st_size)
    with pytest.raises(parallel.Cancelled):
        list(reader.results())
