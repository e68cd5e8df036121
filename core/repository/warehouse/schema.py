"""The warehouse's tables, their Redshift layout, and the staging shape the loader fills.

Timestamps are stored as UTC and come back timezone-aware on every database. Redshift enforces
no primary or unique key: the keys declared here are what the loader keeps unique itself.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

from core.models import MAX_CUSTOMER_ID_BYTES, MAX_EVENT_ID_BYTES


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

# "kind:" and 64 hex digits of a content hash; a ThumbHash is at most 25 bytes, 36 in base64.
CONTENT_HASH_BYTES: Final = 80
THUMBHASH_BYTES: Final = 64

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
    # The event that first stored the image: the one whose status is `processed`.
    sa.Column("first_event_id", sa.String(MAX_EVENT_ID_BYTES), nullable=False, **ZSTD),
    # From migration 0004: null on images loaded before it. "kind:hex", blind to metadata.
    sa.Column("content_sha256", sa.String(CONTENT_HASH_BYTES), nullable=True, **ZSTD),
    sa.Column("thumbhash", sa.String(THUMBHASH_BYTES), nullable=True, **ZSTD),
    sa.Column("dominant_color", sa.String(7), nullable=True, **ZSTD),  # "#rrggbb"
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
    # When ingest recorded the outcome (wrote its fact), not when the loader loaded it.
    sa.Column("recorded_at", UtcDateTime, nullable=False, **AZ64),
    # A duplicate's: "exact" (same bytes) or "content" (same picture), and the image it is.
    sa.Column("match", sa.String(16), nullable=True, **DICT),
    sa.Column("duplicate_of", sa.CHAR(36), nullable=True, **ZSTD),
    sa.PrimaryKeyConstraint("event_id", name="pk_ingest_events"),
    sa.Index("ix_ingest_events_received", "received_at"),
    sa.Index("ix_ingest_events_customer_received", "customer_id", "received_at"),
    # EVEN, not KEY(image_id): refused events have no image and would pile onto one slice;
    # the views read this table alone (the format is denormalised onto it).
    info={"redshift": {"diststyle": "EVEN", "sortkey": "received_at"}},
)

# Which stored images were erased (the id, and the event that stored it) and when: their image
# rows and the events received up to then are removed or unlinked whenever they are loaded; a
# row of the same id stored by another event, or received later, is the same bytes uploaded
# again, a new image. One row per stored image an erasure met. Small: on every node.
erasures = sa.Table(
    "erasures",
    metadata,
    sa.Column("erasure_id", sa.String(64), nullable=False, **ZSTD),
    sa.Column("image_id", sa.CHAR(36), nullable=False, **ZSTD),
    sa.Column("customer_id", sa.String(MAX_CUSTOMER_ID_BYTES), nullable=False, **ZSTD),
    sa.Column("first_event_id", sa.String(MAX_EVENT_ID_BYTES), nullable=False, **ZSTD),
    sa.Column("recorded_at", UtcDateTime, nullable=False, **RAW),
    sa.PrimaryKeyConstraint("erasure_id", "first_event_id", name="pk_erasures"),
    info={"redshift": {"diststyle": "ALL", "sortkey": "recorded_at"}},
)

# Which fact objects are in the warehouse: the loader's exactly-once ledger.
loaded_facts = sa.Table(
    "loaded_facts",
    metadata,
    sa.Column("fact_key", sa.String(512), nullable=False, **RAW),
    sa.Column("load_id", sa.CHAR(26), nullable=False, **ZSTD),
    sa.Column("rows", sa.Integer, nullable=False, **AZ64),
    sa.Column("bytes", sa.BigInteger, nullable=False, **AZ64),
    sa.Column("loaded_at", UtcDateTime, nullable=False, **AZ64),
    sa.PrimaryKeyConstraint("fact_key", name="pk_loaded_facts"),
    info={"redshift": {"diststyle": "EVEN", "sortkey": "fact_key"}},
)

# The tables a fact row of each kind lands in, and the columns that make a row unique.
FACT_TABLES: Final[dict[str, sa.Table]] = {
    "image": images,
    "rendition": renditions,
    "event": ingest_events,
    "erasure": erasures,
}


def staging_columns() -> list[sa.Column[Any]]:
    """One nullable column per distinct column name of the fact tables (the first table's
    type wins; shared names have one type), after the row's `kind`: every fact row fits."""
    columns: dict[str, sa.Column[Any]] = {"kind": sa.Column("kind", sa.String(16))}
    for table in FACT_TABLES.values():
        for column in table.columns:
            columns.setdefault(column.name, sa.Column(column.name, column.type, nullable=True))
    return list(columns.values())


STAGE_NAME: Final = "stage_facts"


def staging_table() -> sa.Table:
    """The loader's temporary table, on a MetaData of its own (never migrated)."""
    return sa.Table(STAGE_NAME, sa.MetaData(), *staging_columns(), prefixes=["TEMPORARY"])


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


def without_returning(dialect: Dialect) -> Dialect:
    """Make a Redshift dialect never emit RETURNING (it inherits PostgreSQL's, which Redshift
    refuses, e.g. in Alembic's INSERT INTO alembic_version)."""
    if dialect.name == "redshift":
        dialect.insert_returning = False
        dialect.update_returning = False
        dialect.delete_returning = False
        dialect.insert_executemany_returning = False
    return dialect
