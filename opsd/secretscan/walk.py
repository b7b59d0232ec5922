"""Which files a scan reads: walking the roots without leaving them or looping.

Skipped without reading: version-control, dependency, virtualenv and cache directories (unless
`Selection.all`; each one is reported as `SkippedDirectory`, so the caller can say what it left
out), lock files, files over the size cap, names matching an exclude or allowlist glob, and
files not matching the include globs. A root named explicitly is always entered. A symlink is
followed only when its target is inside one of the scanned roots, and every directory and file
is visited once (by device and inode), so loops end.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path

# Directories skipped by name, with the reason `opsd scan` gives for each.
SKIPPED_DIRECTORIES: dict[str, str] = {
    **dict.fromkeys((".git", ".hg", ".svn", ".bzr"), "version control"),
    **dict.fromkeys(("node_modules", "bower_components"), "dependencies"),
    **dict.fromkeys(("site-packages", "dist-packages"), "installed packages"),
    **dict.fromkeys((
        "__pycache__", ".tox", ".nox", ".mypy_cache", ".pytest_cache", ".ruff_cache", ".cache",
    ), "cache"),
}
VIRTUALENV = "virtualenv"
# A directory holding `pyvenv.cfg` is a virtualenv whatever its name; one of these names is
# also recognised by `bin/activate` (virtualenv's older layout). A plain directory that is
# merely called `env` is scanned.
_VENV_NAMES = frozenset({".venv", "venv", "env", ".env"})
LOCK_FILES = frozenset({
    "package-lock.json", "npm-shrinkwrap.json", "yarn.lock", "pnpm-lock.yaml", "poetry.lock",
    "Pipfile.lock", "uv.lock", "Cargo.lock", "composer.lock", "Gemfile.lock", "go.sum",
    "bun.lockb", "flake.lock",
})
# Known binary formats: not worth opening (other binaries are recognised by a NUL byte).
BINARY_SUFFIXES = frozenset({
    ".png", ".jpg", ".jpeg", ".gif", ".webp", ".ico", ".pdf", ".zip", ".gz", ".tgz", ".bz2",
    ".xz", ".zst", ".7z", ".jar", ".whl", ".pyc", ".so", ".dylib", ".dll", ".exe", ".o", ".a",
    ".db", ".sqlite", ".sqlite3", ".woff", ".woff2", ".ttf", ".otf", ".mp3", ".mp4", ".mov",
})


@dataclass(frozen=True)
class Selection:
    """What to read: include globs (empty: everything), exclude and allowlist globs."""

    globs: tuple[str, ...] = ()
    excludes: tuple[str, ...] = ()
    max_file_size: int = 5 * 1024 * 1024
    all: bool = False  # also enter the directories skipped by default (`opsd scan --all`)


@dataclass(frozen=True)
class FileEntry:
    """A file to scan: its display path, absolute path and the stat that keys the cache."""

    path: str
    key: str
    st: os.stat_result


@dataclass(frozen=True)
class SkippedDirectory:
    """A directory left out by default (`.git`, a virtualenv...): its path and why."""

    path: str
    reason: str

    def to_dict(self) -> dict[str, str]:
        """The JSON shape of an entry of `opsd scan --json`'s `skipped` list."""
        return {"path": self.path, "reason": self.reason}


@dataclass(frozen=True)
class Unreadable:
    """A path that could not be listed or examined."""

    path: str
    message: str


WalkItem = FileEntry | Unreadable | SkippedDirectory


def walk(roots: list[Path], selection: Selection) -> Iterator[WalkItem]:
    """Every file to scan under `roots`, in a stable order."""
    real_roots = [os.path.realpath(root) for root in roots]
    seen: set[tuple[int, int]] = set()
    for root in roots:
        yield from _visit(str(root), str(root), real_roots, selection, seen, top=True)


def _visit(
    path: str, root: str, real_roots: list[str], selection: Selection,
    seen: set[tuple[int, int]], *, top: bool = False,
) -> Iterator[WalkItem]:
    try:
        st = os.lstat(path)
    except OSError as exc:
        yield Unreadable(path, exc.strerror or str(exc))
        return
    if stat.S_ISLNK(st.st_mode):
        if not is_inside(os.path.realpath(path), real_roots):
            return  # never follow a link out of the scanned roots
        try:
            st = os.stat(path)
        except OSError:
            return  # a dangling link or a link loop holds nothing to scan
    if (st.st_dev, st.st_ino) in seen:
        return
    seen.add((st.st_dev, st.st_ino))
    relative = os.path.relpath(path, root)
    if stat.S_ISDIR(st.st_mode):
        if not top and _matches(relative, selection.excludes):
            return
        reason = None if top or selection.all else skip_reason(path)
        if reason is not None:
            yield SkippedDirectory(path, reason)
            return
        try:
            names = sorted(os.listdir(path))
        except OSError as exc:
            yield Unreadable(path, exc.strerror or str(exc))
            return
        for name in names:
            child = name if path == os.curdir else os.path.join(path, name)
            yield from _visit(child, root, real_roots, selection, seen)
    elif stat.S_ISREG(st.st_mode) and _wanted(relative, selection, st, explicit=top):
        yield FileEntry(path, os.path.abspath(path), st)


def is_inside(path: str, roots: list[str]) -> bool:
    """Is `path` one of `roots` or below one of them (all absolute)?"""
    return any(path == r or path.startswith(r.rstrip(os.sep) + os.sep) for r in roots)


def _matches(relative: str, globs: tuple[str, ...]) -> bool:
    name = os.path.basename(relative)
    return any(fnmatch(name, g) or fnmatch(relative, g) for g in globs)


def skip_reason(directory: str) -> str | None:
    """Why a scan leaves `directory` out by default, or None to enter it."""
    name = os.path.basename(directory)
    if name in SKIPPED_DIRECTORIES:
        return SKIPPED_DIRECTORIES[name]
    if os.path.isfile(os.path.join(directory, "pyvenv.cfg")):
        return VIRTUALENV
    if name in _VENV_NAMES and os.path.isfile(os.path.join(directory, "bin", "activate")):
        return VIRTUALENV
    return None


def _wanted(relative: str, selection: Selection, st: os.stat_result, *, explicit: bool) -> bool:
    """Should this file be read? A file named on the command line only needs a sane size."""
    if st.st_size == 0 or st.st_size > selection.max_file_size:
        return False
    if explicit:
        return True
    name = os.path.basename(relative)
    if name in LOCK_FILES or name.endswith(".lock"):
        return False
    if os.path.splitext(name)[1].lower() in BINARY_SUFFIXES:
        return False
    if _matches(relative, selection.excludes):
        return False
    return not selection.globs or _matches(relative, selection.globs)
