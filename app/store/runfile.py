"""One writer per embedded Chroma directory.

A server holds an exclusive lock on `<data_dir>/server.lock` for its lifetime and writes its URL and a random local
admin token to `<data_dir>/server.json` (mode 0600). `madoguchi ingest` finds it there and ingests through the
server's admin endpoint instead of opening the same Chroma directory from a second process.
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from app.settings import Settings
from app.store.private import private_dir


@dataclass
class ServerRun:
    lock_file: TextIO
    info_path: Path
    token: str

    @classmethod
    def claim(cls, settings: Settings, *, url: str | None = None) -> ServerRun | None:
        private_dir(settings.data_dir)
        lock = open(settings.data_dir / "server.lock", "a+")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            lock.close()
            return None
        token = secrets.token_urlsafe(24)
        info = settings.data_dir / "server.json"
        fd = os.open(info, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(
                {
                    "pid": os.getpid(),
                    "url": url or os.environ.get("MADOGUCHI_SERVER_URL") or f"http://{settings.host}:{settings.port}",
                    "token": token,
                },
                fh,
            )
        return cls(lock, info, token)

    def release(self) -> None:
        try:
            self.info_path.unlink(missing_ok=True)
        finally:
            fcntl.flock(self.lock_file, fcntl.LOCK_UN)
            self.lock_file.close()


def held_by_server(settings: Settings) -> dict | None:
    """The running server's {url, token} when one holds the data dir, else None."""
    path = settings.data_dir / "server.lock"
    if not path.exists():
        return None
    with open(path, "a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            try:
                return json.loads((settings.data_dir / "server.json").read_text())
            except (OSError, ValueError):
                return None
        fcntl.flock(fh, fcntl.LOCK_UN)
    return None
