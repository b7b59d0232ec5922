"""Files only opsd's user may read: 0600 files in 0700 folders, whatever the umask.

The history database holds result summaries and alert messages about the monitored
integration, and backups hold the database; outside systemd (whose `StateDirectory=` and
`UMask=` already do this) a umask of 0022 would leave them readable by every local user. The
modes are set explicitly after creation, because the umask may only remove bits from what
`open`/`mkdir` ask for, and a permissive umask (0000) or a strict one (0277) would otherwise
win. Only what opsd creates is changed: an existing folder such as /tmp, or a database an
administrator made group-readable on purpose, keeps its mode.
"""

from __future__ import annotations

import os
from pathlib import Path

FILE_MODE = 0o600
DIRECTORY_MODE = 0o700


def make_private_dirs(directory: Path) -> None:
    """Create `directory` and its missing parents, each 0700; existing ones are left as are."""
    missing: list[Path] = []
    current = directory
    while not current.exists():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    for path in reversed(missing):
        try:
            path.mkdir(mode=DIRECTORY_MODE)
        except FileExistsError:  # another process made it meanwhile: theirs, leave it
            continue
        os.chmod(path, DIRECTORY_MODE)


def create_private_file(path: Path) -> bool:
    """Create `path` empty with mode 0600 unless it exists; returns whether it was created."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        return False
    try:
        os.fchmod(fd, FILE_MODE)
    finally:
        os.close(fd)
    return True


def write_private_text(path: Path, text: str) -> None:
    """Write `text` to a new file `path`, mode 0600 (an existing file is replaced)."""
    path.unlink(missing_ok=True)
    create_private_file(path)
    path.write_text(text)
