"""Migration 0004 on a populated database (SQLite and PostgreSQL): rows loaded before it keep
their values and get nulls in the new columns; facts loaded after it fill them; the statistics
views still answer; down and up again keep the rows."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from core.repository import migrations
from core.repository.warehouse import Warehouse, create_warehouse_engine
from tests.harness.warehouse_data import NOON, accepted, load

OLD_IMAGE = {
    "image_id": "00000000-0000-5000-8000-000000000001",
    "customer_id": "acme",
    "sha256": "0" * 64,
    "phash": "0123456789abcdef",
    "format": "jpeg",
    "mode": "RGB",
    "width": 640,
    "height": 480,
    "frames": 1,
    "bytes_in": 1000,
    "has_alpha": False,
    "camera_make": None,
    "camera_model": None,
    "taken_at": None,
    "has_gps": False,
    "first_seen_at": NOON,
    "first_event_id": "old-1",
}
OLD_EVENTS = [
    {
        "event_id": event_id,
        "image_id": OLD_IMAGE["image_id"],
        "customer_id": "acme",
        "source": "upload",
        "status": status,
        "reason": None,
        "format": "jpeg",
        "bytes_in": 1000,
        "bytes_out": 400 if status == "processed" else 0,
        "processing_ms": 10.0,
        "received_at": NOON,
        "recorded_at": NOON,
    }
    for event_id, status in (("old-1", "processed"), ("old-2", "duplicate"))
]


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[Engine]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/warehouse.db"
    else:
        url = str(request.getfixturevalue("postgres_url"))
    engine = create_warehouse_engine(url)
    yield engine
    engine.dispose()


def populated_at_0003(engine: Engine) -> None:
    """The database as 0003 left it, with rows written in that shape (by plain SQL: the
    application's tables are the newer shape)."""
    migrations.upgrade(engine, "0003")
    old = sa.MetaData()
    images = sa.Table("images", old, autoload_with=engine)
    events = sa.Table("ingest_events", old, autoload_with=engine)
    assert "thumbhash" not in images.c and "match" not in events.c
    with engine.begin() as conn:
        conn.execute(images.insert(), [OLD_IMAGE])
        conn.execute(events.insert(), OLD_EVENTS)


def select(engine: Engine, sql: str) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        return [tuple(row) for row in conn.execute(sa.text(sql))]


def test_upgrade_from_0003_keeps_the_rows_and_the_new_columns_fill_from_later_facts(
    engine: Engine,
) -> None:
    populated_at_0003(engine)

    migrations.upgrade(engine)

    assert migrations.current(engine) == migrations.HEAD
    assert select(
        engine, "select sha256, content_sha256, thumbhash, dominant_color from images"
    ) == [("0" * 64, None, None, None)]
    assert select(
        engine, "select event_id, status, match, duplicate_of from ingest_events order by 1"
    ) == [("old-1", "processed", None, None), ("old-2", "duplicate", None, None)]

    warehouse = Warehouse(engine)
    first = accepted("new-1", "B")
    assert first.manifest is not None
    meta = dataclasses.replace(
        first.manifest.metadata,
        content_sha256="jpeg:" + "1" * 64,
        thumbhash="3EgKFYhpZ4VPh2aHVnh5dl8i9idk",
        dominant_color="#b6afab",
    )
    first = dataclasses.replace(first, manifest=dataclasses.replace(first.manifest, metadata=meta))
    twin = dataclasses.replace(
        first,
        event_id="new-2",
        status="duplicate",
        match="content",
        duplicate_of=first.manifest.image_id if first.manifest else None,
    )
    load(warehouse, [first, twin])

    image_id = str(first.image_id)
    assert select(
        engine,
        "select content_sha256, thumbhash, dominant_color from images "
        f"where image_id = '{image_id}'",
    ) == [("jpeg:" + "1" * 64, "3EgKFYhpZ4VPh2aHVnh5dl8i9idk", "#b6afab")]
    event = warehouse.get_event("new-2")
    assert event is not None
    assert (event.status, event.match, event.duplicate_of) == ("duplicate", "content", image_id)
    assert warehouse.get_event("old-2") is not None
    totals = warehouse.stats()
    assert sum(day.events for day in totals.daily) == 4


def test_downgrade_to_0003_and_up_again_keeps_the_older_columns_rows(engine: Engine) -> None:
    populated_at_0003(engine)
    migrations.upgrade(engine)
    migrations.downgrade(engine, "0003")
    columns = {c["name"] for c in sa.inspect(engine).get_columns("ingest_events")}
    assert "match" not in columns and "duplicate_of" not in columns
    migrations.upgrade(engine)
    assert select(engine, "select count(*) from ingest_events") == [(2,)]
    assert select(engine, "select count(*) from images") == [(1,)]
