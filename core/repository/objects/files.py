"""Durable file writes for the folder store: a temp file beside the target, fsync, rename.

Every write goes through `temp_file`: a new `.{name}.XXXXXXXX.tmp` beside its target, removed
on every way out of the writer's block unless the writer moved it into place.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, Final

TEMP_SUFFIX: Final = ".tmp"


@contextlib.contextmanager
def temp_file(directory: Path, name: str) -> Iterator[tuple[BinaryIO, Path]]:
    """A new temp file for `name` in `directory`, locked while the block runs; gone afterwards
    unless the block renamed or linked it into place (a link leaves the target, not the name)."""
    directory.mkdir(parents=True, exist_ok=True)
    fd, text = tempfile.mkstemp(dir=directory, prefix=f".{name}.", suffix=TEMP_SUFFIX)
    temp = Path(text)
    try:
        with os.fdopen(fd, "wb") as handle:
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
