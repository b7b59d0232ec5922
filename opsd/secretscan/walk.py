"""Which files a scan reads: walking the roots without leaving them or looping.

Skipped without reading: version-control, dependency, virtualenv and cache directories (unless
`Selection.all`; each one is reported as `SkippedDirectory`, so the caller can say what it left
out), lock files, files over the size cap, names matching an exclude or allowlist glob, and
files not matching the include globs. A root named explicitly is always entered. A symlink is
followed only when its target is inside one of the scanned roots, and every directory and file
is visited once (by device and inode), so loops end.
"""

from __future__ import annotations

import fnmatch
import os
import re
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

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
    """Every file to scan under `roots`, in a stable order (depth first, by name)."""
    real_roots = [os.path.realpath(root) for root in roots]
    seen: set[tuple[int, int]] = set()
    for root in roots:
        yield from _walk_root(str(root), real_roots, selection, seen)


def _walk_root(
    root: str, real_roots: list[str], selection: Selection, seen: set[tuple[int, int]]
) -> Iterator[WalkItem]:
    """A root named explicitly: always entered, a file is read whatever its name."""
    st = _followed(root, real_roots, os.lstat, root)
    if st is None or isinstance(st, Unreadable):
        if st is not None:
            yield st
        return
    if not _first_visit(st, seen):
        return
    if stat.S_ISREG(st.st_mode):
        if 0 < st.st_size <= selection.max_file_size:  # named: no name rules apply
            yield FileEntry(root, os.path.abspath(root), st)
    elif stat.S_ISDIR(st.st_mode):
        yield from _walk_tree(root, real_roots, selection, seen)


def _followed(
    path: str, real_roots: list[str], lstat: Any, display: str
) -> os.stat_result | Unreadable | None:
    """The stat of `path`, through a symlink only when it points inside the scanned roots
    (None: a link out of them, dangling or looping, which holds nothing to scan)."""
    try:
        st: os.stat_result = lstat(path)
    except OSError as exc:
        return Unreadable(display, exc.strerror or str(exc))
    if not stat.S_ISLNK(st.st_mode):
        return st
    if not is_inside(os.path.realpath(path), real_roots):
        return None
    try:
        return os.stat(path)
    except OSError:
        return None


def _first_visit(st: os.stat_result, seen: set[tuple[int, int]]) -> bool:
    identity = (st.st_dev, st.st_ino)
    if identity in seen:
        return False
    seen.add(identity)
    return True


@dataclass(frozen=True)
class _Directory:
    """A directory being listed: its display path, path relative to the root, absolute path,
    each as the prefix its entries are joined to (strings: no `Path` or `relpath` per entry)."""

    path: str
    relative: str
    absolute: str


def _walk_tree(
    root: str, real_roots: list[str], selection: Selection, seen: set[tuple[int, int]]
) -> Iterator[WalkItem]:
    """Below a root directory, with `os.scandir`: one stat per file, names filtered first."""
    top = _Directory(
        "" if root == os.curdir else _prefix(root), "", _prefix(os.path.abspath(root)),
    )
    stack: list[tuple[_Directory, Iterator[os.DirEntry[str]]]] = []
    listing = _listing(root, top)
    if isinstance(listing, Unreadable):
        yield listing
        return
    stack.append((top, listing))
    excludes = _glob_matcher(selection.excludes)
    includes = _glob_matcher(selection.globs) if selection.globs else None
    while stack:
        parent, entries = stack[-1]
        entry = next(entries, None)
        if entry is None:
            stack.pop()
            continue
        name = entry.name
        path = parent.path + name
        relative = parent.relative + name
        if entry.is_dir(follow_symlinks=False) or (
            entry.is_symlink() and os.path.isdir(path)
        ):
            item = _enter(entry, path, relative, parent, real_roots, selection, seen, excludes)
            if isinstance(item, _Directory):
                listing = _listing(path, item)
                if isinstance(listing, Unreadable):
                    yield listing
                else:
                    stack.append((item, listing))
            elif item is not None:
                yield item
            continue
        if not _name_wanted(name, relative, excludes, includes):
            continue
        st = _followed(entry.path, real_roots, _lstat_of(entry), path)
        if isinstance(st, Unreadable):
            yield st
            continue
        if st is None or not stat.S_ISREG(st.st_mode) or not _first_visit(st, seen):
            continue
        if 0 < st.st_size <= selection.max_file_size:
            yield FileEntry(path, parent.absolute + name, st)


def _enter(
    entry: os.DirEntry[str], path: str, relative: str, parent: _Directory,
    real_roots: list[str], selection: Selection, seen: set[tuple[int, int]],
    excludes: _GlobMatcher,
) -> _Directory | WalkItem | None:
    """A subdirectory to list, a `SkippedDirectory`, an `Unreadable`, or None to pass by."""
    st = _followed(entry.path, real_roots, _lstat_of(entry), path)
    if st is None or isinstance(st, Unreadable):
        return st
    if not stat.S_ISDIR(st.st_mode) or not _first_visit(st, seen):
        return None
    if excludes(entry.name, relative):
        return None
    reason = None if selection.all else skip_reason(path)
    if reason is not None:
        return SkippedDirectory(path, reason)
    return _Directory(_prefix(path), relative + os.sep, parent.absolute + entry.name + os.sep)


def _lstat_of(entry: os.DirEntry[str]) -> Any:
    return lambda _path: entry.stat(follow_symlinks=False)


def _listing(path: str, directory: _Directory) -> Iterator[os.DirEntry[str]] | Unreadable:
    """The entries of a directory, sorted by name (the scan order is stable)."""
    try:
        with os.scandir(path or os.curdir) as entries:
            return iter(sorted(entries, key=_name))
    except OSError as exc:
        return Unreadable(path or os.curdir, exc.strerror or str(exc))


def _name(entry: os.DirEntry[str]) -> str:
    return entry.name


def _prefix(path: str) -> str:
    return path if path.endswith(os.sep) else path + os.sep


_GlobMatcher = Callable[[str, str], bool]


@lru_cache(maxsize=64)
def _glob_matcher(globs: tuple[str, ...]) -> _GlobMatcher:
    """`(name, relative path) -> bool`: does any glob match either? One compiled regex."""
    if not globs:
        return lambda _name, _relative: False
    pattern = re.compile("|".join(f"(?:{fnmatch.translate(g)})" for g in globs))
    return lambda name, relative: bool(pattern.match(name) or pattern.match(relative))


def _name_wanted(
    name: str, relative: str, excludes: _GlobMatcher, includes: _GlobMatcher | None
) -> bool:
    """Should a file below a root be read, judging by its name alone?"""
    if name in LOCK_FILES or name.endswith(".lock"):
        return False
    if os.path.splitext(name)[1].lower() in BINARY_SUFFIXES:
        return False
    if excludes(name, relative):
        return False
    return includes is None or includes(name, relative)


def is_inside(path: str, roots: list[str]) -> bool:
    """Is `path` one of `roots` or below one of them (all absolute)?"""
    return any(path == r or path.startswith(r.rstrip(os.sep) + os.sep) for r in roots)


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
