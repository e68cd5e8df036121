"""The folder store's writes when the disk is full."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import TransientError
from core.repository.objects import FolderStore
from tests.harness.disk import fill

JPEG = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 40


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
