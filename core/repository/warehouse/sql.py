"""SQL the loader runs: multi-row inserts, the staging table, Redshift's COPY, and the inserts
that keep rows unique where Redshift enforces no key.

One path for every database: stage the facts (Redshift: COPY from S3; PostgreSQL and SQLite: a
multi-row INSERT of the parsed rows), then per table insert the rows whose key is neither
present nor repeated (the first by the table's order wins), with an anti-join, not ON CONFLICT,
since Redshift has none.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.sql import ColumnElement, Executable

from core.repository.warehouse.schema import (
    FACT_TABLES,
    STAGE_NAME,
    erasures,
    images,
    ingest_events,
    loaded_facts,
    renditions,
    staging_columns,
)

# The largest number of bound values in one statement: under SQLite's 32,766 and Redshift's
# 32,767 (PostgreSQL allows 65,535). Batches of thousands of rows need one statement per
# table, larger ones a few: never one per row.
MAX_PARAMS: Final = 30_000

T = TypeVar("T")
Rows = Sequence[Mapping[str, Any]]


def _chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    size = max(1, size)
    for start in range(0, len(items), size):
        yield items[start : start + size]


@dataclass(frozen=True, slots=True)
class MultiRowInsert:
    """One INSERT of many rows: INSERT INTO table (columns) VALUES (...), (...), ... [suffix];
    on PostgreSQL INSERT INTO table (columns) SELECT * FROM unnest(column arrays) [suffix].

    SQLAlchemy compiles a `.values([...])` of many rows afresh for every batch size, at some
    tens of microseconds per bound value (seconds for a batch of 1,000 events), and batches
    executemany into multi-row statements by itself only without ON CONFLICT. So the
    statement text is put together here, the values processed by the columns' own types.
    """

    table: sa.Table
    rows: Rows
    suffix: str = ""  # " ON CONFLICT DO NOTHING" on PostgreSQL and SQLite
    into: str | None = None  # another table of the same columns (Redshift's staging table)

    def render(self, dialect: Dialect) -> list[tuple[str, Sequence[Any] | Mapping[str, Any]]]:
        """(SQL, parameters) per statement, in the driver's paramstyle; one statement unless
        the rows hold more than MAX_PARAMS values."""
        columns = list(self.table.columns)
        preparer = dialect.identifier_preparer
        target = preparer.quote(self.into) if self.into else preparer.format_table(self.table)
        names = ", ".join(preparer.format_column(c) for c in columns)
        # Identifiers only, quoted by the dialect; every value is a bound parameter.
        head = f"INSERT INTO {target} ({names}) "
        processors = [c.type.dialect_impl(dialect).bind_processor(dialect) for c in columns]
        if dialect.name == "postgresql" and dialect.paramstyle in {"format", "pyformat"}:
            # One array per column: the same short text for any batch size, which the driver
            # parses once and the server prepares, where 16,000 placeholders cost both dearly.
            arrays = ", ".join(f"%s::{c.type.compile(dialect)}[]" for c in columns)
            arrays_of_values = tuple(
                [
                    process(row[column.name])
                    if process is not None and row[column.name] is not None
                    else row[column.name]
                    for row in self.rows
                ]
                for column, process in zip(columns, processors, strict=True)
            )
            sql = f"{head}SELECT * FROM unnest({arrays}){self.suffix}"  # noqa: S608
            return [(sql, arrays_of_values)]
        statements: list[tuple[str, Sequence[Any] | Mapping[str, Any]]] = []
        for chunk in _chunks(self.rows, MAX_PARAMS // len(columns)):
            values: list[Any] = []
            for row in chunk:
                for column, process in zip(columns, processors, strict=True):
                    value = row[column.name]
                    values.append(
                        process(value) if process is not None and value is not None else value
                    )
            marks, params = _placeholders(dialect.paramstyle, values)
            width = len(columns)
            groups = (
                "(" + ", ".join(marks[i : i + width]) + ")" for i in range(0, len(marks), width)
            )
            statements.append((head + "VALUES " + ", ".join(groups) + self.suffix, params))
        return statements


def _placeholders(
    paramstyle: str, values: list[Any]
) -> tuple[list[str], Sequence[Any] | Mapping[str, Any]]:
    if paramstyle == "qmark":
        return ["?"] * len(values), tuple(values)
    if paramstyle in {"format", "pyformat"}:
        return ["%s"] * len(values), tuple(values)
    if paramstyle == "numeric":
        return [f":{i}" for i in range(1, len(values) + 1)], tuple(values)
    if paramstyle == "numeric_dollar":
        return [f"${i}" for i in range(1, len(values) + 1)], tuple(values)
    names = [f"p{i}" for i in range(len(values))]
    return [f":{name}" for name in names], dict(zip(names, values, strict=True))


def stage() -> sa.TableClause:
    """The staging table as something to select from."""
    return sa.table(STAGE_NAME, *(sa.column(c.name, c.type) for c in staging_columns()))


def create_stage_sql(dialect: Dialect) -> str:
    """CREATE TEMPORARY TABLE stage_facts (...): every fact table's columns, all nullable."""
    from sqlalchemy.schema import CreateTable

    from core.repository.warehouse.schema import staging_table

    return str(CreateTable(staging_table()).compile(dialect=dialect)).strip()


def drop_stage_sql(*, if_exists: bool = False) -> str:
    return f"DROP TABLE {'IF EXISTS ' if if_exists else ''}{STAGE_NAME}"


def lock_sql(dialect_name: str) -> str | None:
    """What makes loaders take turns: one loads, the next waits and then finds the files
    loaded. SQLite's writers already take turns (BEGIN IMMEDIATE). EXCLUSIVE on PostgreSQL
    still lets readers see the ledger; Redshift's LOCK is its only table lock."""
    if dialect_name == "redshift":
        return f"LOCK {loaded_facts.name}"
    if dialect_name == "postgresql":
        return f"LOCK TABLE {loaded_facts.name} IN EXCLUSIVE MODE"
    return None


def _quoted(text: str) -> str:
    """A SQL string literal. COPY takes no bound parameters for its source or role."""
    if "\\" in text or "\x00" in text:
        raise ValueError(f"refusing {text!r} in a COPY statement")
    return "'" + text.replace("'", "''") + "'"


def copy_sql(manifest_url: str, iam_role: str) -> str:
    """Redshift's bulk path: every fact file the manifest names, gzip NDJSON, into the stage.
    JSON 'auto' maps each object's keys to the stage's columns (a key of another kind's table
    is simply absent: NULL). No compression analysis or statistics for a temporary table."""
    return (
        f"COPY {STAGE_NAME} FROM {_quoted(manifest_url)} IAM_ROLE {_quoted(iam_role)} "
        "MANIFEST FORMAT AS JSON 'auto' GZIP TIMEFORMAT 'auto' COMPUPDATE OFF STATUPDATE OFF"
    )


def copy_manifest(urls: Sequence[str]) -> dict[str, Any]:
    """The COPY manifest: `mandatory`, so a fact file gone since it was listed fails the load
    (which is then retried) rather than being recorded as loaded without its rows."""
    return {"entries": [{"url": url, "mandatory": True} for url in urls]}


# The order in which repeated keys are settled: the first row wins.
_FIRST: Final[dict[str, Any]] = {
    "image": lambda s: [s.c.first_seen_at, s.c.first_event_id],
    "rendition": lambda s: [s.c.object_key],
    # An accepted outcome supersedes a refusal of the same event (a dead letter replayed once
    # its cause was fixed, a direct upload completed before its bytes arrived); otherwise the
    # outcome recorded first stands.
    "event": lambda s: [sa.case((s.c.status == "rejected", 1), else_=0), s.c.recorded_at],
    "erasure": lambda s: [s.c.recorded_at],  # one row per (erasure, stored image) key
}


def supersede_refusals() -> Executable:
    """Delete recorded refusals of events the stage now has accepted outcomes for."""
    s = stage()
    accepted = (
        sa.select(s.c.event_id)
        .where(s.c.kind == "event")
        .where(s.c.status != "rejected")
        .scalar_subquery()
    )
    return (
        sa.delete(ingest_events)
        .where(ingest_events.c.status == "rejected")
        .where(ingest_events.c.event_id.in_(accepted))
    )


def insert_new(kind: str) -> Executable:
    """INSERT INTO <table> the staged rows of `kind` whose key the table lacks, one per key."""
    table = FACT_TABLES[kind]
    s = stage()
    keys = [s.c[column.name] for column in table.primary_key.columns]
    names = [column.name for column in table.columns]
    ranked = (
        sa.select(
            *(s.c[name] for name in names),
            sa.func.row_number().over(partition_by=keys, order_by=_FIRST[kind](s)).label("rn"),
        )
        .where(s.c.kind == kind)
        .where(*_not_erased(kind, s))
        .subquery("ranked")
    )
    match: ColumnElement[bool] = sa.and_(
        *(table.c[column.name] == ranked.c[column.name] for column in table.primary_key.columns)
    )
    first_column = table.primary_key.columns.values()[0].name
    fresh = (
        sa.select(*(ranked.c[name] for name in names))
        .select_from(ranked.outerjoin(table, match))
        .where(ranked.c.rn == 1)
        .where(table.c[first_column].is_(None))
    )
    return sa.insert(table).from_select(names, fresh)


# The counts apply() reports for erasures: rows removed or unlinked, not written.
ERASURE_COUNTS: Final = ("erased_images", "erased_renditions", "unlinked_events")


def apply_erasures(dialect_name: str) -> list[tuple[str, Executable]]:
    """The erasures applied to the rows this load touches (images named in the stage, by any
    row or as a duplicate's first): image rows an erasure met (the same id, stored by the same
    event, first seen up to the erasure) are deleted; then the renditions of erased ids whose
    image is no longer present; then events received up to an erasure of their image are
    unlinked (image id and duplicate link cleared; their statistics stay), except the event
    that stored the image now present. Plain DELETE and UPDATE with subqueries, which Redshift
    runs as PostgreSQL and SQLite do; bounded by the stage, not by the size of the tables."""
    s = stage()
    touched = sa.union(
        sa.select(s.c.image_id.label("image_id")).where(s.c.image_id.is_not(None)),
        sa.select(s.c.duplicate_of.label("image_id")).where(s.c.duplicate_of.is_not(None)),
    ).subquery("touched")
    touched_ids = sa.select(touched.c.image_id).scalar_subquery()
    erased_image = [
        images.c.image_id == erasures.c.image_id,
        images.c.first_event_id == erasures.c.first_event_id,
        erasures.c.recorded_at >= images.c.first_seen_at,
    ]
    delete_images = sa.delete(images).where(images.c.image_id.in_(touched_ids))
    if dialect_name == "sqlite":
        # Correlated with images, said so: SQLAlchemy would otherwise name images in the
        # subquery again, making it true of every row.
        met = sa.select(erasures.c.erasure_id).where(*erased_image).correlate_except(erasures)
        delete_images = delete_images.where(met.exists())
    else:
        # DELETE ... USING: sqlalchemy-redshift does not correlate a subquery of a DELETE at
        # all (it would erase every image the load touched).
        delete_images = delete_images.where(*erased_image)
    delete_renditions = sa.delete(renditions).where(
        renditions.c.image_id.in_(touched_ids),
        renditions.c.image_id.in_(sa.select(erasures.c.image_id).scalar_subquery()),
        renditions.c.image_id.not_in(sa.select(images.c.image_id).scalar_subquery()),
    )
    events = ingest_events.c

    def erased_before(image_id: ColumnElement[Any]) -> Any:
        return (
            sa.select(erasures.c.erasure_id)
            .where(erasures.c.image_id == image_id, erasures.c.recorded_at >= events.received_at)
            .correlate_except(erasures)
            .exists()
        )

    stored_by_it = (
        sa.select(images.c.image_id)
        .where(images.c.image_id == events.image_id, images.c.first_event_id == events.event_id)
        .correlate_except(images)
        .exists()
    )
    unlink = (
        sa.update(ingest_events)
        .where(
            sa.or_(
                sa.and_(
                    events.image_id.in_(touched_ids),
                    erased_before(events.image_id),
                    ~stored_by_it,
                ),
                sa.and_(events.duplicate_of.in_(touched_ids), erased_before(events.duplicate_of)),
            )
        )
        .values(image_id=None, duplicate_of=None)
    )
    return list(zip(ERASURE_COUNTS, (delete_images, delete_renditions, unlink), strict=True))


def _not_erased(kind: str, s: sa.TableClause) -> list[ColumnElement[bool]]:
    """Staged image rows that an erasure met are not inserted: ranked out first, so that the
    same bytes stored again since (by another event, or later) load as the new image."""
    if kind != "image":
        return []
    return [
        ~sa.exists(
            sa.select(erasures.c.erasure_id)
            .where(erasures.c.image_id == s.c.image_id)
            .where(erasures.c.first_event_id == s.c.first_event_id)
            .where(erasures.c.recorded_at >= s.c.first_seen_at)
        )
    ]


# Erasures first (the inserts after them consult them); then images before renditions before
# events: what a reader joins to is there first.
INSERT_ORDER: Final = ("erasure", "image", "rendition", "event")


def refresh_sql(view: str) -> str:
    """Redshift's statistics are materialized views, brought up to date after each load."""
    return f"REFRESH MATERIALIZED VIEW {view}"
