"""Redshift SQL, compiled with the sqlalchemy-redshift dialect and checked as text: the DDL of
the migrations, the loader's COPY, staging and deduplicating inserts, and the statistics views
(materialized on Redshift, refreshed after each load)."""

from __future__ import annotations

import re
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.schema import CreateTable
from sqlalchemy_redshift.dialect import RedshiftDialect_redshift_connector

from core.repository import migrations
from core.repository.migrations.views import STATS_VIEWS, create_view_sql, view_sql
from core.repository.warehouse import sql as loader_sql
from core.repository.warehouse.schema import (
    images,
    redshift_tables,
    staging_columns,
    without_returning,
)
from core.repository.warehouse.sql import MultiRowInsert


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


def literal(statement: Any, dialect: sa.Dialect) -> str:
    """The statement with its values inline, as Redshift would run it."""
    compiled = statement.compile(dialect=dialect, compile_kwargs={"literal_binds": True})
    return " ".join(str(compiled).split())


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
        assert migrated_table(redshift_ddl, table.name) == application


def migrated_table(ddl: str, name: str) -> str:
    """The table's CREATE TABLE with the columns later migrations add folded in, after the
    columns it was created with (where ADD COLUMN puts them)."""
    created = statement_of(ddl, f"CREATE TABLE {name} ")
    added = [
        " ".join(column.split())
        for column in re.findall(rf"ALTER TABLE {name} ADD COLUMN ([^;]*);", ddl)
    ]
    if not added:
        return created
    columns_end = created.index(", CONSTRAINT ")
    return created[:columns_end] + "".join(f", {c}" for c in added) + created[columns_end:]


def test_migration_0004_adds_nullable_columns_with_encodings(redshift_ddl: str) -> None:
    begin = redshift_ddl.index("-- Running upgrade 0003 -> 0004")
    upgrade = redshift_ddl[begin : redshift_ddl.index("-- Running upgrade 0004 -> 0005")]
    assert "ALTER TABLE images ADD COLUMN thumbhash VARCHAR(64) ENCODE zstd;" in upgrade
    assert "ALTER TABLE ingest_events ADD COLUMN match VARCHAR(16) ENCODE bytedict;" in upgrade
    assert "ALTER TABLE ingest_events ADD COLUMN duplicate_of CHAR(36) ENCODE zstd;" in upgrade
    assert "NOT NULL" not in upgrade  # rows loaded before have no values for them


def test_other_dialects_get_no_redshift_options() -> None:
    for dialect in ("postgresql", "sqlite"):
        ddl = migrations.ddl(dialect)
        assert not re.search(r"DISTKEY|SORTKEY|DISTSTYLE|ENCODE", ddl)
        assert "CREATE INDEX ix_ingest_events_received" in ddl


def test_redshift_loads_stage_with_copy_from_a_manifest_of_gzip_json_facts() -> None:
    text = loader_sql.copy_sql(
        "s3://bucket/p/loads/01J.manifest.json", "arn:aws:iam::123456789012:role/imgpipe-copy"
    )
    assert text == (
        "COPY stage_facts FROM 's3://bucket/p/loads/01J.manifest.json' "
        "IAM_ROLE 'arn:aws:iam::123456789012:role/imgpipe-copy' "
        "MANIFEST FORMAT AS JSON 'auto' GZIP TIMEFORMAT 'auto' COMPUPDATE OFF STATUPDATE OFF"
    )
    assert loader_sql.copy_manifest(["s3://b/facts/a.ndjson.gz"]) == {
        "entries": [{"url": "s3://b/facts/a.ndjson.gz", "mandatory": True}]
    }
    with pytest.raises(ValueError):
        loader_sql.copy_sql("s3://b/x\\y", "role")
    assert "FROM 's3://b/it''s' " in loader_sql.copy_sql("s3://b/it's", "r")


def test_the_stage_has_every_column_of_every_fact_table_and_the_row_kind(
    redshift: sa.Dialect,
) -> None:
    text = " ".join(loader_sql.create_stage_sql(redshift).split())
    assert text.startswith("CREATE TEMPORARY TABLE stage_facts ( kind VARCHAR(16), ")
    assert "event_id VARCHAR(512)" in text and "object_key VARCHAR(512)" in text
    assert "first_seen_at TIMESTAMP WITH TIME ZONE" in text
    assert "NOT NULL" not in text  # every kind leaves the others' columns empty
    names = [c.name for c in staging_columns()]
    assert len(names) == len(set(names))
    assert loader_sql.drop_stage_sql(if_exists=True) == "DROP TABLE IF EXISTS stage_facts"


def test_redshift_inserts_only_new_keys_once_with_an_anti_join(redshift: sa.Dialect) -> None:
    events = literal(loader_sql.insert_new("event"), redshift)
    assert events.startswith("INSERT INTO ingest_events (event_id, image_id, customer_id")
    assert (
        "row_number() OVER (PARTITION BY stage_facts.event_id ORDER BY CASE WHEN "
        "(stage_facts.status = 'rejected') THEN 1 ELSE 0 END, stage_facts.recorded_at) AS rn"
    ) in events
    assert "FROM stage_facts WHERE stage_facts.kind = 'event'" in events
    assert events.endswith(
        "LEFT OUTER JOIN ingest_events ON ingest_events.event_id = ranked.event_id "
        "WHERE ranked.rn = 1 AND ingest_events.event_id IS NULL"
    )
    renditions = literal(loader_sql.insert_new("rendition"), redshift)
    assert (
        "LEFT OUTER JOIN renditions ON renditions.image_id = ranked.image_id "
        "AND renditions.name = ranked.name"
    ) in renditions
    for text in (events, renditions, literal(loader_sql.insert_new("image"), redshift)):
        assert "ON CONFLICT" not in text
        assert "RETURNING" not in text


def test_an_accepted_outcome_replaces_a_recorded_refusal_of_the_same_event(
    redshift: sa.Dialect,
) -> None:
    assert literal(loader_sql.supersede_refusals(), redshift) == (
        "DELETE FROM ingest_events WHERE ingest_events.status = 'rejected' "
        "AND ingest_events.event_id IN (SELECT stage_facts.event_id FROM stage_facts "
        "WHERE stage_facts.kind = 'event' AND stage_facts.status != 'rejected')"
    )


def test_loaders_take_turns_on_the_ledger_table() -> None:
    assert loader_sql.lock_sql("redshift") == "LOCK loaded_facts"
    assert loader_sql.lock_sql("postgresql") == "LOCK TABLE loaded_facts IN EXCLUSIVE MODE"
    assert loader_sql.lock_sql("sqlite") is None  # BEGIN IMMEDIATE


def test_staged_rows_go_in_one_insert_per_bound_value_limit() -> None:
    row = {c.name: None for c in staging_columns()}
    statement = MultiRowInsert(
        sa.Table("stage_facts", sa.MetaData(), *staging_columns()), [row] * 3
    )
    ((on_sqlite, values),) = statement.render(sqlite.dialect())
    assert on_sqlite.startswith("INSERT INTO stage_facts (kind, image_id, customer_id")
    assert on_sqlite.count("), (") == 2
    assert len(values) == 3 * len(staging_columns())
    # PostgreSQL takes each column as one array: a statement text independent of the rows.
    ((on_postgresql, arrays),) = statement.render(postgresql.psycopg.dialect())
    assert "SELECT * FROM unnest(%s::VARCHAR(16)[], %s::CHAR(36)[]" in on_postgresql
    assert "%s::TIMESTAMP WITH TIME ZONE[]" in on_postgresql
    assert len(arrays) == len(staging_columns())
    assert all(len(column) == 3 for column in arrays)
    for text in (on_sqlite, on_postgresql):
        assert "RETURNING" not in text


def test_huge_loads_are_split_by_bound_values_not_by_row(redshift: sa.Dialect) -> None:
    row = {c.name: None for c in images.columns}
    statement = MultiRowInsert(images, [row] * 5000)
    per_statement = 30_000 // len(images.columns)
    assert len(statement.render(redshift)) == -(-5000 // per_statement)
    assert len(statement.render(postgresql.psycopg.dialect())) == 1


def test_redshift_statistics_are_materialized_views_refreshed_after_each_load(
    redshift_ddl: str,
) -> None:
    for name in STATS_VIEWS:
        assert f"CREATE MATERIALIZED VIEW {name} AS" in redshift_ddl
        assert loader_sql.refresh_sql(name) == f"REFRESH MATERIALIZED VIEW {name}"
    for dialect in ("postgresql", "sqlite"):
        assert "MATERIALIZED" not in migrations.ddl(dialect)


def test_redshift_ddl_creates_the_loader_ledger(redshift_ddl: str) -> None:
    ledger = statement_of(redshift_ddl, "CREATE TABLE loaded_facts")
    assert ledger.endswith("DISTSTYLE EVEN SORTKEY (fact_key)")
    assert "fact_key VARCHAR(512) ENCODE raw NOT NULL" in ledger


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


def test_redshift_applies_erasures_with_delete_using_and_correlated_subqueries(
    redshift: sa.Dialect,
) -> None:
    statements = dict(loader_sql.apply_erasures("redshift"))
    images_sql = literal(statements["erased_images"], redshift)
    assert images_sql.startswith("DELETE FROM images USING erasures WHERE images.image_id IN")
    assert (
        "images.image_id = erasures.image_id AND images.first_event_id = erasures.first_event_id "
        "AND erasures.recorded_at >= images.first_seen_at"
    ) in images_sql
    renditions_sql = literal(statements["erased_renditions"], redshift)
    assert renditions_sql.startswith("DELETE FROM renditions WHERE renditions.image_id IN")
    assert "renditions.image_id NOT IN (SELECT images.image_id FROM images)" in renditions_sql
    events_sql = literal(statements["unlinked_events"], redshift)
    assert events_sql.startswith("UPDATE ingest_events SET image_id=NULL, duplicate_of=NULL")
    # Correlated with the row being changed, never with a second copy of its table.
    assert "FROM erasures WHERE erasures.image_id = ingest_events.image_id" in events_sql
    for text in (images_sql, renditions_sql, events_sql):
        assert "FROM erasures, " not in text and "RETURNING" not in text


def test_staged_images_of_an_erased_image_are_ranked_out_before_insert(
    redshift: sa.Dialect,
) -> None:
    text = literal(loader_sql.insert_new("image"), redshift)
    assert (
        "NOT (EXISTS (SELECT erasures.erasure_id FROM erasures WHERE erasures.image_id = "
        "stage_facts.image_id AND erasures.first_event_id = stage_facts.first_event_id "
        "AND erasures.recorded_at >= stage_facts.first_seen_at))"
    ) in text


def test_redshift_ddl_creates_the_erasures_table_on_every_node(redshift_ddl: str) -> None:
    created = statement_of(redshift_ddl, "CREATE TABLE erasures")
    assert created.endswith("DISTSTYLE ALL SORTKEY (recorded_at)")
    assert "image_id CHAR(36) ENCODE zstd NOT NULL" in created
