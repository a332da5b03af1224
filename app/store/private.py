"""Files and folders that hold employees' questions are the owner's alone: folders created 0700, the SQLite query
log 0600 (SQLite gives its -wal and -shm files the database file's mode)."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

logger = logging.getLogger(__name__)


def private_dir(path: Path) -> Path:
    """`mkdir -p`, with every folder it creates readable by the owner only (existing folders are left as they are)."""
    path = Path(path)
    missing = [p for p in (path, *path.parents) if not p.exists()]
    path.mkdir(parents=True, exist_ok=True)
    for p in missing:
        os.chmod(p, 0o700)
    return path


def private_file(path: Path) -> Path:
    """Create `path` empty with mode 0600 if missing; narrow an existing one that others could read."""
    path = Path(path)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.close(fd)
    except FileExistsError:
        for p in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            try:
                if p.exists() and stat.S_IMODE(p.stat().st_mode) & 0o077:
                    os.chmod(p, stat.S_IMODE(p.stat().st_mode) & 0o700)
            except OSError as exc:  # e.g. owned by another user: say so, the service still runs
                logger.warning("could not make %s private: %s", p, exc)
    return path
