"""The warehouse on real databases (a SQLite file and PostgreSQL): migrations, the loader's
writes (exactly once, whoever delivers facts twice), listing, the statistics views on a known
data set, and faults."""

from __future__ import annotations

import json
import os
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Engine

from core import facts
from core.config import load_settings
from core.errors import ErrorCode, PermanentError, TransientError
from core.repository import migrations
from core.repository.migrations.views import STATS_VIEWS
from core.repository.warehouse import (
    Warehouse,
    create_warehouse_engine,
    engine_for,
    metadata,
    open_warehouse,
)
from core.repository.warehouse.schema import staging_columns
from core.repository.warehouse.sql import MAX_PARAMS
from tests.harness.proxy import FaultProxy
from tests.harness.warehouse_data import D1, D2, NOON, accepted, known_data_set, load, refused


def count(engine: Engine, table: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one())


# --- fixtures ---------------------------------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Any) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/warehouse.db"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = create_warehouse_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def warehouse(engine: Engine) -> Warehouse:
    migrations.upgrade(engine)
    return Warehouse(engine)


@pytest.fixture
def second_warehouse(warehouse: Warehouse) -> Iterator[Warehouse]:
    """Another engine on the same database: a second loader process."""
    engine = create_warehouse_engine(warehouse.engine.url.render_as_string(hide_password=False))
    yield Warehouse(engine)
    engine.dispose()


# --- migrations -------------------------------------------------------------------------------


def test_migrations_from_empty_create_every_table_and_view(engine: Engine) -> None:
    assert migrations.current(engine) is None
    migrations.upgrade(engine)
    inspector = sa.inspect(engine)
    assert {"images", "renditions", "ingest_events"} <= set(inspector.get_table_names())
    assert set(STATS_VIEWS) <= set(inspector.get_view_names())
    assert migrations.current(engine) == migrations.head()


def test_head_constant_is_the_newest_migration_and_tells_a_migrated_database(
    engine: Engine,
) -> None:
    assert migrations.head() == migrations.HEAD
    assert not migrations.at_head(engine)
    migrations.upgrade(engine, "0001")
    assert not migrations.at_head(engine)
    migrations.upgrade(engine)
    assert migrations.at_head(engine)


def test_migrations_go_down_to_empty_and_up_again(engine: Engine) -> None:
    migrations.upgrade(engine)
    migrations.downgrade(engine, "base")
    inspector = sa.inspect(engine)
    assert set(inspector.get_table_names()) <= {"alembic_version"}
    assert not set(STATS_VIEWS) & set(inspector.get_view_names())
    assert migrations.current(engine) is None
    migrations.upgrade(engine)
    assert set(STATS_VIEWS) <= set(sa.inspect(engine).get_view_names())


def test_migrated_schema_is_exactly_the_application_tables(warehouse: Warehouse) -> None:
    with warehouse.engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), metadata)
    assert differences == []


def test_embedded_sqlite_database_is_migrated_on_first_use(tmp_path: Any) -> None:
    url = f"sqlite:///{tmp_path}/fresh/warehouse.db"
    warehouse = open_warehouse(load_settings(database_url=url))
    try:
        assert migrations.current(warehouse.engine) == migrations.head()
        assert open_warehouse(load_settings(database_url=url)).engine is warehouse.engine
        assert load(warehouse, [accepted("e1", "A")])["ingest_events"] == 1
    finally:
        engine_for(url).dispose()


def test_loading_into_a_database_never_migrated_is_an_error_not_a_transient_fault(
    engine: Engine,
) -> None:
    with pytest.raises(sa.exc.DBAPIError) as raised:
        load(Warehouse(engine), [accepted("e1", "A")])
    assert not isinstance(raised.value, TransientError)


# --- the loader's writes ----------------------------------------------------------------------


def test_a_load_of_1000_events_takes_as_many_statements_as_a_load_of_3(
    warehouse: Warehouse,
) -> None:
    batch = []
    for i in range(1000):
        if i % 10 == 9:
            batch.append(refused(f"ev-{i}", ErrorCode.UNDECODABLE))
        else:
            batch.append(accepted(f"ev-{i}", f"image-{i % 600}"))
    executed: list[tuple[str, bool]] = []

    def record(
        _conn: Any, _cursor: Any, statement: str, _params: Any, _ctx: Any, many: bool
    ) -> None:
        executed.append((statement.split(None, 1)[0].upper(), many))

    sa.event.listen(warehouse.engine, "before_cursor_execute", record)
    try:
        written = load(warehouse, batch)
        executed_big = list(executed)
        executed.clear()
        load(
            warehouse, [accepted("x-1", "X"), accepted("x-2", "Y"), refused("x-3", ErrorCode.EMPTY)]
        )
    finally:
        sa.event.remove(warehouse.engine, "before_cursor_execute", record)

    assert not any(many for _, many in executed_big)
    # As many statements for 3 events as for 1,000, but for the staging INSERT of 2,620 rows:
    # one on PostgreSQL (column arrays), as many as the bound-value limit needs elsewhere.
    staged_rows, width = 1000 + 540 + 1080, len(staging_columns())
    chunks = 1 if warehouse.dialect == "postgresql" else -(-staged_rows // (MAX_PARAMS // width))
    assert len(executed_big) == len(executed) + chunks - 1
    # Images k with k % 10 == 9 only ever come with refused events: 540 of 600 are accepted.
    assert written == {"superseded": 0, "images": 540, "renditions": 1080, "ingest_events": 1000}
    assert count(warehouse.engine, "ingest_events") == 1003
    assert count(warehouse.engine, "images") == 542
    assert count(warehouse.engine, "renditions") == 2 * 542


def test_facts_delivered_twice_leave_one_copy_of_every_row(warehouse: Warehouse) -> None:
    batch = [
        accepted("e1", "A"),
        accepted("e2", "A", status="duplicate"),
        accepted("e3", "B"),
        refused("e4", ErrorCode.TOO_LARGE),
    ]
    first = load(warehouse, batch)
    again = load(warehouse, batch)  # the same rows in another fact object
    assert (first["ingest_events"], again) == (
        4,
        {"superseded": 0, "images": 0, "renditions": 0, "ingest_events": 0},
    )
    engine = warehouse.engine
    assert (count(engine, "images"), count(engine, "renditions")) == (2, 4)
    assert count(engine, "ingest_events") == 4
    assert warehouse.get_event_status("e2") == "duplicate"
    assert warehouse.get_event_status("e4") == "rejected"
    assert warehouse.get_event("never") is None


def test_the_outcome_recorded_first_stands_and_an_acceptance_supersedes_a_refusal(
    warehouse: Warehouse,
) -> None:
    load(warehouse, [accepted("e1", "A"), refused("e2", ErrorCode.SOURCE_NOT_FOUND)])
    # A later fact of e1 (a retry that found the image) leaves e1 as it was recorded; e2,
    # refused before its bytes arrived, was accepted since: the acceptance replaces the refusal.
    written = load(
        warehouse, [accepted("e1", "A", status="duplicate"), accepted("e2", "B", ms=7.0)]
    )
    assert written["superseded"] == 1
    e1, e2 = warehouse.get_event("e1"), warehouse.get_event("e2")
    assert e1 is not None and e2 is not None
    assert (e1.status, e2.status, e2.reason, e2.processing_ms) == (
        "processed",
        "processed",
        None,
        7.0,
    )
    assert count(warehouse.engine, "ingest_events") == 2
    # ... but a refusal never replaces an acceptance.
    load(warehouse, [refused("e2", ErrorCode.UNDECODABLE)])
    assert warehouse.get_event_status("e2") == "processed"


def test_same_event_twice_in_one_load_is_written_once_accepted_first(
    warehouse: Warehouse,
) -> None:
    load(warehouse, [refused("e1", ErrorCode.EMPTY), accepted("e1", "A"), accepted("e1", "A")])
    assert warehouse.get_event_status("e1") == "processed"
    assert count(warehouse.engine, "ingest_events") == 1


def test_loaders_of_the_same_fact_object_at_once_load_it_once(
    warehouse: Warehouse, second_warehouse: Warehouse
) -> None:
    start = threading.Barrier(4)
    key = "facts/2024/03/01/12/01HQX0000000000000000000AA.ndjson.gz"
    errors: list[BaseException] = []

    def write(n: int, target: Warehouse) -> None:
        try:
            rows = target.prepare(json.loads(json.dumps(facts.rows_of([accepted("t1", "A")]))))
            start.wait()
            with target.load_session() as session:
                if session.already_loaded([key]):
                    return
                session.stage_rows(rows)
                session.apply()
                session.record([(key, len(rows), 0)], f"LOAD{n:022d}")
        except BaseException as exc:
            errors.append(exc)

    threads = [
        threading.Thread(target=write, args=(n, warehouse if n % 2 else second_warehouse))
        for n in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert count(warehouse.engine, "images") == 1
    assert count(warehouse.engine, "ingest_events") == 1
    assert count(warehouse.engine, "loaded_facts") == 1
    assert warehouse.watermark() == key


def test_timestamps_come_back_in_utc_whatever_zone_they_were_given_in(
    warehouse: Warehouse,
) -> None:
    paris = timezone(timedelta(hours=2))
    load(warehouse, [accepted("e1", "A", when=datetime(2024, 3, 2, 0, 30, tzinfo=paris))])
    (image,), _ = warehouse.list_images("acme")
    assert image.first_seen_at == datetime(2024, 3, 1, 22, 30, tzinfo=UTC)
    assert image.first_seen_at.tzinfo == UTC
    assert image.taken_at == datetime(2023, 7, 14, 9, 30, tzinfo=UTC)
    event = warehouse.get_event("e1")
    assert event is not None
    assert event.received_at.utcoffset() == timedelta(0)


# --- listing ----------------------------------------------------------------------------------


def test_images_are_listed_a_page_at_a_time_without_skips_or_repeats(
    warehouse: Warehouse,
) -> None:
    batch = [accepted(f"e{i}", f"img-{i}", when=NOON + timedelta(minutes=i // 2)) for i in range(7)]
    batch.append(accepted("other", "img-0", customer="globex"))
    load(warehouse, batch)

    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        page, cursor = warehouse.list_images("acme", limit=3, cursor=cursor)
        pages += 1
        seen.extend(image.image_id for image in page)
        if cursor is None:
            break
    assert pages == 3
    expected = sorted(
        (NOON + timedelta(minutes=i // 2), str(r.image_id)) for i, r in enumerate(batch[:7])
    )
    assert seen == [image_id for _, image_id in expected]

    later, _ = warehouse.list_images("acme", since=NOON + timedelta(minutes=3))
    assert [image.first_seen_at for image in later] == [NOON + timedelta(minutes=3)]
    first, _ = warehouse.list_images("acme", limit=1)
    assert [r.name for r in first[0].renditions] == ["display", "thumb"]
    assert first[0].renditions[0].key.startswith("renditions/display/")


def test_a_cursor_not_issued_by_the_warehouse_is_refused(warehouse: Warehouse) -> None:
    for cursor in ("not-base64!", "eyJ4IjoxfQ", ""):
        if not cursor:
            continue
        with pytest.raises(PermanentError) as raised:
            warehouse.list_images("acme", cursor=cursor)
        assert raised.value.code is ErrorCode.INVALID_REQUEST
    with pytest.raises(PermanentError):
        warehouse.list_images("acme", limit=0)


# --- the statistics views on a known data set -------------------------------------------------


def test_stats_views_give_the_known_numbers(warehouse: Warehouse) -> None:
    known_data_set(warehouse)
    stats = warehouse.stats()

    daily = {
        (r.day, r.source, r.status): (r.events, r.images, r.bytes_in, r.bytes_out)
        for r in stats.daily
    }
    assert daily == {
        (D1, "upload", "processed"): (4, 4, 11000, 2500),
        (D1, "upload", "duplicate"): (1, 1, 1000, 0),
        (D1, "upload", "rejected"): (1, 0, 50, 0),
        (D1, "stream", "processed"): (1, 1, 4000, 800),
        (D1, "stream", "rejected"): (2, 0, 100, 0),
        (D2, "upload", "processed"): (1, 1, 1500, 300),
        (D2, "upload", "duplicate"): (1, 1, 2000, 0),
        (D2, "stream", "processed"): (1, 1, 800, 200),
        (D2, "stream", "rejected"): (1, 0, 9000, 0),
    }
    t = stats.totals
    assert (t.events, t.processed, t.duplicates, t.rejected) == (13, 7, 2, 4)
    assert (t.bytes_in, t.bytes_out) == (29450, 3800)
    assert t.output_ratio == pytest.approx(3800 / 17300)
    assert t.mean_processing_ms == pytest.approx(166 / 7)
    assert t.rejections_by_reason == {"unsupported_format": 2, "too_large": 1, "undecodable": 1}

    latency = {(r.day, r.source): (r.events, r.p50_ms, r.p95_ms, r.max_ms) for r in stats.latency}
    # D1 uploads of all customers: 10, 20, 30, 50 ms. p50 at 1.5 -> 25; p95 at 2.85 -> 47.
    assert latency == {
        (D1, "upload"): (4, pytest.approx(25.0), pytest.approx(47.0), 50.0),
        (D1, "stream"): (1, pytest.approx(40.0), pytest.approx(40.0), 40.0),
        (D2, "upload"): (1, pytest.approx(11.0), pytest.approx(11.0), 11.0),
        (D2, "stream"): (1, pytest.approx(5.0), pytest.approx(5.0), 5.0),
    }
    assert [(r.day, r.source, r.reason, r.events) for r in stats.rejections] == [
        (D1, "stream", "unsupported_format", 2),
        (D1, "upload", "undecodable", 1),
        (D2, "stream", "too_large", 1),
    ]
    assert [(f.format, f.events, f.new_images, f.bytes_in, f.bytes_out) for f in stats.formats] == [
        ("jpeg", 5, 4, 11500, 2300),
        ("png", 2, 1, 4000, 500),
        ("gif", 1, 1, 800, 200),
        ("webp", 1, 1, 4000, 800),
    ]
    assert [
        (c.customer_id, c.events, c.processed, c.duplicates, c.rejected, c.bytes_in, c.bytes_out)
        for c in stats.customers
    ] == [
        ("acme", 10, 5, 2, 3, 14650, 2600),
        ("globex", 3, 2, 0, 1, 14800, 1200),
    ]


def test_stats_latency_view_holds_per_customer_rows_and_an_all_customers_row(
    warehouse: Warehouse,
) -> None:
    known_data_set(warehouse)
    with warehouse.engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT customer_id, events, p50_ms, p95_ms FROM stats_latency_daily "
                "WHERE day = :day AND source = 'upload'"
            ),
            {"day": D1},
        ).all()
    by_customer = {r[0]: (r[1], r[2], r[3]) for r in rows}
    # acme's D1 uploads: 10, 20, 30 ms. p95 at position 1.9 -> 20 + 0.9 * 10.
    assert by_customer == {
        "acme": (3, pytest.approx(20.0), pytest.approx(29.0)),
        "globex": (1, pytest.approx(50.0), pytest.approx(50.0)),
        None: (4, pytest.approx(25.0), pytest.approx(47.0)),
    }


def test_stats_are_scoped_by_customer_source_and_days(warehouse: Warehouse) -> None:
    known_data_set(warehouse)

    globex = warehouse.stats(customer_id="globex")
    assert (globex.totals.events, globex.totals.processed, globex.totals.rejected) == (3, 2, 1)
    assert [(r.day, r.source, r.p50_ms) for r in globex.latency] == [
        (D1, "upload", 50.0),
        (D2, "stream", 5.0),
    ]
    assert [c.customer_id for c in globex.customers] == ["globex"]

    streams = warehouse.stats(source="stream")
    assert (streams.totals.events, streams.totals.bytes_in) == (5, 13900)
    assert {r.source for r in streams.daily} == {"stream"}

    second_day = warehouse.stats(since=D2, until=D2)
    assert second_day.totals.events == 4
    assert {r.day for r in second_day.daily} == {D2}
    assert second_day.totals.rejections_by_reason == {"too_large": 1}

    acme_uploads_day1 = warehouse.stats(until=D1, source="upload", customer_id="acme")
    assert (acme_uploads_day1.totals.events, acme_uploads_day1.totals.duplicates) == (5, 1)
    assert [(r.events, r.p95_ms) for r in acme_uploads_day1.latency] == [(3, pytest.approx(29.0))]

    top = warehouse.stats(top_customers=1)
    assert [c.customer_id for c in top.customers] == ["acme"]


def test_stats_of_an_empty_range_are_empty_not_an_error(warehouse: Warehouse) -> None:
    known_data_set(warehouse)
    nothing = warehouse.stats(since=date(2030, 1, 1))
    assert nothing.empty
    assert nothing.totals.output_ratio is None
    assert nothing.daily == nothing.latency == nothing.formats == nothing.customers == ()
    assert nothing.to_json()["totals"]["events"] == 0
    with pytest.raises(PermanentError):
        warehouse.stats(since=D2, until=D1)


def test_stats_to_json_is_plain_json(warehouse: Warehouse) -> None:
    known_data_set(warehouse)
    document = warehouse.stats(since=D1, until=D2).to_json()
    assert document["since"] == "2024-03-01"
    assert document["daily"][0]["day"] == "2024-03-01"
    assert document["customers"][0]["customer_id"] == "acme"


# --- faults -----------------------------------------------------------------------------------


def test_unreachable_database_is_a_transient_error_and_heals_when_back(
    postgres_url_via_proxy: str, postgres_proxy: FaultProxy
) -> None:
    engine = create_warehouse_engine(postgres_url_via_proxy)
    try:
        migrations.upgrade(engine)
        warehouse = Warehouse(engine)
        load(warehouse, [accepted("e1", "A")])

        postgres_proxy.cut()
        with pytest.raises(TransientError):
            warehouse.ping()
        with pytest.raises(TransientError):
            load(warehouse, [accepted("e2", "B")])
        with pytest.raises(TransientError):
            warehouse.stats()

        postgres_proxy.restore()
        assert load(warehouse, [accepted("e2", "B")])["ingest_events"] == 1
        assert count(engine, "ingest_events") == 2
    finally:
        engine.dispose()


def test_connection_lost_in_the_middle_of_a_load_leaves_nothing_and_the_retry_one_copy(
    postgres_url_via_proxy: str, postgres_proxy: FaultProxy
) -> None:
    engine = create_warehouse_engine(postgres_url_via_proxy)
    try:
        migrations.upgrade(engine)
        warehouse = Warehouse(engine)
        batch = [
            accepted("e1", "A"),
            accepted("e2", "A", status="duplicate"),
            refused("e3", ErrorCode.EMPTY),
        ]
        key = "facts/2024/03/01/12/01HQX0000000000000000000BB.ndjson.gz"
        statements = 0

        def cut_before_the_events(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
            nonlocal statements
            statements += 1
            if statement.lstrip().upper().startswith("INSERT INTO INGEST_EVENTS"):
                postgres_proxy.cut()  # images and renditions are written by now

        sa.event.listen(engine, "before_cursor_execute", cut_before_the_events)
        with pytest.raises(TransientError):
            load(warehouse, batch, key=key)
        sa.event.remove(engine, "before_cursor_execute", cut_before_the_events)
        postgres_proxy.restore()
        assert statements > 4

        assert (count(engine, "images"), count(engine, "ingest_events")) == (0, 0)
        assert warehouse.watermark() is None  # not recorded either: the next load redoes it
        load(warehouse, batch, key=key)
        assert (count(engine, "images"), count(engine, "ingest_events")) == (1, 3)
        assert warehouse.get_event_status("e2") == "duplicate"
    finally:
        engine.dispose()


@pytest.mark.timeout(60)
def test_a_database_that_accepts_but_never_answers_is_a_transient_error_in_seconds() -> None:
    with socket.socket() as silent:  # the kernel completes connections; nobody speaks
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        port = silent.getsockname()[1]
        engine = create_warehouse_engine(f"postgresql+psycopg://imgpipe@127.0.0.1:{port}/test")
        try:
            with pytest.raises(TransientError):
                Warehouse(engine).ping()
        finally:
            engine.dispose()


def test_a_connection_whose_server_vanishes_is_dropped_within_a_minute(postgres_url: str) -> None:
    """A server that vanishes without a reset (a failover, a dropped route) would otherwise
    hold a pooled connection for the kernel's retransmission time, about 15 minutes."""
    engine = create_warehouse_engine(postgres_url)
    try:
        with engine.connect() as conn:
            raw = conn.connection.dbapi_connection
            assert raw is not None
            fd = raw.pgconn.socket  # type: ignore[attr-defined]
            sock = socket.socket(fileno=os.dup(fd))
            try:
                option = sock.getsockopt
                unacknowledged_ms = option(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT)
                keepalive = option(socket.SOL_SOCKET, socket.SO_KEEPALIVE)
                idle = option(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE)
                probes = option(socket.IPPROTO_TCP, socket.TCP_KEEPCNT)
                interval = option(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL)
            finally:
                sock.close()
        assert 0 < unacknowledged_ms <= 60_000
        assert keepalive and idle + probes * interval <= 60
    finally:
        engine.dispose()
