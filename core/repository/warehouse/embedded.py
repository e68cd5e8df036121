"""The embedded SQLite file: migrated on first use, and noticed when it is removed or replaced.

A pooled SQLite connection keeps writing into its file after the file is deleted, where no new
connection will ever see the rows. So before each transaction the file's identity (device and
inode) is compared with the one migrated; when it differs, the pool is emptied, the new file is
migrated, and the warehouse is empty: its ledger of loaded facts too, so the loader loads the
whole fact log again, which rebuilds every row.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime
from pathlib import Path

from sqlalchemy.engine import Engine

from core.models import utcnow

log = logging.getLogger("imgpipe.warehouse")


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    return stat.st_dev, stat.st_ino


class EmbeddedFile:
    """One SQLite database file and the engine on it."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self.path = Path(engine.url.database or "")
        self._identity: tuple[int, int] | None = None
        self._lock = threading.Lock()
        self.replaced_at: datetime | None = None  # when this process found it replaced

    def ensure(self) -> None:
        """Make sure the file is the one migrated (one stat when it is)."""
        if self._identity is not None and _identity(self.path) == self._identity:
            return
        from core.repository.migrations import at_head, upgrade

        with self._lock:
            current = _identity(self.path)
            if current is not None and current == self._identity:
                return
            if self._identity is not None:
                log.warning(
                    "embedded database %s was removed or replaced: starting a new one and "
                    "loading the fact log into it again",
                    self.path,
                )
                self._engine.dispose()  # no pooled connection may write into the old file
                if current is None:  # removed: its write-ahead log must not meet a new file
                    for suffix in ("-wal", "-shm"):
                        self.path.with_name(self.path.name + suffix).unlink(missing_ok=True)
                self.replaced_at = utcnow()
            if not at_head(self._engine):
                upgrade(self._engine)
            self._identity = _identity(self.path)


_files: dict[str, EmbeddedFile] = {}
_files_lock = threading.Lock()


def embedded_file(url: str, engine: Engine) -> EmbeddedFile | None:
    """The watcher of `url`'s file, one per process; None for an in-memory database."""
    database = engine.url.database or ""
    if database in {"", ":memory:"} or database.startswith("file::memory:"):
        return None
    with _files_lock:
        found = _files.get(url)
        if found is None:
            found = _files[url] = EmbeddedFile(engine)
        return found
