"""Whether `storage.path` can be written: checked when the configuration is checked and before
the daemon starts, so an impossible path is one line naming the key, not a database error later.

Checked with no lasting side effect (at most an anonymous temporary file): the file, if it
exists, must be a writable file in a writable directory; otherwise its nearest existing
ancestor must be a directory where files can be created, so the missing ones can be made.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

from opsd.errors import ConfigError

_VARIABLE = "OPSD_STORAGE__PATH"


def why_unwritable(path: Path) -> str | None:
    """Why a database cannot be created or written at `path`, or None when it can."""
    if path.exists():
        if not path.is_file():
            return f"{path} is not a file"
        if not os.access(path, os.W_OK):
            return f"{path} is not writable"
        directory = path.parent  # SQLite writes its journal beside the database
    else:
        directory = path.parent
        while not directory.exists() and directory != directory.parent:
            directory = directory.parent
        if not directory.is_dir():
            return f"cannot create {path}: {directory} is not a directory"
    if not os.access(directory, os.W_OK | os.X_OK):
        return f"cannot create files in {directory}: not writable"
    try:  # what permissions do not tell: a read-only mount, /proc, a full quota of inodes
        with tempfile.TemporaryFile(dir=directory):
            pass
    except OSError as exc:
        return f"cannot create files in {directory}: {exc.strerror or exc}"
    return None


def storage_path_problems(
    path: Path, config_file: Path | None, env: Mapping[str, str]
) -> list[str]:
    """One line naming the source and `storage.path` when the database cannot be written."""
    problem = why_unwritable(path)
    if problem is None:
        return []
    from_env = any(name.upper() == _VARIABLE for name in env)
    where = f"environment {_VARIABLE}" if from_env else (
        config_file.name if config_file else "config")
    return [f"{where}: storage.path: {problem}"]


def require_writable_storage(
    path: Path, config_file: Path | None, env: Mapping[str, str] | None = None
) -> None:
    """Raise ConfigError (one line) when the database at `path` cannot be written."""
    problems = storage_path_problems(path, config_file, os.environ if env is None else env)
    if problems:
        raise ConfigError(problems)
