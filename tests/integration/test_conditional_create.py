"""ObjectStore.create: one writer of a key wins, on moto server and across processes on a folder."""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.stub import Stubber

from core.config import Settings
from core.errors import TransientError
from core.repository.objects import FolderStore, ObjectStore, S3Store, open_object_store


@pytest.fixture(params=["folder", "s3"])
def store(request: pytest.FixtureRequest) -> ObjectStore:
    settings: Settings = request.getfixturevalue(f"{request.param}_settings")
    return open_object_store(settings)


def test_create_writes_a_new_key_and_leaves_an_existing_one_as_it_was(store: ObjectStore) -> None:
    assert store.create("manifests/a.json", b'{"first": 1}', "application/json") is True
    assert store.create("manifests/a.json", b'{"second": 2}', "application/json") is False
    assert store.get("manifests/a.json") == b'{"first": 1}'
    info = store.head("manifests/a.json")
    assert (info.size, info.content_type) == (12, "application/json")


def test_create_after_delete_creates_again(store: ObjectStore) -> None:
    assert store.create("manifests/b.json", b"1", "application/json")
    store.delete("manifests/b.json")
    assert store.create("manifests/b.json", b"2", "application/json")
    assert store.get("manifests/b.json") == b"2"


def _race(root: str, key: str, label: str, start: Any, results: Any) -> None:
    store = FolderStore(Path(root))
    start.wait()
    results.put((label, store.create(key, label.encode() * 1000, "application/json")))


def test_of_processes_racing_to_create_one_key_on_a_folder_exactly_one_wins(
    tmp_path: Path,
) -> None:
    context = multiprocessing.get_context("spawn")
    start, results = context.Event(), context.Queue()
    labels = [f"writer-{i}" for i in range(6)]
    workers = [
        context.Process(
            target=_race, args=(str(tmp_path), "manifests/x.json", label, start, results)
        )
        for label in labels
    ]
    for worker in workers:
        worker.start()
    start.set()
    outcomes = dict(results.get(timeout=60) for _ in workers)
    for worker in workers:
        worker.join(timeout=30)

    winners = [label for label, created in outcomes.items() if created]
    assert len(winners) == 1
    (winner,) = winners
    assert (tmp_path / "manifests/x.json").read_bytes() == winner.encode() * 1000
    assert FolderStore(tmp_path).head("manifests/x.json").etag  # its metadata is the winner's
    assert not list(tmp_path.rglob("*.tmp")), "losers leave no temp files behind"


@pytest.fixture
def stubbed(s3_settings: Settings) -> Iterator[tuple[S3Store, Stubber]]:
    """A store whose (process-wide) client answers from a stub for the test, and only then."""
    store = S3Store.from_settings(s3_settings)
    with Stubber(store.client) as stubber:
        yield store, stubber


def _conflict(stubber: Stubber) -> None:
    stubber.add_client_error(
        "put_object",
        service_error_code="ConditionalRequestConflict",
        service_message="A conflicting conditional operation is in progress",
        http_status_code=409,
    )


def test_s3_conditional_conflicts_are_retried_until_settled(
    stubbed: tuple[S3Store, Stubber],
) -> None:
    store, stubber = stubbed
    _conflict(stubber)
    _conflict(stubber)
    stubber.add_client_error(
        "put_object", service_error_code="PreconditionFailed", http_status_code=412
    )
    assert store.create("manifests/c.json", b"{}", "application/json") is False
    _conflict(stubber)
    stubber.add_response("put_object", {"ETag": '"x"'})
    assert store.create("manifests/c.json", b"{}", "application/json") is True
    stubber.assert_no_pending_responses()


def test_s3_conflicts_that_never_settle_are_transient(stubbed: tuple[S3Store, Stubber]) -> None:
    store, stubber = stubbed
    for _ in range(10):
        _conflict(stubber)
    with pytest.raises(TransientError):
        store.create("manifests/d.json", b"{}", "application/json")
