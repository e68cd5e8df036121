"""The stores' scan, which the loader pages through: keys in key order after a key, at most a
limit, across folders, on both adapters; the folder store reading a page of names at a time."""

from __future__ import annotations

import tracemalloc

import pytest

from core import layout
from core.config import Settings
from core.repository.objects import FolderStore, ObjectStore, open_object_store

HOUR_OF_FACTS = 20_000  # an hour at a few per second

# Hours as fact keys name them; beside folder `a`, names that sort just before and just after
# its keys ("-" < "/" < "0"): a folder's keys sort as its name and "/" does, not as its name.
KEYS = [
    "facts/2026/12/01/23/0A.ndjson.gz",
    "facts/2026/12/01/23/0B.ndjson.gz",
    "facts/2026/12/02/00/0C.ndjson.gz",
    "facts/2026/12/02/00/0D.ndjson.gz",
    "facts/2026/12/02/00/0E.ndjson.gz",
    "facts/2026/12/02/01/0F.ndjson.gz",
    "facts/a-b",
    "facts/a/c",
    "facts/a0",
    "other/x",
]


@pytest.fixture(params=["folder", "s3"])
def store(request: pytest.FixtureRequest) -> ObjectStore:
    settings: Settings = request.getfixturevalue(f"{request.param}_settings")
    built = open_object_store(settings)
    for size, key in enumerate(KEYS):
        built.put(key, b"x" * size, "application/octet-stream")
    return built


@pytest.mark.parametrize("limit", [None, 1, 2, 3, 100])
@pytest.mark.parametrize(
    "after", [None, "facts/", "facts/2026/12/01/23/0A.ndjson.gz", "facts/2026/12/02", "facts/a"]
)
def test_scan_lists_the_keys_after_a_key_in_order_with_their_sizes(
    store: ObjectStore, after: str | None, limit: int | None
) -> None:
    wanted = [key for key in KEYS if key.startswith("facts/") and key > (after or "")]
    wanted = wanted[:limit] if limit is not None else wanted
    scanned = store.scan("facts/", start_after=after, limit=limit)
    assert scanned == [(key, KEYS.index(key)) for key in wanted]


def test_paging_a_scan_from_its_last_key_lists_every_key_once(store: ObjectStore) -> None:
    paged: list[str] = []
    after = None
    while page := store.scan("facts/", start_after=after, limit=2):
        paged += [key for key, _ in page]
        after = page[-1][0]
    assert paged == [key for key in KEYS if key.startswith("facts/")]


def test_a_folder_store_scan_for_a_page_holds_a_page_of_names_not_the_folder(
    folder_settings: Settings,
) -> None:
    store = open_object_store(folder_settings)
    assert isinstance(store, FolderStore)
    hour = store.root / "facts/2026/12/02/00"
    hour.mkdir(parents=True)
    for _ in range(HOUR_OF_FACTS):  # as ingest names them, written without fsync
        (hour / f"{layout.new_ulid()}.ndjson.gz").touch()
    first = sorted(path.name for path in hour.iterdir())[100]
    tracemalloc.start()
    try:
        page = store.scan("facts/", start_after=f"facts/2026/12/02/00/{first}", limit=5)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(page) == 5 and page[0][0] > f"facts/2026/12/02/00/{first}"
    # Before: every name after start_after, sorted, 4 MiB; now a page of names and their heap.
    assert peak < 256 * 1024, peak
