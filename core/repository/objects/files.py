"""Durable file writes for the folder store, and the sweep of the temp files crashed writers left.

Every write goes through `temp_file`: a new `.{name}.XXXXXXXX.tmp` beside its target, locked
(flock) for as long as its writer holds it and removed on every way out of the writer's block,
unless the writer moved it into place. A process killed mid-write (SIGKILL, OOM, power) leaves
its temp file behind, unlocked: `TempSweeper` removes those once they are older than a bound,
never one a live writer still holds, however old.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import stat
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO, Final

log = logging.getLogger("imgpipe.storage")

TEMP_SUFFIX: Final = ".tmp"
# A write takes milliseconds; an hour-old temp file nobody holds is a dead writer's.
TEMP_MAX_AGE_SECONDS: Final = 3600.0
# A sweep walks the whole folder: at start, then at most this often, off the writers' path.
SWEEP_INTERVAL_SECONDS: Final = 600.0


@contextlib.contextmanager
def temp_file(directory: Path, name: str) -> Iterator[tuple[BinaryIO, Path]]:
    """A new temp file for `name` in `directory`, locked while the block runs; gone afterwards
    unless the block renamed or linked it into place (a link leaves the target, not the name)."""
    directory.mkdir(parents=True, exist_ok=True)
    fd, text = tempfile.mkstemp(dir=directory, prefix=f".{name}.", suffix=TEMP_SUFFIX)
    temp = Path(text)
    try:
        with os.fdopen(fd, "wb") as handle:
            # Held until the file is closed: the sweeper leaves a held temp file alone.
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            yield handle, temp
    finally:
        temp.unlink(missing_ok=True)


def write_durably(handle: BinaryIO, data: bytes) -> None:
    handle.write(data)
    handle.flush()
    os.fsync(handle.fileno())


def write_atomically(path: Path, data: bytes) -> None:
    """Readers see the old bytes or the new ones, never a part; a crash leaves no half file."""
    with temp_file(path.parent, path.name) as (handle, temp):
        write_durably(handle, data)
        temp.replace(path)
    fsync_directory(path.parent)


def create_exclusively(path: Path, data: bytes, mode: int | None = None) -> bool:
    """Link a complete temp file to `path` unless something is there: link(2) fails on an
    existing name atomically, so of two racing writers exactly one wins, and no reader ever
    sees a part of the file. False when another was there first."""
    with temp_file(path.parent, path.name) as (handle, temp):
        if mode is not None:
            os.fchmod(handle.fileno(), mode)
        write_durably(handle, data)
        try:
            os.link(temp, path)
        except FileExistsError:
            return False
    fsync_directory(path.parent)
    return True


def fsync_directory(directory: Path) -> None:
    # The rename is durable only once the directory entry is on disk.
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def is_temp_name(name: str) -> bool:
    return name.startswith(".") and name.endswith(TEMP_SUFFIX)


def remove_if_abandoned(path: Path, older_than: float) -> bool:
    """Remove a temp file last written before `older_than` (epoch seconds) that no writer holds.
    True when it was removed."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return False  # gone already, or not a plain file
    try:
        found = os.fstat(fd)
        if not stat.S_ISREG(found.st_mode) or found.st_mtime >= older_than:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False  # a live writer holds it
        # Still the same file under that name: a finished writer renamed its own away.
        if path.lstat().st_ino != found.st_ino:
            return False
        path.unlink()
        return True
    except OSError:
        return False
    finally:
        os.close(fd)


class TempSweeper:
    """Removes the abandoned temp files under a folder (and the named ones beside it): once at
    start and at most once per interval after, in a background thread. `sweep()` runs one now."""

    def __init__(
        self,
        root: Path,
        *,
        also: Callable[[], list[Path]] = list,
        max_age: float = TEMP_MAX_AGE_SECONDS,
        interval: float = SWEEP_INTERVAL_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.root = root
        self.max_age = max_age
        self.interval = interval
        self._also = also
        self._clock = clock
        self._next = 0.0  # monotonic time of the next sweep that is due
        self._lock = threading.Lock()
        self._running: threading.Thread | None = None

    def sweep(self) -> list[Path]:
        """Remove what is abandoned now; the paths removed."""
        older_than = self._clock() - self.max_age
        removed = [p for p in self._candidates() if remove_if_abandoned(p, older_than)]
        if removed:
            log.info("removed %d abandoned temp files under %s", len(removed), self.root)
        return removed

    def sweep_if_due(self) -> threading.Thread | None:
        """Start a sweep in the background when one is due and none runs; the thread started.
        Costs one clock read when none is due, so writers may call it every time."""
        if time.monotonic() < self._next:
            return None
        with self._lock:
            if time.monotonic() < self._next or (self._running and self._running.is_alive()):
                return None
            self._next = time.monotonic() + self.interval
            thread = threading.Thread(target=self._sweep_quietly, name="temp-sweep", daemon=True)
            self._running = thread
        thread.start()
        return thread

    def _sweep_quietly(self) -> None:
        try:
            self.sweep()
        except OSError as exc:  # a folder that vanished or cannot be read: next time
            log.warning("temp sweep under %s failed: %s", self.root, exc)

    def _candidates(self) -> Iterator[Path]:
        yield from (p for p in self._also() if is_temp_name(p.name))
        for directory, _dirs, names in os.walk(self.root):
            for name in names:
                if is_temp_name(name):
                    yield Path(directory, name)
