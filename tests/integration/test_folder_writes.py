"""The folder store's writes when the disk is full, and the temp files that crashed writers left."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.errors import TransientError
from core.repository.objects import FolderStore
from core.repository.objects.files import TEMP_MAX_AGE_SECONDS, TempSweeper
from tests.harness.disk import fill

JPEG = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 40

# A writer stopped in the middle of a write: its temp file made, partly written, not yet renamed.
HOLD_A_WRITE = """
import sys, time
from pathlib import Path
from core.repository.objects.files import temp_file
with temp_file(Path(sys.argv[1]), sys.argv[2]) as (handle, temp):
    handle.write(b"the first half of an object")
    handle.flush()
    print(temp, flush=True)
    time.sleep(600)
"""


def _temp_files(under: Path) -> list[Path]:
    return sorted(p for p in under.rglob("*") if p.name.endswith(".tmp"))


def _store(root: Path) -> FolderStore:
    return FolderStore(root, signing_key=b"k" * 32)


# --- a full disk -----------------------------------------------------------------------------


def test_ping_on_a_full_disk_is_transient_and_answers_again_once_there_is_room(
    small_disk: Path,
) -> None:
    store = _store(small_disk / "objects")
    store.ping()
    filler = fill(small_disk)

    with pytest.raises(TransientError, match="No space left"):
        store.ping()

    filler.unlink()
    store.ping()
    assert _temp_files(small_disk) == []  # the probe is removed after each ping


def test_writes_that_fail_on_a_full_disk_leave_no_temp_file(small_disk: Path) -> None:
    store = _store(small_disk / "objects")
    store.put("manifests/before.json", b"{}", "application/json")
    filler = fill(small_disk)

    with pytest.raises(TransientError):
        store.put("renditions/thumb/a.jpg", JPEG, "image/jpeg")
    with pytest.raises(TransientError):
        store.create("manifests/a.json", JPEG, "application/json")

    assert _temp_files(small_disk) == []
    filler.unlink()
    store.put("renditions/thumb/a.jpg", JPEG, "image/jpeg")
    assert store.get("renditions/thumb/a.jpg") == JPEG


# --- temp files of writers that died -------------------------------------------------------


@pytest.fixture
def writers() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for process in started:
        process.kill()
        process.wait(timeout=10)


def _hold_a_write(
    writers: list[subprocess.Popen[str]], directory: Path, name: str
) -> tuple[subprocess.Popen[str], Path]:
    """A writer process stopped mid-write; its temp file."""
    process = subprocess.Popen(
        [sys.executable, "-c", HOLD_A_WRITE, str(directory), name],
        stdout=subprocess.PIPE,
        text=True,
        env=os.environ,
    )
    writers.append(process)
    assert process.stdout is not None
    temp = Path(process.stdout.readline().strip())
    assert temp.is_file(), "the writer did not start its write"
    return process, temp


def _age(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


def _killed_mid_write(
    writers: list[subprocess.Popen[str]], directory: Path, name: str, age: float
) -> Path:
    """The temp file of a writer SIGKILLed mid-write, last written `age` seconds ago."""
    process, temp = _hold_a_write(writers, directory, name)
    process.kill()
    process.wait(timeout=10)
    _age(temp, age)
    return temp


def test_a_sigkilled_writers_temp_file_is_swept_and_one_still_in_flight_is_not(
    tmp_path: Path, writers: list[subprocess.Popen[str]]
) -> None:
    root = tmp_path / "objects"
    # Both as old as can be: only whether their writer lives differs.
    abandoned = _killed_mid_write(
        writers, root / "renditions/thumb", "a.jpg", 2 * TEMP_MAX_AGE_SECONDS
    )
    alive, in_flight = _hold_a_write(writers, root / ".meta" / "manifests", "b.json.json")
    _age(in_flight, 2 * TEMP_MAX_AGE_SECONDS)

    removed = TempSweeper(root).sweep()

    assert removed == [abandoned]
    assert not abandoned.exists()
    assert in_flight.exists()
    alive.kill()
    alive.wait(timeout=10)
    assert TempSweeper(root).sweep() == [in_flight]  # once its writer is gone, it goes too


def test_a_recent_temp_file_is_kept_even_when_no_writer_holds_it(
    tmp_path: Path, writers: list[subprocess.Popen[str]]
) -> None:
    root = tmp_path / "objects"
    recent = _killed_mid_write(writers, root / "manifests", "a.json", TEMP_MAX_AGE_SECONDS / 2)

    assert TempSweeper(root).sweep() == []
    assert recent.exists()


def test_opening_a_store_sweeps_what_killed_writers_left_in_the_background(
    tmp_path: Path, writers: list[subprocess.Popen[str]]
) -> None:
    root = tmp_path / "objects"
    abandoned = _killed_mid_write(writers, root / "uploads", "u-1", 2 * TEMP_MAX_AGE_SECONDS)
    beside = root.parent / ".signing.key.x1y2z3.tmp"  # the shared signing key's, beside the folder
    beside.write_bytes(b"half a key")
    _age(beside, 2 * TEMP_MAX_AGE_SECONDS)
    unrelated = root.parent / ".editor-swap.tmp"  # not the store's: never touched
    unrelated.write_bytes(b"")
    _age(unrelated, 2 * TEMP_MAX_AGE_SECONDS)

    _store(root)

    deadline = time.monotonic() + 30
    while (abandoned.exists() or beside.exists()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not abandoned.exists()
    assert not beside.exists()
    assert unrelated.exists()


def test_after_the_sweep_at_start_writers_start_one_at_most_once_per_interval(
    tmp_path: Path,
) -> None:
    sweeper = TempSweeper(tmp_path, interval=3600)

    first = sweeper.sweep_if_due()
    assert first is not None
    first.join(timeout=30)

    assert all(sweeper.sweep_if_due() is None for _ in range(1000))
    every_time = TempSweeper(tmp_path, interval=0)
    started = every_time.sweep_if_due()
    assert started is not None
    started.join(timeout=30)
    assert every_time.sweep_if_due() is not None
