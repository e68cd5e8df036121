"""Tables: images, renditions, ingest_events (with Redshift distribution, sort keys, encodings).

Revision ID: 0001
Revises:
Create Date: 2025-01-01

The tables are written out here rather than taken from core.repository.warehouse, so that
this step stays what it was when later ones change the schema; a test checks that the
migrated schema and the application's tables agree.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _indexes_supported() -> bool:
    return op.get_context().dialect.name != "redshift"  # Redshift has no indexes


def upgrade() -> None:
    op.create_table(
        "images",
        sa.Column("image_id", sa.CHAR(36), nullable=False, redshift_encode="zstd"),
        sa.Column("customer_id", sa.String(128), nullable=False, redshift_encode="zstd"),
        sa.Column("sha256", sa.CHAR(64), nullable=False, redshift_encode="zstd"),
        sa.Column("phash", sa.CHAR(16), nullable=False, redshift_encode="zstd"),
        sa.Column("format", sa.String(16), nullable=False, redshift_encode="bytedict"),
        sa.Column("mode", sa.String(16), nullable=False, redshift_encode="bytedict"),
        sa.Column("width", sa.Integer, nullable=False, redshift_encode="az64"),
        sa.Column("height", sa.Integer, nullable=False, redshift_encode="az64"),
        sa.Column("frames", sa.Integer, nullable=False, redshift_encode="az64"),
        sa.Column("bytes_in", sa.BigInteger, nullable=False, redshift_encode="az64"),
        sa.Column("has_alpha", sa.Boolean, nullable=False, redshift_encode="raw"),
        sa.Column("camera_make", sa.String(128), nullable=True, redshift_encode="zstd"),
        sa.Column("camera_model", sa.String(128), nullable=True, redshift_encode="zstd"),
        sa.Column("taken_at", sa.DateTime(timezone=True), nullable=True, redshift_encode="az64"),
        sa.Column("has_gps", sa.Boolean, nullable=False, redshift_encode="raw"),
        sa.Column(
            "first_seen_at", sa.DateTime(timezone=True), nullable=False, redshift_encode="raw"
        ),
        sa.Column("first_event_id", sa.String(512), nullable=False, redshift_encode="zstd"),
        sa.PrimaryKeyConstraint("image_id", name="pk_images"),
        redshift_diststyle="KEY",
        redshift_distkey="image_id",
        redshift_sortkey="first_seen_at",
    )
    op.create_table(
        "renditions",
        sa.Column("image_id", sa.CHAR(36), nullable=False, redshift_encode="raw"),
        sa.Column("name", sa.String(32), nullable=False, redshift_encode="bytedict"),
        sa.Column("width", sa.Integer, nullable=False, redshift_encode="az64"),
        sa.Column("height", sa.Integer, nullable=False, redshift_encode="az64"),
        sa.Column("bytes", sa.BigInteger, nullable=False, redshift_encode="az64"),
        sa.Column("content_type", sa.String(64), nullable=False, redshift_encode="bytedict"),
        sa.Column("object_key", sa.String(512), nullable=False, redshift_encode="zstd"),
        sa.PrimaryKeyConstraint("image_id", "name", name="pk_renditions"),
        redshift_diststyle="KEY",
        redshift_distkey="image_id",
        redshift_sortkey="image_id",
    )
    op.create_table(
        "ingest_events",
        sa.Column("event_id", sa.String(512), nullable=False, redshift_encode="zstd"),
        sa.Column("image_id", sa.CHAR(36), nullable=True, redshift_encode="zstd"),
        sa.Column("customer_id", sa.String(128), nullable=False, redshift_encode="zstd"),
        sa.Column("source", sa.String(16), nullable=False, redshift_encode="bytedict"),
        sa.Column("status", sa.String(16), nullable=False, redshift_encode="bytedict"),
        sa.Column("reason", sa.String(64), nullable=True, redshift_encode="bytedict"),
        sa.Column("format", sa.String(16), nullable=True, redshift_encode="bytedict"),
        sa.Column("bytes_in", sa.BigInteger, nullable=False, redshift_encode="az64"),
        sa.Column("bytes_out", sa.BigInteger, nullable=False, redshift_encode="az64"),
        sa.Column("processing_ms", sa.Float, nullable=False, redshift_encode="zstd"),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False, redshift_encode="raw"),
        sa.Column(
            "recorded_at", sa.DateTime(timezone=True), nullable=False, redshift_encode="az64"
        ),
        sa.PrimaryKeyConstraint("event_id", name="pk_ingest_events"),
        redshift_diststyle="EVEN",
        redshift_sortkey="received_at",
    )
    if _indexes_supported():
        op.create_index(
            "ix_images_customer_seen", "images", ["customer_id", "first_seen_at", "image_id"]
        )
        op.create_index("ix_ingest_events_received", "ingest_events", ["received_at"])
        op.create_index(
            "ix_ingest_events_customer_received", "ingest_events", ["customer_id", "received_at"]
        )


def downgrade() -> None:
    if _indexes_supported():
        op.drop_index("ix_ingest_events_customer_received", table_name="ingest_events")
        op.drop_index("ix_ingest_events_received", table_name="ingest_events")
        op.drop_index("ix_images_customer_seen", table_name="images")
    op.drop_table("ingest_events")
    op.drop_table("renditions")
    op.drop_table("images")
