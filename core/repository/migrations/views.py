"""The statistics views: one Python definition each, compiled per dialect by the migrations.

Every view carries `day` (UTC date of `received_at`), `customer_id` and `source`, so that
scoping to a customer, a source or a date range is a WHERE on the view. The API, the
dashboard, `imgpipe stats` and the QuickSight data set all read these views, so the numbers
they show cannot disagree.

The forms differ by dialect only where the dialect forces it:
- the UTC day: `CAST(ts AT TIME ZONE 'UTC' AS DATE)` on PostgreSQL/Redshift, `date(ts)` on
  SQLite (which stores UTC text);
- percentiles: `PERCENTILE_CONT(p) WITHIN GROUP (ORDER BY ms)` on PostgreSQL/Redshift (an
  ordinary aggregate under GROUP BY on both); SQLite has no percentile aggregate, so there the
  same linear interpolation is computed from row numbers over a window.

`stats_latency_daily` cannot be summed over customers, so it also holds one row per day and
source with `customer_id` NULL: the percentiles of all customers together.

Changing a view means a new migration that drops and recreates it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql import ColumnElement, FromClause, Select
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.sql.selectable import CompoundSelect

STATS_DAILY = "stats_daily"
STATS_LATENCY_DAILY = "stats_latency_daily"
STATS_REJECTIONS_DAILY = "stats_rejections_daily"
STATS_FORMATS_DAILY = "stats_formats_daily"
STATS_CUSTOMERS_DAILY = "stats_customers_daily"

# Stable names: QuickSight data sets and the stats API depend on them.
STATS_VIEWS: tuple[str, ...] = (
    STATS_DAILY,
    STATS_LATENCY_DAILY,
    STATS_REJECTIONS_DAILY,
    STATS_FORMATS_DAILY,
    STATS_CUSTOMERS_DAILY,
)

# The fact table as the views see it: a lightweight clause, so that the views stay defined
# against table and column names (what a database keeps), not against application classes.
events = sa.table(
    "ingest_events",
    sa.column("event_id", sa.String),
    sa.column("image_id", sa.String),
    sa.column("customer_id", sa.String),
    sa.column("source", sa.String),
    sa.column("status", sa.String),
    sa.column("reason", sa.String),
    sa.column("format", sa.String),
    sa.column("bytes_in", sa.BigInteger),
    sa.column("bytes_out", sa.BigInteger),
    sa.column("processing_ms", sa.Float),
    sa.column("received_at", sa.DateTime(timezone=True)),
)

ViewSelect = Select[Any] | CompoundSelect[Any]


class utc_day(FunctionElement[Any]):
    """The UTC calendar date of a timestamp."""

    type = sa.Date()
    name = "utc_day"
    inherit_cache = True


@compiles(utc_day)
def _utc_day(element: utc_day, compiler: SQLCompiler, **kw: Any) -> str:
    (arg,) = element.clauses
    return f"CAST({compiler.process(arg, **kw)} AT TIME ZONE 'UTC' AS DATE)"


@compiles(utc_day, "sqlite")
def _utc_day_sqlite(element: utc_day, compiler: SQLCompiler, **kw: Any) -> str:
    (arg,) = element.clauses
    return f"date({compiler.process(arg, **kw)})"


def _count_if(condition: ColumnElement[bool]) -> ColumnElement[Any]:
    return sa.func.sum(sa.case((condition, 1), else_=0))


def _ratio(numerator: ColumnElement[Any], denominator: ColumnElement[Any]) -> ColumnElement[Any]:
    """numerator / denominator as a float (integer division truncates on PostgreSQL and
    Redshift), NULL when the denominator is 0."""
    return sa.cast(numerator, sa.Float).op("/", return_type=sa.Float)(
        sa.cast(sa.func.nullif(denominator, 0), sa.Float)
    )


def _day() -> ColumnElement[Any]:
    return utc_day(events.c.received_at)


def _per_day(
    *keys: ColumnElement[Any], measures: list[ColumnElement[Any]], where: Any = None
) -> Select[Any]:
    """`measures` per day, customer, source and `keys`: the cut every stats view starts from."""
    cut = [events.c.customer_id, events.c.source, *keys]
    select = sa.select(_day().label("day"), *cut, *measures)
    if where is not None:
        select = select.where(where)
    return select.group_by(_day(), *cut)


def daily(dialect: str) -> ViewSelect:
    """Events, distinct images, bytes in and out, and their ratio, per day, source and status."""
    e = events
    return _per_day(
        e.c.status,
        measures=[
            sa.func.count().label("events"),
            sa.func.count(sa.distinct(e.c.image_id)).label("images"),
            sa.func.sum(e.c.bytes_in).label("bytes_in"),
            sa.func.sum(e.c.bytes_out).label("bytes_out"),
            _ratio(sa.func.sum(e.c.bytes_out), sa.func.sum(e.c.bytes_in)).label("output_ratio"),
            sa.func.sum(e.c.processing_ms).label("processing_ms_total"),
        ],
    )


def rejections(dialect: str) -> ViewSelect:
    """Refused events per day, source and reason code."""
    e = events
    return _per_day(
        e.c.reason,
        measures=[sa.func.count().label("events"), sa.func.sum(e.c.bytes_in).label("bytes_in")],
        where=e.c.status == "rejected",
    )


def formats(dialect: str) -> ViewSelect:
    """Accepted events (processed and duplicate) per source image format."""
    e = events
    return _per_day(
        e.c.format,
        measures=[
            sa.func.count().label("events"),
            _count_if(e.c.status == "processed").label("new_images"),
            sa.func.sum(e.c.bytes_in).label("bytes_in"),
            sa.func.sum(e.c.bytes_out).label("bytes_out"),
        ],
        where=e.c.status != "rejected",
    )


def customers(dialect: str) -> ViewSelect:
    """Volume per customer: what "top customers" ranks, one row per day, customer and source."""
    e = events
    return _per_day(
        measures=[
            sa.func.count().label("events"),
            _count_if(e.c.status == "processed").label("processed"),
            _count_if(e.c.status == "duplicate").label("duplicates"),
            _count_if(e.c.status == "rejected").label("rejected"),
            sa.func.count(sa.distinct(e.c.image_id)).label("images"),
            sa.func.sum(e.c.bytes_in).label("bytes_in"),
            sa.func.sum(e.c.bytes_out).label("bytes_out"),
        ],
    )


def latency(dialect: str) -> ViewSelect:
    """Processing time of processed events (the ones that did the work): p50, p95, max.

    One row per day, source and customer, and one per day and source for all customers
    (customer_id NULL), since percentiles cannot be combined after the fact.
    """
    return sa.union_all(
        _latency_rows(dialect, per_customer=True), _latency_rows(dialect, per_customer=False)
    )


def _latency_rows(dialect: str, *, per_customer: bool) -> Select[Any]:
    e = events
    work = (
        sa.select(
            _day().label("day"),
            e.c.customer_id,
            e.c.source,
            e.c.processing_ms,
        )
        .where(e.c.status == "processed")
        .subquery("work")
    )
    keys: list[ColumnElement[Any]] = [work.c.day, work.c.source]
    if per_customer:
        keys.insert(1, work.c.customer_id)
    customer = work.c.customer_id if per_customer else sa.cast(sa.null(), sa.String(128))

    rows: FromClause = work
    percentile: Callable[[float], ColumnElement[Any]]
    if dialect == "sqlite":
        rows = sa.select(
            work,
            sa.func.row_number().over(partition_by=keys, order_by=work.c.processing_ms).label("rn"),
            sa.func.count().over(partition_by=keys).label("n"),
        ).subquery("ranked")

        def percentile(fraction: float) -> ColumnElement[Any]:
            return _interpolated_percentile(rows, fraction)
    else:

        def percentile(fraction: float) -> ColumnElement[Any]:
            return sa.func.percentile_cont(fraction).within_group(work.c.processing_ms)

    cols = rows.c
    group = [cols.day, cols.source] + ([cols.customer_id] if per_customer else [])
    return sa.select(
        cols.day,
        (cols.customer_id if per_customer else customer).label("customer_id"),
        cols.source,
        sa.func.count().label("events"),
        percentile(0.5).label("p50_ms"),
        percentile(0.95).label("p95_ms"),
        sa.func.max(cols.processing_ms).label("max_ms"),
    ).group_by(*group)


def _interpolated_percentile(ranked: FromClause, fraction: float) -> ColumnElement[Any]:
    """PERCENTILE_CONT from row numbers, in the same arithmetic as PostgreSQL's:
    position p*(n-1) counted from 0; the result is v[lo] + (v[lo+1] - v[lo]) * (position - lo).
    """
    c = ranked.c
    position = sa.literal(fraction, sa.Float) * (c.n - 1)
    lower = sa.cast(position, sa.Integer)  # positions are >= 0: truncation is floor
    low_value = sa.func.max(sa.case((c.rn == lower + 1, c.processing_ms)))
    high_value = sa.func.max(sa.case((c.rn == lower + 2, c.processing_ms)))
    return low_value + (sa.func.coalesce(high_value, low_value) - low_value) * sa.func.max(
        position - lower
    )


VIEW_BUILDERS: dict[str, Callable[[str], ViewSelect]] = {
    STATS_DAILY: daily,
    STATS_LATENCY_DAILY: latency,
    STATS_REJECTIONS_DAILY: rejections,
    STATS_FORMATS_DAILY: formats,
    STATS_CUSTOMERS_DAILY: customers,
}


def view_sql(name: str, dialect: sa.Dialect) -> str:
    """The SELECT of a view, compiled for `dialect` with every value inline."""
    statement = VIEW_BUILDERS[name](dialect.name)
    return str(statement.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))


def create_view_sql(name: str, dialect: sa.Dialect) -> str:
    return f"CREATE VIEW {name} AS\n{view_sql(name, dialect)}"


def drop_view_sql(name: str) -> str:
    return f"DROP VIEW {name}"


def view_table(name: str) -> sa.TableClause:
    """The view as something to select from; its columns are the definition's columns."""
    statement = VIEW_BUILDERS[name]("postgresql")
    columns = [sa.column(c.name, c.type) for c in statement.selected_columns]
    return sa.table(name, *columns)


def create_materialized_view_sql(name: str, dialect: sa.Dialect) -> str:
    return f"CREATE MATERIALIZED VIEW {name} AS\n{view_sql(name, dialect)}"


def drop_materialized_view_sql(name: str) -> str:
    return f"DROP MATERIALIZED VIEW {name}"
