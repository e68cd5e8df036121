"""Redshift SQL, compiled with the sqlalchemy-redshift dialect and checked as text: the DDL of
the migrations, the staging-table writes, the look-up, and the statistics views."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.schema import CreateTable
from sqlalchemy_redshift.dialect import RedshiftDialect_redshift_connector

from core.repository import migrations
from core.repository.migrations.views import STATS_VIEWS, create_view_sql, view_sql
from core.repository.warehouse import (
    MultiRowInsert,
    _lookup_statements,
    batch_statements,
    images,
    ingest_events,
    redshift_tables,
    renditions,
    staging_lock,
    without_returning,
    write_strategy,
)


@pytest.fixture(scope="module")
def redshift() -> sa.Dialect:
    return without_returning(RedshiftDialect_redshift_connector())


@pytest.fixture(scope="module")
def redshift_ddl() -> str:
    return migrations.ddl("redshift")


def sql(statement: Any, dialect: sa.Dialect) -> str:
    if isinstance(statement, MultiRowInsert):
        (rendered,) = statement.render(dialect)
        return " ".join(rendered[0].split())
    return " ".join(str(statement.compile(dialect=dialect)).split())


def statement_of(ddl: str, start: str) -> str:
    """One statement of a DDL script, whitespace squeezed."""
    begin = ddl.index(start)
    return " ".join(ddl[begin : ddl.index(";", begin)].split())


def test_redshift_tables_carry_distribution_sort_keys_and_encodings(redshift_ddl: str) -> None:
    images_ddl = statement_of(redshift_ddl, "CREATE TABLE images")
    assert images_ddl.endswith("DISTSTYLE KEY DISTKEY (image_id) SORTKEY (first_seen_at)")
    assert "first_seen_at TIMESTAMP WITH TIME ZONE ENCODE raw NOT NULL" in images_ddl
    assert "width INTEGER ENCODE az64 NOT NULL" in images_ddl
    assert "customer_id VARCHAR(128) ENCODE zstd NOT NULL" in images_ddl
    assert "CONSTRAINT pk_images PRIMARY KEY (image_id)" in images_ddl

    renditions_ddl = statement_of(redshift_ddl, "CREATE TABLE renditions")
    assert renditions_ddl.endswith("DISTSTYLE KEY DISTKEY (image_id) SORTKEY (image_id)")

    events_ddl = statement_of(redshift_ddl, "CREATE TABLE ingest_events")
    assert events_ddl.endswith("DISTSTYLE EVEN SORTKEY (received_at)")
    assert "received_at TIMESTAMP WITH TIME ZONE ENCODE raw NOT NULL" in events_ddl
    assert "status VARCHAR(16) ENCODE bytedict NOT NULL" in events_ddl
    assert "processing_ms FLOAT ENCODE zstd NOT NULL" in events_ddl


def test_redshift_ddl_has_nothing_redshift_refuses(redshift_ddl: str) -> None:
    assert "CREATE INDEX" not in redshift_ddl
    assert "RETURNING" not in redshift_ddl
    assert "CHECK" not in redshift_ddl
    assert "DEFAULT" not in redshift_ddl
    assert "SERIAL" not in redshift_ddl


def test_migrated_redshift_tables_are_the_application_tables(
    redshift: sa.Dialect, redshift_ddl: str
) -> None:
    for table in redshift_tables().sorted_tables:
        application = " ".join(str(CreateTable(table).compile(dialect=redshift)).split())
        assert statement_of(redshift_ddl, f"CREATE TABLE {table.name} ") == application


def test_other_dialects_get_no_redshift_options() -> None:
    for dialect in ("postgresql", "sqlite"):
        ddl = migrations.ddl(dialect)
        assert not re.search(r"DISTKEY|SORTKEY|DISTSTYLE|ENCODE", ddl)
        assert "CREATE INDEX ix_ingest_events_received" in ddl


def test_redshift_writes_through_a_staging_table(redshift: sa.Dialect) -> None:
    assert write_strategy("redshift") == "staging"
    assert write_strategy("postgresql") == write_strategy("sqlite") == "on_conflict"
    now = datetime(2024, 3, 1, tzinfo=UTC)
    rows = [
        {
            "event_id": f"e{i}",
            "image_id": None,
            "customer_id": "acme",
            "source": "upload",
            "status": "rejected",
            "reason": "empty",
            "format": None,
            "bytes_in": 0,
            "bytes_out": 0,
            "processing_ms": 0.1,
            "received_at": now,
            "recorded_at": now,
        }
        for i in range(3)
    ]
    texts = [sql(s, redshift) for s in batch_statements("staging", ingest_events, rows)]
    assert texts[0] == "CREATE TEMPORARY TABLE stage_ingest_events (LIKE ingest_events)"
    assert texts[1].startswith("INSERT INTO stage_ingest_events (event_id, image_id, customer_id")
    assert texts[1].count("), (") == 2  # one statement, three rows
    assert "unnest" not in texts[1]
    assert texts[2] == (
        "DELETE FROM stage_ingest_events USING ingest_events "
        "WHERE ingest_events.event_id = stage_ingest_events.event_id"
    )
    assert texts[3].startswith("INSERT INTO ingest_events (event_id, image_id, customer_id")
    assert "SELECT stage_ingest_events.event_id, stage_ingest_events.image_id" in texts[3]
    assert texts[3].endswith("FROM stage_ingest_events")
    assert texts[4] == "DROP TABLE stage_ingest_events"
    assert len(texts) == 5
    for text in texts:
        assert "ON CONFLICT" not in text
        assert "RETURNING" not in text


def test_redshift_staging_write_first_locks_every_table_in_one_statement(
    redshift: sa.Dialect,
) -> None:
    assert sql(staging_lock(), redshift) == "LOCK TABLE images, renditions, ingest_events"


def test_redshift_staging_delete_matches_every_key_column(redshift: sa.Dialect) -> None:
    row = {
        "image_id": "0" * 36,
        "name": "thumb",
        "width": 1,
        "height": 1,
        "bytes": 1,
        "content_type": "image/jpeg",
        "object_key": "renditions/thumb/x.jpg",
    }
    delete = sql(batch_statements("staging", renditions, [row])[2], redshift)
    assert delete == (
        "DELETE FROM stage_renditions USING renditions "
        "WHERE renditions.image_id = stage_renditions.image_id "
        "AND renditions.name = stage_renditions.name"
    )


def test_postgresql_and_sqlite_write_one_insert_on_conflict_do_nothing() -> None:
    row = {c.name: None for c in images.columns}
    (statement,) = batch_statements("on_conflict", images, [row] * 3)
    assert isinstance(statement, MultiRowInsert)
    ((on_sqlite, values),) = statement.render(sqlite.dialect())
    assert on_sqlite.startswith("INSERT INTO images (image_id, customer_id, sha256")
    assert on_sqlite.endswith(") ON CONFLICT DO NOTHING")
    assert on_sqlite.count("), (") == 2
    assert len(values) == 3 * len(images.columns)
    # PostgreSQL takes each column as one array: a statement text independent of the rows.
    ((on_postgresql, arrays),) = statement.render(postgresql.psycopg.dialect())
    assert on_postgresql.startswith("INSERT INTO images (image_id, customer_id, sha256")
    assert "SELECT * FROM unnest(%s::CHAR(36)[], %s::VARCHAR(128)[]" in on_postgresql
    assert "%s::TIMESTAMP WITH TIME ZONE[]" in on_postgresql
    assert on_postgresql.endswith(") ON CONFLICT DO NOTHING")
    assert len(arrays) == len(images.columns)
    assert all(len(column) == 3 for column in arrays)
    for text in (on_sqlite, on_postgresql):
        assert "RETURNING" not in text


def test_huge_batches_are_split_by_bound_values_not_by_row(redshift: sa.Dialect) -> None:
    row = {c.name: None for c in images.columns}
    (statement,) = batch_statements("on_conflict", images, [row] * 5000)
    assert isinstance(statement, MultiRowInsert)
    per_statement = 30_000 // len(images.columns)
    assert len(statement.render(redshift)) == -(-5000 // per_statement)
    assert len(statement.render(postgresql.psycopg.dialect())) == 1


def test_lookup_is_one_union_statement(redshift: sa.Dialect) -> None:
    (statement,) = _lookup_statements(["0" * 36], ["e1", "e2"], "redshift")
    text = sql(statement, redshift)
    assert "FROM images WHERE images.image_id IN" in text
    assert "UNION ALL" in text
    assert "FROM ingest_events WHERE ingest_events.event_id IN" in text


@pytest.mark.parametrize("name", STATS_VIEWS)
def test_every_view_compiles_for_every_dialect(name: str, redshift: sa.Dialect) -> None:
    for dialect in (redshift, postgresql.dialect(), sqlite.dialect()):
        text = create_view_sql(name, dialect)
        assert text.startswith(f"CREATE VIEW {name} AS\nSELECT ")
        assert "day" in text and "customer_id" in text and "source" in text


def test_views_differ_by_dialect_only_in_days_and_percentiles(redshift: sa.Dialect) -> None:
    latency_redshift = view_sql("stats_latency_daily", redshift)
    assert "percentile_cont(0.5) WITHIN GROUP (ORDER BY work.processing_ms)" in latency_redshift
    assert "percentile_cont(0.95) WITHIN GROUP (ORDER BY work.processing_ms)" in latency_redshift
    assert "CAST(ingest_events.received_at AT TIME ZONE 'UTC' AS DATE)" in latency_redshift
    assert latency_redshift == view_sql("stats_latency_daily", postgresql.dialect())

    latency_sqlite = view_sql("stats_latency_daily", sqlite.dialect())
    assert "percentile_cont" not in latency_sqlite
    assert "row_number() OVER (PARTITION BY" in latency_sqlite
    assert "date(ingest_events.received_at)" in latency_sqlite

    for name in STATS_VIEWS:
        if name == "stats_latency_daily":
            continue
        as_sqlite = view_sql(name, sqlite.dialect()).replace(
            "date(ingest_events.received_at)",
            "CAST(ingest_events.received_at AT TIME ZONE 'UTC' AS DATE)",
        )
        assert as_sqlite == view_sql(name, redshift) == view_sql(name, postgresql.dialect())


def test_redshift_ddl_creates_every_view(redshift_ddl: str) -> None:
    for name in STATS_VIEWS:
        assert f"CREATE VIEW {name} AS" in redshift_ddl
