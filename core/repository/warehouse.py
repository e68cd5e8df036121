"""The warehouse: tables, the one batch writer, image listing and statistics, on Redshift,
PostgreSQL or SQLite through SQLAlchemy Core.

Redshift enforces no primary or unique key, so idempotency is this module's job: every write
is a batch, in one transaction, with one multi-row statement per table;
`INSERT ... ON CONFLICT DO NOTHING` on PostgreSQL and SQLite, and on Redshift a temporary
staging table from which rows already present are deleted before the rest is inserted, with
the tables locked for the transaction so that concurrent writers take turns.

Statuses are decided here, at the moment of writing, so that they stay true after a crash
between storage and warehouse: an image's row records the event that first brought it
(`first_event_id`), and an accepted event is `processed` exactly when it is that event.
A retried event (same `event_id`) is not written again and answers with the status recorded
the first time.

Timestamps are stored as UTC and come back timezone-aware on every database. No RETURNING
(Redshift has none) and no server defaults: every value is computed here.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal, TypeVar, cast

import sqlalchemy as sa
from sqlalchemy import event as sa_event
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Connection, Dialect, Engine, make_url
from sqlalchemy.sql import ColumnElement, Executable
from sqlalchemy.types import TypeDecorator

from core.errors import ErrorCode, PermanentError, TransientError
from core.models import (
    MAX_CUSTOMER_ID_BYTES,
    MAX_EVENT_ID_BYTES,
    IngestResult,
    RenditionRecord,
    Source,
    Status,
    utcnow,
)
from core.repository.migrations.views import (
    STATS_CUSTOMERS_DAILY,
    STATS_DAILY,
    STATS_FORMATS_DAILY,
    STATS_LATENCY_DAILY,
    STATS_REJECTIONS_DAILY,
    STATS_VIEWS,
    view_table,
)

if TYPE_CHECKING:
    from core.config import Settings

__all__ = [
    "STATS_VIEWS",
    "CustomerVolume",
    "DailyLatency",
    "DailyRejections",
    "DailyVolume",
    "EventRecord",
    "FormatShare",
    "ImageRecord",
    "MultiRowInsert",
    "Stats",
    "Totals",
    "Warehouse",
    "batch_statements",
    "create_warehouse_engine",
    "images",
    "ingest_events",
    "metadata",
    "open_warehouse",
    "renditions",
    "staging_lock",
    "write_strategy",
]

# The largest number of bound values in one statement: under SQLite's 32,766 and Redshift's
# 32,767 (PostgreSQL allows 65,535). Batches of thousands of events need one statement per
# table, larger ones a few: never one per row.
MAX_PARAMS: Final = 30_000

# Connection execution option that makes SQLite take the write lock at BEGIN (IMMEDIATE):
# a writer that first read and then writes could otherwise fail at once on a busy database.
WRITE_OPTION: Final = "imgpipe_write"


class UtcDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC; naive values are taken as UTC, results are always aware."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(UTC)
        # SQLite keeps text with no zone; UTC throughout keeps its ordering and date() right.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


# Redshift column encodings. Sort key columns stay RAW (compressing them hurts range scans);
# ids and free text ZSTD; short codes BYTEDICT; numbers and times AZ64.
# The layout lives in `info`, not in redshift_* keywords: those would load the Redshift dialect
# (and Alembic with it) at import time on every database; redshift_tables() applies it.
RAW: Final[dict[str, Any]] = {"info": {"redshift_encode": "raw"}}
ZSTD: Final[dict[str, Any]] = {"info": {"redshift_encode": "zstd"}}
DICT: Final[dict[str, Any]] = {"info": {"redshift_encode": "bytedict"}}
AZ64: Final[dict[str, Any]] = {"info": {"redshift_encode": "az64"}}

metadata = sa.MetaData()

images = sa.Table(
    "images",
    metadata,
    sa.Column("image_id", sa.CHAR(36), nullable=False, **ZSTD),
    sa.Column("customer_id", sa.String(MAX_CUSTOMER_ID_BYTES), nullable=False, **ZSTD),
    sa.Column("sha256", sa.CHAR(64), nullable=False, **ZSTD),
    sa.Column("phash", sa.CHAR(16), nullable=False, **ZSTD),
    sa.Column("format", sa.String(16), nullable=False, **DICT),
    sa.Column("mode", sa.String(16), nullable=False, **DICT),
    sa.Column("width", sa.Integer, nullable=False, **AZ64),
    sa.Column("height", sa.Integer, nullable=False, **AZ64),
    sa.Column("frames", sa.Integer, nullable=False, **AZ64),
    sa.Column("bytes_in", sa.BigInteger, nullable=False, **AZ64),
    sa.Column("has_alpha", sa.Boolean, nullable=False, **RAW),
    sa.Column("camera_make", sa.String(128), nullable=True, **ZSTD),
    sa.Column("camera_model", sa.String(128), nullable=True, **ZSTD),
    sa.Column("taken_at", UtcDateTime, nullable=True, **AZ64),
    sa.Column("has_gps", sa.Boolean, nullable=False, **RAW),
    sa.Column("first_seen_at", UtcDateTime, nullable=False, **RAW),
    # The event that first recorded the image: the one whose status is `processed`.
    sa.Column("first_event_id", sa.String(MAX_EVENT_ID_BYTES), nullable=False, **ZSTD),
    sa.PrimaryKeyConstraint("image_id", name="pk_images"),
    sa.Index("ix_images_customer_seen", "customer_id", "first_seen_at", "image_id"),
    # Images and renditions share a distribution key, so joins between them stay on a slice.
    info={"redshift": {"diststyle": "KEY", "distkey": "image_id", "sortkey": "first_seen_at"}},
)

renditions = sa.Table(
    "renditions",
    metadata,
    sa.Column("image_id", sa.CHAR(36), nullable=False, **RAW),
    sa.Column("name", sa.String(32), nullable=False, **DICT),
    sa.Column("width", sa.Integer, nullable=False, **AZ64),
    sa.Column("height", sa.Integer, nullable=False, **AZ64),
    sa.Column("bytes", sa.BigInteger, nullable=False, **AZ64),
    sa.Column("content_type", sa.String(64), nullable=False, **DICT),
    sa.Column("object_key", sa.String(512), nullable=False, **ZSTD),
    sa.PrimaryKeyConstraint("image_id", "name", name="pk_renditions"),
    info={"redshift": {"diststyle": "KEY", "distkey": "image_id", "sortkey": "image_id"}},
)

ingest_events = sa.Table(
    "ingest_events",
    metadata,
    sa.Column("event_id", sa.String(MAX_EVENT_ID_BYTES), nullable=False, **ZSTD),
    sa.Column("image_id", sa.CHAR(36), nullable=True, **ZSTD),
    sa.Column("customer_id", sa.String(MAX_CUSTOMER_ID_BYTES), nullable=False, **ZSTD),
    sa.Column("source", sa.String(16), nullable=False, **DICT),
    sa.Column("status", sa.String(16), nullable=False, **DICT),
    sa.Column("reason", sa.String(64), nullable=True, **DICT),
    # The source image's format, kept on the fact so the views need no join.
    sa.Column("format", sa.String(16), nullable=True, **DICT),
    sa.Column("bytes_in", sa.BigInteger, nullable=False, **AZ64),
    sa.Column("bytes_out", sa.BigInteger, nullable=False, **AZ64),
    sa.Column("processing_ms", sa.Float, nullable=False, **ZSTD),
    sa.Column("received_at", UtcDateTime, nullable=False, **RAW),
    sa.Column("recorded_at", UtcDateTime, nullable=False, **AZ64),
    sa.PrimaryKeyConstraint("event_id", name="pk_ingest_events"),
    sa.Index("ix_ingest_events_received", "received_at"),
    sa.Index("ix_ingest_events_customer_received", "customer_id", "received_at"),
    # EVEN, not KEY(image_id): refused events have no image and would pile onto one slice;
    # the views read this table alone (the format is denormalised onto it).
    info={"redshift": {"diststyle": "EVEN", "sortkey": "received_at"}},
)


def redshift_tables() -> sa.MetaData:
    """The tables as Redshift lays them out: distribution, sort keys and column encodings."""
    target = sa.MetaData()
    for table in metadata.sorted_tables:
        copy = table.to_metadata(target)
        for option, value in table.info["redshift"].items():
            copy.dialect_kwargs[f"redshift_{option}"] = value
        for column in copy.columns:
            column.dialect_kwargs["redshift_encode"] = column.info["redshift_encode"]
    return target


WriteStrategy = Literal["on_conflict", "staging"]


def without_returning(dialect: Dialect) -> Dialect:
    """Make a Redshift dialect never emit RETURNING (it inherits PostgreSQL's, which Redshift
    refuses, e.g. in Alembic's INSERT INTO alembic_version)."""
    if dialect.name == "redshift":
        dialect.insert_returning = False
        dialect.update_returning = False
        dialect.delete_returning = False
        dialect.insert_executemany_returning = False
    return dialect


def write_strategy(dialect_name: str) -> WriteStrategy:
    """How a database gets idempotent batch inserts: Redshift has no ON CONFLICT."""
    return "staging" if dialect_name == "redshift" else "on_conflict"


# ---------------------------------------------------------------------------------------------
# Errors


_TRANSIENT_SQLSTATE_CLASSES: Final = {"08", "53", "57", "58"}  # connection, resources, operator
_TRANSIENT_SQLSTATES: Final = {"40001", "40P01", "40003", "55P03", "55006"}
# SQLite primary result codes a retry can cure: BUSY, LOCKED, IOERR, FULL, CANTOPEN, PROTOCOL.
_TRANSIENT_SQLITE_CODES: Final = {5, 6, 10, 13, 14, 15}


def _sqlstate(orig: BaseException) -> str | None:
    for attribute in ("sqlstate", "pgcode"):  # psycopg 3, psycopg2
        value = getattr(orig, attribute, None)
        if isinstance(value, str):
            return value
    args = getattr(orig, "args", ())
    if args and isinstance(args[0], dict):  # redshift_connector: the server's error fields
        code = args[0].get("C")
        return code if isinstance(code, str) else None
    return None


def is_transient(exc: BaseException) -> bool:
    """Whether a database error is a fault a retry may cure, rather than a bug or bad SQL."""
    if isinstance(exc, sa_exc.TimeoutError | sa_exc.DisconnectionError):
        return True
    if not isinstance(exc, sa_exc.DBAPIError):
        return False
    if exc.connection_invalidated:
        return True
    orig = exc.orig
    if orig is None:
        return isinstance(exc, sa_exc.OperationalError)
    sqlite_code = getattr(orig, "sqlite_errorcode", None)
    if isinstance(sqlite_code, int):
        return sqlite_code & 0xFF in _TRANSIENT_SQLITE_CODES
    state = _sqlstate(orig)
    if state:
        if "serializable isolation violation" in str(orig).lower():
            return True  # Redshift reports it as XX000 (error 1023)
        return state[:2] in _TRANSIENT_SQLSTATE_CLASSES or state in _TRANSIENT_SQLSTATES
    # No server answer at all: refused, reset, timed out, closed.
    return isinstance(exc, sa_exc.OperationalError | sa_exc.InterfaceError)


@contextlib.contextmanager
def translate_errors(action: str) -> Iterator[None]:
    """Faults become TransientError; programming errors propagate unchanged."""
    try:
        yield
    except (sa_exc.DBAPIError, sa_exc.TimeoutError, sa_exc.DisconnectionError) as exc:
        if not is_transient(exc):
            raise
        orig = getattr(exc, "orig", None) or exc
        summary = str(orig).strip().splitlines()[0] if str(orig).strip() else ""
        raise TransientError(
            f"warehouse unavailable while {action}: {type(orig).__name__}: {summary}"[:300],
            retry_after=2.0,
        ) from exc


# ---------------------------------------------------------------------------------------------
# Statements

T = TypeVar("T")


def _chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    size = max(1, size)
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _stage(table: sa.Table) -> sa.TableClause:
    return sa.table(f"stage_{table.name}", *(sa.column(c.name, c.type) for c in table.columns))


Rows = Sequence[Mapping[str, Any]]


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


Step = Executable | MultiRowInsert


def staging_lock() -> Executable:
    """Taken first in a staging write. Redshift enforces no key, so two writers staging one
    image at once would both insert it; Redshift's serializable isolation fails one of any
    two concurrent batches instead (error 1023), and the PostgreSQL stand-in's key refuses
    one. With the lock, writers take turns. Every table is locked in one statement, in one
    order, so that writers cannot deadlock; readers wait for a batch's commit at most."""
    names = ", ".join(table.name for table in (images, renditions, ingest_events))
    return sa.text(f"LOCK TABLE {names}")


def batch_statements(strategy: WriteStrategy, table: sa.Table, rows: Rows) -> list[Step]:
    """The statements that insert `rows` into `table`, skipping rows whose key is present.

    `on_conflict` (PostgreSQL, SQLite): one multi-row INSERT ... ON CONFLICT DO NOTHING.
    `staging` (Redshift): a temporary table LIKE the target, one multi-row INSERT into it,
    DELETE of the rows whose key the target already has, INSERT ... SELECT of the rest, DROP.
    The caller runs them in one transaction, after `staging_lock()`, so that a concurrent
    writer of the same keys waits for the commit rather than adding a second copy.
    """
    if not rows:
        return []
    if strategy == "on_conflict":
        return [MultiRowInsert(table, rows, suffix=" ON CONFLICT DO NOTHING")]
    stage = _stage(table)
    keys = list(table.primary_key.columns)
    return [
        sa.text(f"CREATE TEMPORARY TABLE {stage.name} (LIKE {table.name})"),
        MultiRowInsert(table, rows, into=stage.name),
        sa.delete(stage).where(sa.and_(*(stage.c[key.name] == key for key in keys))),
        sa.insert(table).from_select([c.name for c in table.columns], sa.select(*stage.c)),
        sa.text(f"DROP TABLE {stage.name}"),
    ]


def _fit(text: str | None, limit: int) -> str | None:
    """Cut text to at most `limit` UTF-8 bytes (Redshift counts VARCHAR lengths in bytes)."""
    if text is None:
        return None
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    return data[:limit].decode("utf-8", errors="ignore")


def _image_row(result: IngestResult) -> dict[str, Any]:
    manifest = result.manifest
    assert manifest is not None
    meta = manifest.metadata
    return {
        "image_id": str(manifest.image_id),
        "customer_id": manifest.customer_id,
        "sha256": meta.sha256,
        "phash": meta.phash,
        "format": meta.format,
        "mode": meta.mode,
        "width": meta.width,
        "height": meta.height,
        "frames": meta.frames,
        "bytes_in": meta.bytes_in,
        "has_alpha": meta.has_alpha,
        "camera_make": _fit(meta.camera_make, 128),
        "camera_model": _fit(meta.camera_model, 128),
        "taken_at": meta.taken_at,
        "has_gps": meta.has_gps,
        "first_seen_at": result.received_at,
        "first_event_id": result.event_id,
    }


def _rendition_rows(result: IngestResult) -> list[dict[str, Any]]:
    manifest = result.manifest
    assert manifest is not None
    return [
        {
            "image_id": str(manifest.image_id),
            "name": r.name,
            "width": r.width,
            "height": r.height,
            "bytes": r.bytes,
            "content_type": r.content_type,
            "object_key": r.key,
        }
        for r in manifest.renditions
    ]


def _event_row(result: IngestResult, recorded_at: datetime) -> dict[str, Any]:
    manifest = result.manifest
    return {
        "event_id": result.event_id,
        "image_id": str(manifest.image_id) if manifest else None,
        "customer_id": result.customer_id,
        "source": result.source,
        "status": result.status,
        "reason": str(result.error_code) if result.error_code else None,
        "format": manifest.metadata.format if manifest else None,
        "bytes_in": result.bytes_in,
        "bytes_out": result.bytes_out,
        "processing_ms": float(result.processing_ms),
        "received_at": result.received_at,
        "recorded_at": recorded_at,
    }


@dataclass(frozen=True, slots=True)
class _Lookup:
    """What the database knew while the batch was written."""

    first_event: dict[str, str]  # image_id -> the event that first recorded it
    recorded: dict[str, tuple[str, str | None]]  # event_id -> (status, reason) already stored


def _among(column: sa.Column[Any], keys: list[str], dialect_name: str) -> ColumnElement[bool]:
    if dialect_name == "postgresql":
        # One array parameter: a short statement text whatever the batch size.
        return column == sa.any_(sa.bindparam(None, keys, type_=ARRAY(sa.String)))
    return column.in_(keys)


def _lookup_statements(
    image_ids: Sequence[str], event_ids: Sequence[str], dialect_name: str
) -> list[Executable]:
    """One UNION ALL of both look-ups per statement; more than one only for huge batches."""
    keyed = [("i", key) for key in image_ids] + [("e", key) for key in event_ids]
    statements: list[Executable] = []
    size = len(keyed) if dialect_name == "postgresql" else MAX_PARAMS
    for chunk in _chunks(keyed, size):
        wanted_images = [key for kind, key in chunk if kind == "i"]
        wanted_events = [key for kind, key in chunk if kind == "e"]
        parts = []
        if wanted_images:
            parts.append(
                sa.select(
                    sa.literal_column("'i'", sa.String).label("kind"),
                    sa.cast(images.c.image_id, sa.String(512)).label("key"),
                    images.c.first_event_id.label("value"),
                    sa.cast(sa.null(), sa.String(64)).label("reason"),
                ).where(_among(images.c.image_id, wanted_images, dialect_name))
            )
        if wanted_events:
            parts.append(
                sa.select(
                    sa.literal_column("'e'", sa.String).label("kind"),
                    ingest_events.c.event_id.label("key"),
                    ingest_events.c.status.label("value"),
                    ingest_events.c.reason.label("reason"),
                ).where(_among(ingest_events.c.event_id, wanted_events, dialect_name))
            )
        statements.append(parts[0] if len(parts) == 1 else sa.union_all(*parts))
    return statements


def _error_code(reason: str | None) -> ErrorCode:
    try:
        return ErrorCode(reason or "")
    except ValueError:
        return ErrorCode.INVALID_REQUEST


def _as_recorded(result: IngestResult, status: str, reason: str | None) -> IngestResult:
    """The answer given the first time this event was recorded."""
    if status == "rejected":
        if result.manifest is None:
            return replace(result, status="rejected")
        return replace(
            result,
            status="rejected",
            manifest=None,
            error_code=_error_code(reason),
            error_detail=result.error_detail or "refused when this event was first received",
        )
    if result.manifest is None:
        # Recorded as accepted, refused now (limits changed?): the row stands; nothing more
        # truthful can be said about this attempt than its own refusal.
        return result
    return replace(result, status=cast(Status, status))


def decide_statuses(results: Sequence[IngestResult], lookup: _Lookup) -> list[IngestResult]:
    """Relabel results from what the warehouse holds: an accepted event is `processed` when it
    is the event that first recorded its image, else `duplicate`; refused stays `rejected`; an
    event recorded before (a retry) keeps its recorded status."""
    decided: dict[str, IngestResult] = {}
    out = []
    for result in results:
        first = decided.get(result.event_id)
        if first is not None:  # the same event twice in one batch: one answer
            out.append(_as_recorded(result, first.status, first.error_code))
            continue
        recorded = lookup.recorded.get(result.event_id)
        if recorded is not None:
            answer = _as_recorded(result, *recorded)
        elif result.manifest is None:
            answer = result if result.status == "rejected" else replace(result, status="rejected")
        else:
            owner = lookup.first_event.get(str(result.manifest.image_id))
            answer = replace(
                result, status="processed" if owner == result.event_id else "duplicate"
            )
        decided[result.event_id] = answer
        out.append(answer)
    return out


# ---------------------------------------------------------------------------------------------
# What the warehouse returns


@dataclass(frozen=True, slots=True)
class ImageRecord:
    """One `images` row with its renditions."""

    image_id: str
    customer_id: str
    sha256: str
    phash: str
    format: str
    mode: str
    width: int
    height: int
    frames: int
    bytes_in: int
    has_alpha: bool
    camera_make: str | None
    camera_model: str | None
    taken_at: datetime | None
    has_gps: bool
    first_seen_at: datetime
    first_event_id: str
    renditions: tuple[RenditionRecord, ...] = ()


@dataclass(frozen=True, slots=True)
class EventRecord:
    """One `ingest_events` row."""

    event_id: str
    image_id: str | None
    customer_id: str
    source: Source
    status: Status
    reason: str | None
    format: str | None
    bytes_in: int
    bytes_out: int
    processing_ms: float
    received_at: datetime
    recorded_at: datetime


@dataclass(frozen=True, slots=True)
class DailyVolume:
    """stats_daily summed over customers: one day, source and status."""

    day: date
    source: str
    status: str
    events: int
    images: int  # distinct images that day (images of two customers never coincide)
    bytes_in: int
    bytes_out: int
    processing_ms_total: float


@dataclass(frozen=True, slots=True)
class DailyLatency:
    """Processing time of processed events, one day and source."""

    day: date
    source: str
    events: int
    p50_ms: float
    p95_ms: float
    max_ms: float


@dataclass(frozen=True, slots=True)
class DailyRejections:
    day: date
    source: str
    reason: str
    events: int


@dataclass(frozen=True, slots=True)
class FormatShare:
    """Accepted events of one source format over the range."""

    format: str
    events: int
    new_images: int
    bytes_in: int
    bytes_out: int


@dataclass(frozen=True, slots=True)
class CustomerVolume:
    customer_id: str
    events: int
    processed: int
    duplicates: int
    rejected: int
    bytes_in: int
    bytes_out: int


@dataclass(frozen=True, slots=True)
class Totals:
    """The range in numbers. Latency percentiles cannot be summed over days: see `latency`."""

    events: int = 0
    processed: int = 0  # = new images in the range
    duplicates: int = 0
    rejected: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    output_ratio: float | None = None  # bytes_out / bytes_in of processed events
    mean_processing_ms: float | None = None  # over processed events
    rejections_by_reason: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Stats:
    """The key statistics for a filter, read from the stats views (what QuickSight reads)."""

    since: date | None
    until: date | None
    source: str | None
    customer_id: str | None
    totals: Totals
    daily: tuple[DailyVolume, ...]
    latency: tuple[DailyLatency, ...]
    rejections: tuple[DailyRejections, ...]
    formats: tuple[FormatShare, ...]
    customers: tuple[CustomerVolume, ...]

    @property
    def empty(self) -> bool:
        return self.totals.events == 0

    def to_json(self) -> dict[str, Any]:
        """Plain JSON types: dates as ISO strings."""

        def plain(value: Any) -> Any:
            if isinstance(value, date):
                return value.isoformat()
            if isinstance(value, dict):
                return {k: plain(v) for k, v in value.items()}
            if isinstance(value, list | tuple):
                return [plain(v) for v in value]
            return value

        return cast(dict[str, Any], plain(asdict(self)))


def _int(value: Any) -> int:
    return int(value or 0)


def _float(value: Any) -> float:
    return float(value or 0.0)


def _day_of(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value))


# ---------------------------------------------------------------------------------------------
# Cursors


def encode_cursor(first_seen_at: datetime, image_id: str) -> str:
    raw = json.dumps([first_seen_at.astimezone(UTC).isoformat(), image_id], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        seen, image_id = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
        when = datetime.fromisoformat(seen)
        if when.tzinfo is None or not isinstance(image_id, str) or len(image_id) != 36:
            raise ValueError("bad cursor fields")
    except (ValueError, TypeError, binascii.Error, UnicodeError) as exc:
        raise PermanentError(
            ErrorCode.INVALID_REQUEST, "cursor is not one this API issued"
        ) from exc
    return when, image_id


# ---------------------------------------------------------------------------------------------
# The warehouse


class Warehouse:
    """The repository of rows. Cheap to build; the engine (and its pool) is what is shared."""

    def __init__(self, engine: Engine, *, strategy: WriteStrategy | None = None) -> None:
        self._engine = engine
        self._dialect = engine.dialect.name
        self._strategy: WriteStrategy = strategy or write_strategy(self._dialect)

    @property
    def engine(self) -> Engine:
        return self._engine

    @contextlib.contextmanager
    def _transaction(self, action: str, *, write: bool = False) -> Iterator[Connection]:
        with translate_errors(action), self._engine.connect() as conn:
            if write:
                conn.execution_options(**{WRITE_OPTION: True})
            with conn.begin():
                yield conn

    def ping(self) -> None:
        """Raise TransientError unless the database answers."""
        with self._transaction("pinging") as conn:
            conn.execute(sa.select(sa.literal(1)))

    def write_batch(self, results: Sequence[IngestResult]) -> list[IngestResult]:
        """Record a batch of results in one transaction, idempotently; return them with the
        statuses the warehouse makes true (see the module's docstring).

        Round trips do not grow with the batch: one INSERT of images, one look-up (the images'
        first events and the events already recorded), one INSERT of renditions, one of events.
        """
        if not results:
            return []
        recorded_at = utcnow()
        first_of_image: dict[str, IngestResult] = {}
        for result in results:
            if result.manifest is not None:
                first_of_image.setdefault(str(result.manifest.image_id), result)
        event_ids = list(dict.fromkeys(r.event_id for r in results))
        image_rows = [_image_row(first_of_image[key]) for key in sorted(first_of_image)]

        with self._transaction("writing a batch", write=True) as conn:
            if self._strategy == "staging":
                conn.execute(staging_lock())
            # Images first: a concurrent writer of the same image waits on its key here, so
            # the look-up below sees who recorded it first.
            self._insert(conn, images, image_rows)
            lookup = self._lookup(conn, sorted(first_of_image), event_ids)
            decided = decide_statuses(results, lookup)

            batch_events = set(event_ids)
            owned = sorted(
                key for key, owner in lookup.first_event.items() if owner in batch_events
            )
            rendition_rows = [
                row
                for key in owned
                if key in first_of_image
                for row in _rendition_rows(first_of_image[key])
            ]
            self._insert(conn, renditions, rendition_rows)

            new_events: dict[str, dict[str, Any]] = {}
            for answer in decided:
                if answer.event_id not in lookup.recorded and answer.event_id not in new_events:
                    new_events[answer.event_id] = _event_row(answer, recorded_at)
            self._insert(conn, ingest_events, [new_events[k] for k in sorted(new_events)])
        return decided

    def _insert(self, conn: Connection, table: sa.Table, rows: Sequence[Mapping[str, Any]]) -> None:
        for step in batch_statements(self._strategy, table, rows):
            if isinstance(step, MultiRowInsert):
                for sql, params in step.render(conn.dialect):
                    conn.exec_driver_sql(sql, params)
            else:
                conn.execute(step)

    def _lookup(
        self, conn: Connection, image_ids: Sequence[str], event_ids: Sequence[str]
    ) -> _Lookup:
        first_event: dict[str, str] = {}
        recorded: dict[str, tuple[str, str | None]] = {}
        for statement in _lookup_statements(image_ids, event_ids, self._dialect):
            for kind, key, value, reason in conn.execute(statement):
                if kind == "i":
                    first_event[str(key).strip()] = value
                else:
                    recorded[key] = (value, reason)
        return _Lookup(first_event, recorded)

    def get_event(self, event_id: str) -> EventRecord | None:
        """The recorded event, or None."""
        with self._transaction("reading an event") as conn:
            row = conn.execute(
                sa.select(ingest_events).where(ingest_events.c.event_id == event_id)
            ).first()
        if row is None:
            return None
        m = row._mapping
        return EventRecord(
            event_id=m["event_id"],
            image_id=m["image_id"].strip() if m["image_id"] else None,
            customer_id=m["customer_id"],
            source=m["source"],
            status=m["status"],
            reason=m["reason"],
            format=m["format"],
            bytes_in=_int(m["bytes_in"]),
            bytes_out=_int(m["bytes_out"]),
            processing_ms=_float(m["processing_ms"]),
            received_at=m["received_at"],
            recorded_at=m["recorded_at"],
        )

    def get_event_status(self, event_id: str) -> Status | None:
        event = self.get_event(event_id)
        return event.status if event else None

    def list_images(
        self,
        customer_id: str,
        limit: int = 50,
        cursor: str | None = None,
        since: datetime | None = None,
    ) -> tuple[list[ImageRecord], str | None]:
        """A customer's images, oldest first, a page at a time: (page, cursor of the next
        page or None). Ordered by (first_seen_at, image_id), so pages neither skip nor repeat
        while images are added."""
        if not 1 <= limit <= 1000:
            raise PermanentError(ErrorCode.INVALID_REQUEST, "limit must be between 1 and 1000")
        query = sa.select(images).where(images.c.customer_id == customer_id)
        if since is not None:
            query = query.where(images.c.first_seen_at >= since)
        if cursor:
            seen, after_id = decode_cursor(cursor)
            query = query.where(
                sa.or_(
                    images.c.first_seen_at > seen,
                    sa.and_(images.c.first_seen_at == seen, images.c.image_id > after_id),
                )
            )
        query = query.order_by(images.c.first_seen_at, images.c.image_id).limit(limit + 1)
        with self._transaction("listing images") as conn:
            rows = conn.execute(query).all()
            page = rows[:limit]
            ids = [row.image_id for row in page]
            by_image: dict[str, list[RenditionRecord]] = {}
            if ids:
                for r in conn.execute(
                    sa.select(renditions)
                    .where(renditions.c.image_id.in_(ids))
                    .order_by(renditions.c.image_id, renditions.c.name)
                ):
                    by_image.setdefault(r.image_id.strip(), []).append(
                        RenditionRecord(
                            name=r.name,
                            width=r.width,
                            height=r.height,
                            bytes=_int(r.bytes),
                            content_type=r.content_type,
                            key=r.object_key,
                        )
                    )
        records = []
        for row in page:
            values = dict(row._mapping)
            values["image_id"] = values["image_id"].strip()
            values["bytes_in"] = _int(values["bytes_in"])
            records.append(
                ImageRecord(**values, renditions=tuple(by_image.get(values["image_id"], ())))
            )
        next_cursor = None
        if len(rows) > limit and records:
            last = records[-1]
            next_cursor = encode_cursor(last.first_seen_at, last.image_id)
        return records, next_cursor

    def stats(
        self,
        since: date | None = None,
        until: date | None = None,
        source: Source | None = None,
        customer_id: str | None = None,
        top_customers: int = 10,
    ) -> Stats:
        """The key statistics from the stats views. `since` and `until` are UTC days, both
        included; `customer_id` scopes every series to one customer."""
        if since is not None and until is not None and since > until:
            raise PermanentError(ErrorCode.INVALID_REQUEST, "`from` is after `to`")

        def scoped(view: sa.TableClause, *, all_customers_row: bool = False) -> Any:
            conditions: list[Any] = []
            if since is not None:
                conditions.append(view.c.day >= since)
            if until is not None:
                conditions.append(view.c.day <= until)
            if source is not None:
                conditions.append(view.c.source == source)
            if customer_id is not None:
                conditions.append(view.c.customer_id == customer_id)
            elif all_customers_row:
                conditions.append(view.c.customer_id.is_(None))
            return sa.and_(sa.true(), *conditions)

        d = view_table(STATS_DAILY)
        lat = view_table(STATS_LATENCY_DAILY)
        rej = view_table(STATS_REJECTIONS_DAILY)
        fmt = view_table(STATS_FORMATS_DAILY)
        cus = view_table(STATS_CUSTOMERS_DAILY)
        s = sa.func.sum

        with self._transaction("reading statistics") as conn:
            daily_rows = conn.execute(
                sa.select(
                    d.c.day,
                    d.c.source,
                    d.c.status,
                    s(d.c.events),
                    s(d.c.images),
                    s(d.c.bytes_in),
                    s(d.c.bytes_out),
                    s(d.c.processing_ms_total),
                )
                .where(scoped(d))
                .group_by(d.c.day, d.c.source, d.c.status)
                .order_by(d.c.day, d.c.source, d.c.status)
            ).all()
            latency_rows = conn.execute(
                sa.select(
                    lat.c.day,
                    lat.c.source,
                    lat.c.events,
                    lat.c.p50_ms,
                    lat.c.p95_ms,
                    lat.c.max_ms,
                )
                .where(scoped(lat, all_customers_row=True))
                .order_by(lat.c.day, lat.c.source)
            ).all()
            rejection_rows = conn.execute(
                sa.select(rej.c.day, rej.c.source, rej.c.reason, s(rej.c.events))
                .where(scoped(rej))
                .group_by(rej.c.day, rej.c.source, rej.c.reason)
                .order_by(rej.c.day, rej.c.source, rej.c.reason)
            ).all()
            format_events = s(fmt.c.events)
            format_rows = conn.execute(
                sa.select(
                    fmt.c.format,
                    format_events,
                    s(fmt.c.new_images),
                    s(fmt.c.bytes_in),
                    s(fmt.c.bytes_out),
                )
                .where(scoped(fmt))
                .group_by(fmt.c.format)
                .order_by(format_events.desc(), fmt.c.format)
            ).all()
            customer_events = s(cus.c.events)
            customer_bytes = s(cus.c.bytes_in)
            customer_rows = conn.execute(
                sa.select(
                    cus.c.customer_id,
                    customer_events,
                    s(cus.c.processed),
                    s(cus.c.duplicates),
                    s(cus.c.rejected),
                    customer_bytes,
                    s(cus.c.bytes_out),
                )
                .where(scoped(cus))
                .group_by(cus.c.customer_id)
                .order_by(customer_events.desc(), customer_bytes.desc(), cus.c.customer_id)
                .limit(max(1, top_customers))
            ).all()

        daily = tuple(
            DailyVolume(
                day=_day_of(r[0]),
                source=r[1],
                status=r[2],
                events=_int(r[3]),
                images=_int(r[4]),
                bytes_in=_int(r[5]),
                bytes_out=_int(r[6]),
                processing_ms_total=_float(r[7]),
            )
            for r in daily_rows
        )
        rejections = tuple(
            DailyRejections(day=_day_of(r[0]), source=r[1], reason=r[2] or "", events=_int(r[3]))
            for r in rejection_rows
        )
        return Stats(
            since=since,
            until=until,
            source=source,
            customer_id=customer_id,
            totals=_totals(daily, rejections),
            daily=daily,
            latency=tuple(
                DailyLatency(
                    day=_day_of(r[0]),
                    source=r[1],
                    events=_int(r[2]),
                    p50_ms=_float(r[3]),
                    p95_ms=_float(r[4]),
                    max_ms=_float(r[5]),
                )
                for r in latency_rows
            ),
            rejections=rejections,
            formats=tuple(
                FormatShare(
                    format=r[0] or "",
                    events=_int(r[1]),
                    new_images=_int(r[2]),
                    bytes_in=_int(r[3]),
                    bytes_out=_int(r[4]),
                )
                for r in format_rows
            ),
            customers=tuple(
                CustomerVolume(
                    customer_id=r[0],
                    events=_int(r[1]),
                    processed=_int(r[2]),
                    duplicates=_int(r[3]),
                    rejected=_int(r[4]),
                    bytes_in=_int(r[5]),
                    bytes_out=_int(r[6]),
                )
                for r in customer_rows
            ),
        )


def _totals(daily: Iterable[DailyVolume], rejections: Iterable[DailyRejections]) -> Totals:
    by_status: dict[str, int] = {}
    bytes_in = bytes_out = 0
    processed_in = processed_out = 0
    processed_ms = 0.0
    for row in daily:
        by_status[row.status] = by_status.get(row.status, 0) + row.events
        bytes_in += row.bytes_in
        bytes_out += row.bytes_out
        if row.status == "processed":
            processed_in += row.bytes_in
            processed_out += row.bytes_out
            processed_ms += row.processing_ms_total
    reasons: dict[str, int] = {}
    for rejection in rejections:
        reasons[rejection.reason] = reasons.get(rejection.reason, 0) + rejection.events
    processed = by_status.get("processed", 0)
    return Totals(
        events=sum(by_status.values()),
        processed=processed,
        duplicates=by_status.get("duplicate", 0),
        rejected=by_status.get("rejected", 0),
        bytes_in=bytes_in,
        bytes_out=bytes_out,
        output_ratio=processed_out / processed_in if processed_in else None,
        mean_processing_ms=processed_ms / processed if processed else None,
        rejections_by_reason=dict(sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))),
    )


# ---------------------------------------------------------------------------------------------
# Engines


def redacted_url(url: str) -> str:
    """The URL with its password hidden, for messages."""
    return make_url(url).render_as_string(hide_password=True)


def _on_lambda() -> bool:
    from core.config import running_on_lambda

    return running_on_lambda()


def create_warehouse_engine(url: str) -> Engine:
    """A new engine for `url`, set up for imgpipe: short connect timeout, pre-ping, a small
    pool (one connection per Lambda container), and on SQLite WAL, a busy timeout and real
    transactions (BEGIN IMMEDIATE for writers)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed)
    connect_args: dict[str, Any] = {}
    driver = parsed.get_driver_name()
    if driver in {"psycopg", "psycopg2", "psycopg2cffi"}:
        # A server that vanishes without a reset (a failover, a dropped route) would hold a
        # connection for the kernel's retransmission time, some 15 minutes: keepalives find
        # an idle one dead within a minute, the user timeout one waiting on unacknowledged
        # data within 30 s. A long query is unaffected: a live server acknowledges both.
        connect_args.update(
            connect_timeout=5,
            keepalives=1,
            keepalives_idle=30,
            keepalives_interval=10,
            keepalives_count=3,
            tcp_user_timeout=30_000,
        )
    # redshift_connector's `timeout` also bounds every read, so long queries keep its default.
    lambda_pool = _on_lambda()
    engine = sa.create_engine(
        parsed,
        connect_args=connect_args,
        pool_pre_ping=True,
        pool_size=1 if lambda_pool else 4,
        max_overflow=1 if lambda_pool else 4,
        pool_timeout=5,
        pool_recycle=300,  # under NAT gateways' and proxies' idle timeouts
    )
    without_returning(engine.dialect)
    return engine


def _sqlite_engine(url: sa.URL) -> Engine:
    database = url.database or ""
    memory = database in {"", ":memory:"} or database.startswith("file::memory:")
    if not memory:
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(
        url,
        connect_args={"timeout": 15, "check_same_thread": False},
        poolclass=sa.StaticPool if memory else sa.QueuePool,
    )

    @sa_event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        # The driver's own implicit transactions cover DML only; BEGIN is issued below, so
        # migrations are atomic and writers can take the write lock up front.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        if not memory:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=15000")
        cursor.close()

    @sa_event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        write = conn.get_execution_options().get(WRITE_OPTION)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


_engines: dict[str, Engine] = {}
_migrated: set[str] = set()
_engines_lock = threading.Lock()


def engine_for(url: str) -> Engine:
    """The process's engine for `url`, created on first use (Lambda keeps it warm)."""
    with _engines_lock:
        engine = _engines.get(url)
        if engine is None:
            engine = _engines[url] = create_warehouse_engine(url)
        return engine


def open_warehouse(settings: Settings | None = None) -> Warehouse:
    """The warehouse named by `settings.database_url`. A SQLite database (the embedded
    default) is migrated on first use, so `make run` needs no set-up; PostgreSQL and Redshift
    are migrated on purpose, with `imgpipe db upgrade`."""
    if settings is None:
        from core.config import get_settings

        settings = get_settings()
    url = settings.database_url
    engine = engine_for(url)
    if engine.dialect.name == "sqlite" and url not in _migrated:
        with _engines_lock:
            if url not in _migrated:
                from core.repository.migrations import at_head, upgrade

                with translate_errors("migrating the embedded database"):
                    if not at_head(engine):
                        upgrade(engine)
                _migrated.add(url)
    return Warehouse(engine)
