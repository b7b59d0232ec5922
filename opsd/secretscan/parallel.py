"""Large trees are read and matched by worker processes, a chunk of files at a time.

A scan starts in its own process; once the walk has queued more than `PARALLEL_FILES` files
or `PARALLEL_BYTES` bytes to read (and there is more than one CPU), the rest go to a pool of
worker processes, one per CPU, in chunks, while the walk goes on. Workers are spawned, not
forked from a process with other threads (the daemon that runs the `secrets.scan` check, or an
audit in a worker thread): a fork copies their locks held. A spawned worker imports only
`opsd.secretscan.reading` (the scanner) and loads the compiled rules from the cache
`hyperscan_engine` keeps; `opsd scan` without a config runs on one thread and forks.

Measured on 100 MB of real code (`bench/secret_scan.py --real-tree`) on 2 CPUs: see the
README's secret-scanning section for the figures.
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from opsd.secretscan.reading import FileScan, scan_file

if TYPE_CHECKING:
    from opsd.secretscan.custom_rules import CustomRules

PARALLEL_FILES = 2000
PARALLEL_BYTES = 20_000_000
CHUNK_FILES = 256
CHUNK_BYTES = 8_000_000
_WAIT = 0.2  # seconds between looks at the cancel event while workers run


class Cancelled(Exception):
    """The scan was cancelled while workers were reading."""


@dataclass(frozen=True)
class ReadOptions:
    """What a worker needs to read and match a file (picklable)."""

    max_file_size: int
    max_line_length: int
    custom: CustomRules | None = None


def cpus() -> int:
    """CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def start_method() -> str:
    """`fork` when this process runs a single thread (`opsd scan`: the workers start at once,
    rules compiled), else `spawn` (a fork would copy other threads' locks held)."""
    if threading.active_count() == 1 and "fork" in multiprocessing.get_all_start_methods():
        return "fork"
    return "spawn"


def scan_chunk(chunk: list[tuple[str, int]], options: ReadOptions) -> list[FileScan]:
    """A worker's job: each (path, size) read and matched, in order."""
    return [
        scan_file(path, size, max_file_size=options.max_file_size,
                  max_line_length=options.max_line_length, custom=options.custom)
        for path, size in chunk
    ]


@dataclass
class Reader:
    """Reads the files a scan queues: here until the tree proves large, then in workers.

    `add` returns the file's index; `results` yields (index, FileScan) for all of them once
    the walk is over (those read here first, then the workers' as they finish).
    """

    options: ReadOptions
    cancel: threading.Event | None = None
    workers: int = field(default_factory=lambda: cpus())
    _done: dict[int, FileScan] = field(default_factory=dict)
    _queued_files: int = 0
    _queued_bytes: int = 0
    _chunk: list[tuple[str, int]] = field(default_factory=list)
    _chunk_start: int = 0
    _chunk_bytes: int = 0
    _pool: concurrent.futures.ProcessPoolExecutor | None = None
    _futures: dict[concurrent.futures.Future[list[FileScan]], int] = field(default_factory=dict)

    def add(self, path: str, size: int) -> int:
        """Queue a file; read it now unless the workers have taken over."""
        index = self._queued_files
        self._queued_files += 1
        self._queued_bytes += size
        if self._pool is None and self.workers > 1 and (
            self._queued_files > PARALLEL_FILES or self._queued_bytes > PARALLEL_BYTES
        ):
            self._pool = concurrent.futures.ProcessPoolExecutor(
                self.workers, mp_context=multiprocessing.get_context(start_method()))
            self._chunk_start = index
        if self._pool is None:
            self._done[index] = scan_file(
                path, size, max_file_size=self.options.max_file_size,
                max_line_length=self.options.max_line_length, custom=self.options.custom)
            return index
        self._chunk.append((path, size))
        self._chunk_bytes += size
        if len(self._chunk) >= CHUNK_FILES or self._chunk_bytes >= CHUNK_BYTES:
            self._submit()
        return index

    def _submit(self) -> None:
        if not self._chunk or self._pool is None:
            return
        future = self._pool.submit(scan_chunk, self._chunk, self.options)
        self._futures[future] = self._chunk_start
        self._chunk_start += len(self._chunk)
        self._chunk, self._chunk_bytes = [], 0

    def results(self) -> Iterator[tuple[int, FileScan]]:
        """Every queued file's result (the workers shut down at the end, or on cancel)."""
        yield from self._done.items()
        if self._pool is None:
            return
        self._submit()
        pending = set(self._futures)
        try:
            while pending:
                if self.cancel is not None and self.cancel.is_set():
                    raise Cancelled
                finished, pending = concurrent.futures.wait(
                    pending, timeout=_WAIT, return_when=concurrent.futures.FIRST_COMPLETED)
                for future in finished:
                    start = self._futures[future]
                    for offset, scanned in enumerate(future.result()):
                        yield start + offset, scanned
        finally:
            self._pool.shutdown(wait=not pending, cancel_futures=True)
            self._pool = None
