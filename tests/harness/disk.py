"""A small filesystem of its own for a test, to fill up: a tmpfs mounted under the test's dir.

Mounting needs root (CAP_SYS_ADMIN), which CI has; without it the fixture fails, never skips.
"""

from __future__ import annotations

import errno
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

SMALL_DISK_BYTES = 256 * 1024


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """The mount point of a fresh 256 KiB tmpfs, unmounted after the test."""
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={SMALL_DISK_BYTES},mode=0755", "tmpfs", mount_point],
        check=True,
        capture_output=True,
    )
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "--lazy", mount_point], check=True, capture_output=True)


def fill(disk: Path) -> Path:
    """Write a file on `disk` until it is full; the file, to delete when room is wanted again."""
    filler = disk / "filler"
    with filler.open("wb", buffering=0) as handle:
        try:
            while True:
                handle.write(b"\0" * 4096)
        except OSError as exc:
            if exc.errno != errno.ENOSPC:
                raise
    return filler
