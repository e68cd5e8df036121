"""The ingest use case on real adapters: a folder + SQLite, and moto S3 + PostgreSQL."""

from __future__ import annotations

import hashlib
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import pytest
import sqlalchemy as sa

from core.bootstrap import Context
from core.config import Settings, load_settings
from core.errors import ErrorCode, TransientError
from core.ingest import discard_upload, ingest, ingest_batch
from core.layout import FACTS, IMMUTABLE_CACHE_CONTROL, content_index_key, manifest_key
from core.loader import load_once
from core.models import IngestRequest, Manifest, image_id_for
from core.repository.migrations import upgrade
from core.repository.objects import ObjectStore, open_object_store
from core.repository.warehouse import Warehouse, create_warehouse_engine
from tests import images
from tests.harness.proxy import FaultProxy

THUMB_ONLY = "thumb:128:jpeg:80"


@dataclass
class Stack:
    """A Context on real adapters, and ways to look at what it stored: the image objects (the
    fact log aside), and the warehouse's rows once the loader has loaded the facts."""

    ctx: Context
    list_all_objects: Callable[[], list[str]]

    def list_objects(self) -> list[str]:
        return [key for key in self.list_all_objects() if not key.startswith(FACTS)]

    def rows(self, table: str) -> list[dict[str, Any]]:
        load_once(self.ctx)
        engine = self.ctx.warehouse.engine  # type: ignore[attr-defined]
        with engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(sa.text(f"select * from {table}"))]


def _context(settings: Settings) -> Context:
    engine = create_warehouse_engine(settings.database_url)
    upgrade(engine)
    return Context(settings, open_object_store(settings), Warehouse(engine))


@pytest.fixture
def folder_stack(tmp_path: Path) -> Iterator[Stack]:
    settings = load_settings(
        storage_url=f"file://{tmp_path / 'objects'}",
        database_url=f"sqlite:///{tmp_path / 'warehouse.db'}",
        renditions=THUMB_ONLY,
    )
    ctx = _context(settings)
    root = tmp_path / "objects"

    def list_objects() -> list[str]:
        files = (p.relative_to(root) for p in root.rglob("*") if p.is_file())
        return sorted(str(p) for p in files if not any(part.startswith(".") for part in p.parts))

    yield Stack(ctx, list_objects)
    ctx.close()


@pytest.fixture
def s3_stack(make_settings: Callable[..., Settings], postgres_url: str, s3_client: Any) -> Stack:
    settings = make_settings(database_url=postgres_url, renditions=THUMB_ONLY)
    bucket = settings.storage_url.removeprefix("s3://").split("/", 1)[0]

    def list_objects() -> list[str]:
        pages = s3_client.get_paginator("list_objects_v2").paginate(Bucket=bucket)
        return sorted(o["Key"] for page in pages for o in page.get("Contents", []))

    return Stack(_context(settings), list_objects)


@pytest.fixture(params=["folder+sqlite", "s3+postgresql"])
def stack(request: pytest.FixtureRequest) -> Stack:
    name = "folder_stack" if request.param == "folder+sqlite" else "s3_stack"
    return request.getfixturevalue(name)  # type: ignore[no-any-return]


def _request(data: bytes | None, customer: str = "acme", **extra: Any) -> IngestRequest:
    return IngestRequest(
        customer_id=customer,
        source=extra.pop("source", "upload"),
        event_id=extra.pop("event_id", str(uuid.uuid4())),
        data=data,
        **extra,
    )


def test_same_bytes_twice_make_one_image_one_set_of_objects_and_a_duplicate_event(
    stack: Stack,
) -> None:
    photo = images.jpeg_photo(640, 480)
    first = ingest(_request(photo), stack.ctx)
    objects_after_first = stack.list_objects()
    second = ingest(_request(photo, source="stream"), stack.ctx)

    assert (first.status, second.status) == ("processed", "duplicate")
    assert first.image_id == second.image_id
    assert stack.list_objects() == objects_after_first
    assert first.manifest is not None
    index = content_index_key("acme", str(first.manifest.metadata.content_sha256))
    assert objects_after_first == sorted(
        [index, f"manifests/{first.image_id}.json", f"renditions/thumb/{first.image_id}.jpg"]
    )
    assert (first.match, first.duplicate_of) == (None, None)
    assert (second.match, second.duplicate_of) == ("exact", first.image_id)
    assert len(stack.rows("images")) == 1
    assert len(stack.rows("renditions")) == 1
    statuses = sorted((e["source"], e["status"]) for e in stack.rows("ingest_events"))
    assert statuses == [("stream", "duplicate"), ("upload", "processed")]


def test_image_id_is_uuid5_of_customer_and_sha256(stack: Stack) -> None:
    photo = images.jpeg_photo(320, 240)
    result = ingest(_request(photo), stack.ctx)
    assert result.image_id == image_id_for("acme", hashlib.sha256(photo).hexdigest())
    # Pinned: another namespace or input layout would give every stored image a new id.
    assert image_id_for("acme", "0" * 64) == uuid.UUID("3e49e442-a01b-5d9b-abea-998c5fcee6a6")


def test_renditions_are_cached_for_good_and_the_manifest_is_revalidated(stack: Stack) -> None:
    result = ingest(_request(images.jpeg_photo(320, 240)), stack.ctx)
    assert result.manifest is not None
    (thumb,) = result.manifest.renditions
    assert stack.ctx.objects.head(thumb.key).cache_control == IMMUTABLE_CACHE_CONTROL
    assert stack.ctx.objects.head(manifest_key(result.manifest.image_id)).cache_control == (
        "no-cache"
    )


def test_the_stored_manifest_reads_back_as_the_one_ingest_wrote(stack: Stack) -> None:
    photo = images.jpeg_photo(
        320, 240, make="Fujifilm", model="X-T5", taken_at="2024:03:01 12:30:00", gps=True
    )
    result = ingest(_request(photo, attributes={"album": "summer"}), stack.ctx)
    assert result.manifest is not None
    key = manifest_key(result.manifest.image_id)
    document = json.loads(stack.ctx.objects.get(key))

    assert Manifest.from_json(document) == result.manifest
    assert document["taken_at"] == "2024-03-01T12:30:00+00:00"
    # Documents written before a field with a default existed still read.
    older = {k: v for k, v in document.items() if k not in {"has_gps", "icc_profile"}}
    assert Manifest.from_json(older).metadata.has_gps is False


def test_same_bytes_from_four_threads_at_once_make_one_image(stack: Stack) -> None:
    photo = images.jpeg_photo(800, 600)
    barrier = threading.Barrier(4)
    statuses: list[str] = []

    def upload() -> None:
        barrier.wait()
        statuses.append(ingest(_request(photo), stack.ctx).status)

    threads = [threading.Thread(target=upload) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(statuses) == ["duplicate", "duplicate", "duplicate", "processed"]
    assert len(stack.rows("images")) == 1
    assert len(stack.rows("renditions")) == 1
    assert len(stack.rows("ingest_events")) == 4
    assert len(stack.list_objects()) == 3  # manifest, rendition, content index


class HeldStore:
    """The real store, except that writes of one image wait until the test lets them go."""

    def __init__(self, inner: ObjectStore, image_id: uuid.UUID) -> None:
        self.inner = inner
        self.image_id = str(image_id)
        self.writing = threading.Event()
        self.release = threading.Event()

    def put(
        self, key: str, data: bytes, content_type: str, cache_control: str | None = None
    ) -> None:
        if self.image_id in key:
            self.writing.set()
            self.release.wait(60)
        self.inner.put(key, data, content_type, cache_control)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def test_an_image_held_up_in_storage_holds_up_no_other_image(folder_stack: Stack) -> None:
    held_bytes = images.mosaic_jpeg(64, 64, seed=1)
    held_id = image_id_for("acme", hashlib.sha256(held_bytes).hexdigest())
    # Another image, even one whose id a lock shared by id ranges would put beside it.
    other = next(
        data
        for data in (images.mosaic_jpeg(64, 64, seed=seed) for seed in range(2, 5000))
        if image_id_for("acme", hashlib.sha256(data).hexdigest()).int % 64 == held_id.int % 64
    )
    store = HeldStore(folder_stack.ctx.objects, held_id)
    ctx = Context(folder_stack.ctx.settings, cast(ObjectStore, store), folder_stack.ctx.warehouse)
    outcomes: dict[str, str] = {}

    def run(name: str, data: bytes) -> threading.Thread:
        thread = threading.Thread(
            target=lambda: outcomes.__setitem__(name, ingest(_request(data), ctx).status)
        )
        thread.start()
        return thread

    held = run("held", held_bytes)
    assert store.writing.wait(30)
    free = run("other", other)
    free.join(timeout=30)
    finished_first = not free.is_alive()
    store.release.set()
    held.join(timeout=30)
    free.join(timeout=30)

    assert finished_first, "an unrelated image waited for another image's storage"
    assert outcomes == {"held": "processed", "other": "processed"}


def test_same_bytes_from_two_customers_are_two_images(stack: Stack) -> None:
    photo = images.jpeg_photo(320, 240)
    a = ingest(_request(photo, customer="acme"), stack.ctx)
    b = ingest(_request(photo, customer="globex"), stack.ctx)
    assert (a.status, b.status) == ("processed", "processed")
    assert a.image_id != b.image_id
    assert len(stack.rows("images")) == 2


def test_a_bad_image_is_a_rejected_row_and_no_object(stack: Stack) -> None:
    result = ingest(_request(images.truncated(images.jpeg_photo(320, 240))), stack.ctx)
    assert result.status == "rejected"
    assert result.error_code == ErrorCode.UNDECODABLE
    assert result.image_id is None
    assert stack.list_objects() == []
    (event,) = stack.rows("ingest_events")
    assert (event["status"], event["reason"], event["image_id"]) == (
        "rejected",
        "undecodable",
        None,
    )
    assert stack.rows("images") == []


def test_a_batch_writes_every_outcome_in_order(stack: Stack) -> None:
    a, b = images.jpeg_photo(320, 240), images.jpeg_photo(320, 240, name="chelsea")
    requests = [_request(a), _request(images.SVG), _request(b), _request(a), _request(b"")]
    results = ingest_batch(requests, stack.ctx)
    assert [r.status for r in results] == [
        "processed",
        "rejected",
        "processed",
        "duplicate",
        "rejected",
    ]
    assert [r.error_code for r in results] == [
        None,
        ErrorCode.UNSUPPORTED_FORMAT,
        None,
        None,
        ErrorCode.EMPTY,
    ]
    assert [r.event_id for r in results] == [r.event_id for r in requests]
    assert len(stack.rows("images")) == 2
    assert len(stack.rows("ingest_events")) == 5


def test_a_retried_event_answers_as_before_and_writes_no_second_row(stack: Stack) -> None:
    photo = images.jpeg_photo(320, 240)
    first = ingest(_request(photo, event_id="orders:0:17"), stack.ctx)
    again = ingest(_request(photo, event_id="orders:0:17"), stack.ctx)
    assert (first.status, again.status) == ("processed", "processed")
    assert len(stack.rows("ingest_events")) == 1


@pytest.mark.parametrize("garbage", [b'{"image_id": "cut sho', b"[]", b'{"image_id": 7}'])
def test_an_unreadable_manifest_is_written_again_rather_than_failing_every_retry(
    stack: Stack, garbage: bytes
) -> None:
    photo = images.jpeg_photo(320, 240)
    image_id = image_id_for("acme", hashlib.sha256(photo).hexdigest())
    stack.ctx.objects.put(manifest_key(image_id), garbage, "application/json")

    result = ingest(_request(photo), stack.ctx)

    assert result.status == "processed"
    assert json.loads(stack.ctx.objects.get(manifest_key(image_id)))["image_id"] == str(image_id)


def test_a_direct_upload_is_ingested_from_storage_and_left_for_its_caller_to_discard(
    stack: Stack,
) -> None:
    photo = images.jpeg_photo(320, 240)
    stack.ctx.objects.put("uploads/u-1", photo, "image/jpeg")
    result = ingest(_request(None, object_key="uploads/u-1"), stack.ctx)
    assert result.status == "processed"
    assert result.bytes_in == len(photo)
    assert "uploads/u-1" in stack.list_objects()  # the caller records the outcome first
    discard_upload(stack.ctx.objects, "uploads/u-1")
    assert "uploads/u-1" not in stack.list_objects()


def test_a_missing_direct_upload_is_rejected(stack: Stack) -> None:
    result = ingest(_request(None, object_key="uploads/never-sent"), stack.ctx)
    assert (result.status, result.error_code) == ("rejected", ErrorCode.SOURCE_NOT_FOUND)


def test_an_oversized_direct_upload_is_refused_before_it_is_read(stack: Stack) -> None:
    small = Context(
        load_settings(**{**_fields(stack.ctx.settings), "max_bytes": 1000}),
        stack.ctx.objects,
        stack.ctx.warehouse,
    )
    stack.ctx.objects.put("uploads/big", b"\xff" * 5000, "image/jpeg")
    result = ingest(_request(None, object_key="uploads/big"), small)
    assert (result.status, result.error_code) == ("rejected", ErrorCode.TOO_LARGE)


def _fields(settings: Settings) -> dict[str, Any]:
    return {name: getattr(settings, name) for name in ("storage_url", "database_url")} | {
        "s3_endpoint_url": settings.s3_endpoint_url,
        "aws_region": settings.aws_region,
        "renditions": settings.renditions,
    }


def test_storage_down_is_transient_and_writes_no_row(
    make_settings: Callable[..., Settings], postgres_url: str, s3_proxy: FaultProxy
) -> None:
    settings = make_settings(
        database_url=postgres_url,
        renditions=THUMB_ONLY,
        s3_endpoint_url=f"http://{s3_proxy.address}",
    )
    ctx = _context(settings)
    s3_proxy.cut()
    with pytest.raises(TransientError):
        ingest(_request(images.jpeg_photo(320, 240)), ctx)
    with ctx.warehouse.engine.connect() as conn:  # type: ignore[attr-defined]
        assert conn.execute(sa.text("select count(*) from ingest_events")).scalar() == 0


def _context_via(settings: Settings, postgres_url: str) -> Context:
    upgrade(create_warehouse_engine(postgres_url))
    return Context(
        settings,
        open_object_store(settings),
        Warehouse(create_warehouse_engine(settings.database_url)),
    )


def test_a_warehouse_outage_stops_no_ingest_and_its_rows_arrive_once_when_it_returns(
    make_settings: Callable[..., Settings],
    postgres_url: str,
    postgres_url_via_proxy: str,
    postgres_proxy: FaultProxy,
) -> None:
    settings = make_settings(database_url=postgres_url_via_proxy, renditions=THUMB_ONLY)
    ctx = _context_via(settings, postgres_url)
    photo = images.jpeg_photo(320, 240)
    request = _request(photo, event_id="orders:3:99")

    postgres_proxy.cut()
    assert ingest(request, ctx).status == "processed"
    assert ingest(request, ctx).status == "processed"  # a retry of the same event
    assert ingest(_request(photo), ctx).status == "duplicate"
    assert ingest(_request(images.SVG), ctx).status == "rejected"
    with pytest.raises(TransientError):
        load_once(ctx)

    postgres_proxy.restore()
    assert load_once(ctx).files == 4
    assert load_once(ctx).files == 0  # nothing twice
    engine = create_warehouse_engine(postgres_url)
    with engine.connect() as conn:
        assert conn.execute(sa.text("select count(*) from images")).scalar() == 1
        statuses = conn.execute(
            sa.text("select status, count(*) from ingest_events group by status order by status")
        ).all()
    assert [tuple(row) for row in statuses] == [("duplicate", 1), ("processed", 1), ("rejected", 1)]


def test_a_direct_upload_is_ingested_during_a_warehouse_outage_and_kept_for_its_caller(
    make_settings: Callable[..., Settings],
    postgres_url: str,
    postgres_url_via_proxy: str,
    postgres_proxy: FaultProxy,
) -> None:
    settings = make_settings(database_url=postgres_url_via_proxy, renditions=THUMB_ONLY)
    ctx = _context_via(settings, postgres_url)
    ctx.objects.put("uploads/u-9", images.jpeg_photo(320, 240), "image/jpeg")
    request = _request(None, object_key="uploads/u-9", event_id="upload:u-9")

    with postgres_proxy.down():
        assert ingest(request, ctx).status == "processed"
    assert ctx.objects.exists("uploads/u-9")  # its caller discards it, once it has recorded it
    assert ingest(request, ctx).status == "processed"  # a retry answers alike


def _ingest_in_a_process(values: dict[str, Any], data: bytes, event_id: str, start: Any) -> str:
    from core.bootstrap import build_context

    ctx = build_context(load_settings(**values))
    start.wait()
    return ingest(_request(data, event_id=event_id), ctx).status


def test_the_same_image_from_two_processes_at_once_is_one_processed_and_one_duplicate(
    stack: Stack,
) -> None:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    settings = stack.ctx.settings
    values = {
        "storage_url": settings.storage_url,
        "database_url": settings.database_url,
        "s3_endpoint_url": settings.s3_endpoint_url,
        "aws_region": settings.aws_region,
        "renditions": THUMB_ONLY,
    }
    photo = images.jpeg_photo(640, 480, name="chelsea")
    context = multiprocessing.get_context("spawn")
    start = context.Manager().Event()
    with ProcessPoolExecutor(2, mp_context=context) as pool:
        runs = [
            pool.submit(_ingest_in_a_process, values, photo, f"proc-{n}", start) for n in (1, 2)
        ]
        time.sleep(1)  # both processes started and waiting
        start.set()
        statuses = sorted(run.result(timeout=120) for run in runs)

    assert statuses == ["duplicate", "processed"]
    (image,) = stack.rows("images")
    assert image["first_event_id"] in {"proc-1", "proc-2"}
    events = {e["event_id"]: e["status"] for e in stack.rows("ingest_events")}
    assert events[image["first_event_id"]] == "processed"
    assert sorted(events.values()) == ["duplicate", "processed"]
